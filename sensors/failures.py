"""Alerts on failed runs and on failed blocking asset checks (which stop downstream steps but do not
fail the run, so a run-failure sensor alone never sees them).

The sensor reads the runs that ended since its cursor from Dagster's own records, one alert per
(rule, job or check with its partitions, Beijing day): a retry or the next near-real-time run failing
the same way the same day sends nothing new. Dagster's `run_failure_sensor` advances its cursor even
when its function fails, which would lose the alert when the warehouse holding `ops_alerts` is busy;
this sensor moves its own cursor only after delivery was recorded.
"""

import json
from datetime import datetime, timedelta

import dagster as dg

from qeasy.alerts.rules import CHECK_FAILED, RUN_FAILED, Alert
from qeasy.erp.times import BEIJING
from qeasy.events import blocked
from qeasy.warehouse.clickhouse import WarehouseBusy
from resources.alerting import AlertingResource
from resources.clickhouse import ClickHouseResource
from sensors.metrics import WAIT_SECONDS

ENDINGS = (dg.DagsterEventType.RUN_SUCCESS, dg.DagsterEventType.RUN_FAILURE)
BATCH = 100
MAX_AGE = timedelta(days=1)  # a first start does not page about last month's failures
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


def partitions(run: dg.DagsterRun) -> str:
    """The run's partition or partition range, as an operator reads it ('' when unpartitioned)."""
    tags = run.tags
    if RANGE_START in tags:
        first, last = tags[RANGE_START], tags[RANGE_END]
        return first if first == last else f"{first}..{last}"
    return tags.get("dagster/partition", "")


def _innermost(error) -> str:
    while error.cause is not None:
        error = error.cause
    return " ".join((error.message or "").split())[:300]


def run_alerts(instance: dg.DagsterInstance, run: dg.DagsterRun, ended: datetime) -> list[Alert]:
    """The alerts one ended run raises: each failed blocking check, and the run itself if it failed."""
    day, scope = ended.astimezone(BEIJING).date(), partitions(run)
    alerts, failed_checks, reason = [], [], ""
    for entry in instance.all_logs(run.run_id, of_type={dg.DagsterEventType.ASSET_CHECK_EVALUATION,
                                                         dg.DagsterEventType.STEP_FAILURE,
                                                         dg.DagsterEventType.RUN_FAILURE}):
        event = entry.dagster_event
        if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            check = event.event_specific_data
            if not blocked(check):
                continue
            name = f"{check.asset_key.to_user_string()}.{check.check_name}"
            failed_checks.append(name)
            facts = ", ".join(f"{key} {value.value}" for key, value in list(check.metadata.items())[:3])
            subject = f"{name} {check.partition or scope}".strip()
            alerts.append(Alert(CHECK_FAILED, subject, None, day, 0.0, 0.0, "check",
                                detail=f"run {run.run_id[:8]} of {run.job_name}: downstream steps "
                                f"skipped{'; ' + facts if facts else ''}"))
        elif event.event_type == dg.DagsterEventType.STEP_FAILURE and not reason:
            error = event.step_failure_data.error if event.step_failure_data else None
            reason = f"{event.step_key}: {_innermost(error)}" if error else event.step_key or ""
        elif event.event_type == dg.DagsterEventType.RUN_FAILURE and not reason:
            reason = " ".join((entry.message or "").split())[:300]
    if run.status == dg.DagsterRunStatus.FAILURE:
        checks = f"; failed checks: {', '.join(failed_checks)}" if failed_checks else ""
        alerts.append(Alert(RUN_FAILED, f"{run.job_name} {scope}".strip(), None, day, 0.0, 0.0, "run",
                            detail=f"run {run.run_id[:8]}: {reason or 'failed'}{checks}"))
    return alerts


@dg.sensor(minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Failed runs and failed blocking checks to Feishu / DingTalk, once per day each.")
def failure_alerts(context: dg.SensorEvaluationContext, warehouse: ClickHouseResource,
                   alerting: AlertingResource):
    cursors = json.loads(context.cursor) if context.cursor else {}
    alerts, moved = [], {}
    for ending in ENDINGS:
        found = context.instance.fetch_run_status_changes(
            ending, limit=BATCH, cursor=cursors.get(ending.value), ascending=True)
        for record in found.records:
            ended = datetime.fromtimestamp(record.timestamp, BEIJING)
            run = context.instance.get_run_by_id(record.run_id)
            if run is not None and ended > datetime.now(BEIJING) - MAX_AGE:
                alerts += run_alerts(context.instance, run, ended)
        if found.records:
            moved[ending.value] = found.cursor
    if not alerts:
        context.update_cursor(json.dumps(cursors | moved))
        return dg.SkipReason("no failed run or blocking check since the last tick")
    try:
        with warehouse.session(wait=WAIT_SECONDS) as client:
            report = alerting.deliver(client, alerts, retry_failed=False)  # metric_alerts retries
    except WarehouseBusy as exc:
        return dg.SkipReason(f"{exc}; trying again next tick")
    context.update_cursor(json.dumps(cursors | moved))
    return dg.SkipReason(f"{len(alerts)} alert(s): {report.sent} sent, {report.skipped} already sent, "
                         f"{report.failed} failed (retried by metric_alerts)")
