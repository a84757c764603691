"""Schedules, all in Beijing time: the near-real-time pull of today every minute and the daily
T-1 refresh. (The shop list refreshes by declarative automation: see `qeasy_assets/ods/assets.py`.)"""

from datetime import datetime, timedelta

import dagster as dg

from jobs import main_job, nrt_job
from qeasy.erp.times import BEIJING

TIMEZONE = "Asia/Shanghai"
BUSY = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
        dg.DagsterRunStatus.STARTED]


def _beijing_day(context: dg.ScheduleEvaluationContext) -> datetime:
    when = context.scheduled_execution_time or datetime.now(BEIJING)
    return when.astimezone(BEIJING)


@dg.schedule(job=nrt_job, cron_schedule="* * * * *", execution_timezone=TIMEZONE,
             default_status=dg.DefaultScheduleStatus.RUNNING,
             description="Every minute: today's changes from the ERP into the metrics (target: within 60 s).")
def nrt_every_minute(context: dg.ScheduleEvaluationContext):
    """Today's partition, unless the previous near-real-time run is still queued or running: runs
    would only pile up behind it, and the next one reads everything it would have."""
    busy = context.instance.get_run_records(
        dg.RunsFilter(job_name=nrt_job.name, statuses=BUSY), limit=1)
    if busy:
        return dg.SkipReason(f"near-real-time run {busy[0].dagster_run.run_id} is still "
                             f"{busy[0].dagster_run.status.value.lower()}")
    return dg.RunRequest(partition_key=_beijing_day(context).date().isoformat())


@dg.schedule(job=main_job, cron_schedule="30 1 * * *", execution_timezone=TIMEZONE,
             default_status=dg.DefaultScheduleStatus.RUNNING,
             description="01:30 daily: re-pull yesterday whole (T-1) and rebuild what it changed.")
def daily_refresh(context: dg.ScheduleEvaluationContext):
    """Yesterday read whole: late edits the near-real-time pull's overlap did not reach are caught here."""
    yesterday = (_beijing_day(context) - timedelta(days=1)).date().isoformat()
    return dg.RunRequest(run_key=f"daily-{yesterday}", partition_key=yesterday)


schedules = [nrt_every_minute, daily_refresh]
