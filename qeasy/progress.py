"""Progress of a `qeasy run` while it works: a line when a step starts, one when it ends (time, rows,
partitions, checks), failed checks and step failures as they happen, and the assets' own progress
messages. A Dagster logger that only the run config of `qeasy run` selects (`runner.run_job`); runs
from the UI and the daemon keep Dagster's own logs."""

import logging
import sys
from dataclasses import dataclass, field
from datetime import datetime

import dagster as dg

from qeasy.events import blocked, cause


@dataclass
class _Step:
    started: float
    partitions: dict[str, set[str]] = field(default_factory=dict)  # asset -> partitions materialised
    rows: dict[str, int] = field(default_factory=dict)  # asset -> rows (the run's figure)
    checks: dict[str, list[bool]] = field(default_factory=dict)  # asset -> outcomes


class ProgressHandler(logging.Handler):
    """Turns a run's events into progress lines on standard output."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)  # Dagster logs its step events at DEBUG
        self.steps: dict[str, _Step] = {}

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._emit(record)
        except Exception:  # a progress line is never worth failing the run over
            self.handleError(record)

    def _emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None)
        if meta is None:
            return
        event: dg.DagsterEvent | None = meta.get("dagster_event")
        step = meta.get("step_key")
        if event is None:  # a message of an asset or of Dagster: "staged 3/7 day(s), ..."
            if record.levelno >= logging.INFO:
                level = "" if record.levelno == logging.INFO else f"{record.levelname.lower()}: "
                self._print(record, f"{step or meta.get('job_name')}: {level}{meta['orig_message']}")
            return
        line = self._line(step, event, record.created) if step else (
            f"run failed: {event.message}" if event.event_type == dg.DagsterEventType.RUN_FAILURE else None)
        if line:
            self._print(record, line)

    def _line(self, step: str, event: dg.DagsterEvent, now: float) -> str | None:
        if event.is_step_start:
            self.steps[step] = _Step(now)
            return f"{step}: started"
        state = self.steps.setdefault(step, _Step(now))
        if event.is_step_materialization:
            materialization = event.step_materialization_data.materialization
            asset = materialization.asset_key.to_user_string()
            state.partitions.setdefault(asset, set()).update(filter(None, [event.partition]))
            rows = materialization.metadata.get("rows")
            if rows is not None:
                state.rows[asset] = rows.value
            return None
        if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.asset_check_evaluation_data
            asset = evaluation.asset_key.to_user_string()
            state.checks.setdefault(asset, []).append(evaluation.passed)
            if evaluation.passed:
                return None
            name = f"{asset}: check {evaluation.check_name}"
            return f"{name} FAILED (blocking: downstream steps will not run)" if blocked(evaluation) else (
                f"{name} warned")
        took = f"{now - state.started:.1f} s"
        if event.is_step_success:
            if list(state.partitions) == [step]:  # one asset: its figures on the same line
                return f"{step}: done in {took}: {self._figures(state, step)}"
            return f"{step}: done in {took}" + "".join(
                f"\n{'':12}{asset}: {self._figures(state, asset)}" for asset in state.partitions)
        if event.is_step_failure:
            error = event.step_failure_data.error
            return f"{step}: FAILED after {took}: {cause(error) if error else 'no error recorded'}"
        return None

    @staticmethod
    def _figures(state: _Step, asset: str) -> str:
        parts = []
        if asset in state.rows:
            parts.append(f"{state.rows[asset]:,} rows")
        count = len(state.partitions[asset])
        if count:  # none for the assets that are not partitioned
            parts.append(f"{count} partition{'s' if count != 1 else ''}")
        outcomes = state.checks.get(asset, [])
        if outcomes:
            parts.append(f"checks {sum(outcomes)}/{len(outcomes)} passed")
        return ", ".join(parts)

    @staticmethod
    def _print(record: logging.LogRecord, line: str) -> None:
        print(f"  {datetime.fromtimestamp(record.created):%H:%M:%S}  {line}", file=sys.stdout, flush=True)


@dg.logger(description="Progress lines for `qeasy run`: per step, with rows, partitions and checks.")
def progress(init_context: dg.InitLoggerContext) -> logging.Logger:
    log = logging.Logger("qeasy.progress", logging.DEBUG)  # not registered: one per run, no sharing
    log.addHandler(ProgressHandler())
    return log
