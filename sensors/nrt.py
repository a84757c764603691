"""The near-real-time trigger: today's partition through the `nrt` job, one run at a time, again
as soon as the previous one is done (checked every 5 s, as often as the daemon evaluates sensors).

A sensor rather than a cron schedule: cron's one-minute granularity alone would use up the
60-second freshness target, while back-to-back runs keep it at about one run's duration. The
tick is one cheap query of the run history; a longer one would add its wait to every change.
"""

from datetime import datetime

import dagster as dg

from jobs import nrt_job
from qeasy.erp.times import BEIJING

INTERVAL_SECONDS = 5  # the sensor daemon loops every 5 s (dagster._daemon.sensor)
BUSY = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
        dg.DagsterRunStatus.STARTED]


@dg.sensor(job=nrt_job, minimum_interval_seconds=INTERVAL_SECONDS,
           default_status=dg.DefaultSensorStatus.RUNNING,
           description="Keeps today's data and metrics fresh: an nrt run for today whenever none is "
           "queued or running (target: an ERP change in the metrics within 60 s).")
def near_real_time(context: dg.SensorEvaluationContext):
    """Today's Beijing partition, unless the previous near-real-time run is still queued or running:
    runs would only pile up behind it, and the next one reads everything they would have."""
    busy = context.instance.get_run_records(dg.RunsFilter(job_name=nrt_job.name, statuses=BUSY), limit=1)
    if busy:
        run = busy[0].dagster_run
        return dg.SkipReason(f"near-real-time run {run.run_id} is still {run.status.value.lower()}")
    return dg.RunRequest(partition_key=datetime.now(BEIJING).date().isoformat())
