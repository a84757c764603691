"""The daily T-1 refresh, in Beijing time. (Today is kept fresh by the `near_real_time` sensor and the
shop list by declarative automation: see `sensors/nrt.py` and `qeasy_assets/ods/assets.py`.) The daily
push's schedule depends on QEASY_PUSH_AT: `push_schedule` in `jobs/push.py`, added by the definitions."""

from datetime import datetime, timedelta

import dagster as dg

from jobs import main_job
from qeasy.erp.times import BEIJING
from qeasy_assets.partitions import FIRST_DAY


@dg.schedule(job=main_job, cron_schedule="30 1 * * *", execution_timezone="Asia/Shanghai",
             default_status=dg.DefaultScheduleStatus.RUNNING,
             description="01:30 daily: re-pull yesterday whole (T-1) and rebuild what it changed.")
def daily_refresh(context: dg.ScheduleEvaluationContext):
    """Yesterday read whole: late edits the near-real-time pull's overlap did not reach are caught here."""
    when = (context.scheduled_execution_time or datetime.now(BEIJING)).astimezone(BEIJING)
    yesterday = (when - timedelta(days=1)).date()
    if yesterday < FIRST_DAY:  # history starts today: no partition for yesterday
        return dg.SkipReason(f"{yesterday} is before the first day of history {FIRST_DAY}")
    return dg.RunRequest(run_key=f"daily-{yesterday}", partition_key=yesterday.isoformat())


schedules = [daily_refresh]
