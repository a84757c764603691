"""Running the Dagster jobs in this process for the `qeasy` command, on a persistent instance."""

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg

from qeasy.dead_runs import fail_dead_runs
from qeasy.events import blocked, cause

# Run monitoring fails runs stuck starting and runs over their `dagster/max_runtime` tag (the nrt
# job has one); runs whose process died are failed by `qeasy.dead_runs`. The queue is read every
# second, not every 5 s, since a near-real-time run waits in it for every change.
DAGSTER_YAML = """telemetry:
  enabled: false
run_queue:
  dequeue_interval_seconds: 1
  tag_concurrency_limits:
    - key: qeasy/staging
      limit: 1
run_monitoring:
  enabled: true
  start_timeout_seconds: 180
  poll_interval_seconds: 30
"""
EARLIER_DEFAULTS = ["""telemetry:
  enabled: false
run_queue:
  tag_concurrency_limits:
    - key: qeasy/staging
      limit: 1
""", """telemetry:
  enabled: false
run_queue:
  tag_concurrency_limits:
    - key: qeasy/staging
      limit: 1
run_monitoring:
  enabled: true
  start_timeout_seconds: 180
  poll_interval_seconds: 30
"""]  # homes made by earlier versions get the current default (edited files are left alone)
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


def dagster_home(home: Path) -> Path:
    """DAGSTER_HOME, or $QEASY_HOME/dagster when that is unset: created with telemetry off and a run
    queue that lets one staging writer run at a time (jobs tag them: `jobs.STAGING`)."""
    if os.environ.get("DAGSTER_HOME"):
        return Path(os.environ["DAGSTER_HOME"])
    path = home / "dagster"
    path.mkdir(parents=True, exist_ok=True)
    config = path / "dagster.yaml"
    if not config.exists() or config.read_text() in EARLIER_DEFAULTS:
        config.write_text(DAGSTER_YAML)
    return path


def instance_for(home: Path) -> dg.DagsterInstance:
    """The persistent Dagster instance, so that runs made from the command line show in the UI;
    runs a killed process left behind are failed first (`qeasy.dead_runs`)."""
    # From its directory, not by setting DAGSTER_HOME: a process that serves several homes (the
    # tests) must not have the first one's instance leak into the next's.
    instance = dg.DagsterInstance.from_config(str(dagster_home(home)))
    for run_id in fail_dead_runs(instance):
        print(f"  an earlier run's process is gone: run {run_id} marked failed", flush=True)
    return instance


@dataclass
class StepReport:
    asset: str
    metadata: dict
    checks: dict[str, bool]  # check name -> passed
    blocking_failed: list[str]  # failed checks of ERROR severity: they block downstream steps


@dataclass
class RunReport:
    success: bool
    steps: list[StepReport]
    failure: str | None


def run_job(defs: dg.Definitions, job: str, instance: dg.DagsterInstance, first: date | None = None,
            last: date | None = None, assets: list[str] | None = None) -> RunReport:
    """Execute one job (over a Beijing day range when it is partitioned) and summarise it."""
    tags = {RANGE_START: str(first), RANGE_END: str(last)} if first else {}
    selection = [dg.AssetKey(name) for name in assets] if assets else None
    # Only the progress lines (qeasy.progress, warnings and errors among them), not Dagster's console.
    loggers = {"loggers": {"progress": {}}}
    job_def = defs.resolve_job_def(job)
    # A run config replaces the job's own (the near-real-time job's pull settings): keep that part.
    own = (job_def.partitioned_config.get_run_config_for_partition_key(str(first))
           if first and job_def.partitioned_config else {})
    result = job_def.execute_in_process(run_config={**own, **loggers}, instance=instance, tags=tags,
                                        raise_on_error=False, asset_selection=selection)
    checks: dict[str, dict[str, bool]] = {}
    blocking: dict[str, list[str]] = {}
    for evaluation in result.get_asset_check_evaluations():
        asset = evaluation.asset_key.to_user_string()
        checks.setdefault(asset, {})[evaluation.check_name] = evaluation.passed
        if blocked(evaluation):
            blocking.setdefault(asset, []).append(evaluation.check_name)
    steps, seen = [], set()
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        name = materialization.asset_key.to_user_string()
        if name in seen:  # one event per partition of a range; the figures are the run's
            continue
        seen.add(name)
        metadata = {key: value.value for key, value in materialization.metadata.items()}
        steps.append(StepReport(name, metadata, checks.get(name, {}), blocking.get(name, [])))
    return RunReport(result.success, steps, None if result.success else _failure(result))


def _failure(result: dg.ExecuteInProcessResult) -> str:
    """The innermost message of the first failed step: the cause a person can act on."""
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
            return cause(event.step_failure_data.error)
    return "the run failed"
