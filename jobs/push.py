"""The daily push (screens.md, 每日 08:30): the job `push` and the schedule `daily_push`.

The schedule fires at QEASY_PUSH_AT (default 08:30, Beijing) and asks for one run of `push` for the
previous Beijing day D, with the run key `push-{D}`: Dagster never launches a second run for a key
it has seen, and `ops_pushes` keeps a channel that got D's message from getting it again whatever
runs there are (retries, re-executions, manual launches).

Catch-up, as Dagster 1.13's scheduler does it (dagster/_scheduler/scheduler.py): after a restart the
daemon evaluates the ticks due since it last checked the schedule (its state records when, at least
hourly, and from when it first saw the schedule: ticks before that are never evaluated). For a
schedule without partitions, like this one, only the latest due tick is evaluated whatever
`scheduler.config.max_catchup_runs` says (that setting is for partitioned schedules), so qeasy's
dagster.yaml and deploy/dagster.yaml need nothing beyond the default scheduler. A daemon down at
08:30 and back at 09:10 thus pushes D once. A daemon off for days pushes only the latest due day:
the latest tick is evaluated, and a tick from an earlier Beijing day than now is skipped (yesterday's
summary is not sent a day late, and today's tick, still ahead, sends the next one).
"""

from datetime import date, datetime, timedelta

import dagster as dg

from qeasy.erp.times import BEIJING
from resources.alerting import AlertingResource
from resources.clickhouse import ClickHouseResource

OP = "send_daily_push"
# A bot outage of a few minutes is waited out: attempts 15, 30, 60 and 120 s after the previous.
RETRY = dg.RetryPolicy(max_retries=4, delay=15, backoff=dg.Backoff.EXPONENTIAL)
WAIT_SECONDS = 300  # for the embedded warehouse, which a refresh may hold for minutes


class PushConfig(dg.Config):
    day: str = ""  # the Beijing day YYYY-MM-DD to report; empty: yesterday


@dg.op(name=OP, retry_policy=RETRY,
       description="Send the day's figures to every configured channel that has not had them yet.")
def send_daily_push(context: dg.OpExecutionContext, config: PushConfig, warehouse: ClickHouseResource,
                    alerting: AlertingResource) -> None:
    day = date.fromisoformat(config.day) if config.day else datetime.now(BEIJING).date() - timedelta(days=1)
    with warehouse.session(wait=WAIT_SECONDS) as client:
        report = alerting.push(client, day)
    context.log.info(f"daily push of {day}: sent to {report.sent or 'none'}, already sent to "
                     f"{report.skipped or 'none'}, failed for {list(report.failed) or 'none'}")
    if report.failed:  # fail the step so that the retry policy tries the failed channels again
        raise dg.Failure(description=f"daily push of {day} failed for "
                         + "; ".join(f"{name}: {error}" for name, error in report.failed.items()),
                         metadata={"sent": report.sent, "failed": list(report.failed)})


@dg.job(name="push", executor_def=dg.in_process_executor,
        description="The daily push: yesterday's figures to Feishu / DingTalk, once per day and channel.")
def push_job() -> None:
    send_daily_push()


def request_for(tick: datetime, now: datetime) -> dg.RunRequest | dg.SkipReason:
    """The run a tick at `tick` asks for when evaluated at `now`: the day before the tick, unless the
    tick is from an earlier Beijing day than `now` (a daemon that was down a day or more)."""
    tick_day, today = tick.astimezone(BEIJING).date(), now.astimezone(BEIJING).date()
    if tick_day < today:
        return dg.SkipReason(f"the tick of {tick_day} is evaluated on {today}: too late to push "
                             f"{tick_day - timedelta(days=1)}")
    day = tick_day - timedelta(days=1)
    return dg.RunRequest(run_key=f"push-{day}", run_config={"ops": {OP: {"config": {"day": str(day)}}}},
                         tags={"qeasy/push_day": str(day)})


def push_schedule(push_at: str) -> dg.ScheduleDefinition:
    """`daily_push` at `push_at` (HH:MM, Beijing; QEASY_PUSH_AT)."""
    hour, minute = (int(part) for part in push_at.split(":"))

    @dg.schedule(name="daily_push", job=push_job, cron_schedule=f"{minute} {hour} * * *",
                 execution_timezone="Asia/Shanghai", default_status=dg.DefaultScheduleStatus.RUNNING,
                 description=f"{push_at} daily: yesterday's figures to every channel, once per day each.")
    def daily_push(context: dg.ScheduleEvaluationContext):
        now = datetime.now(BEIJING)
        return request_for(context.scheduled_execution_time or now, now)

    return daily_push
