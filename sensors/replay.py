"""Dead letters fetched again: every 10 minutes, one run per day with open dead letters."""

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from jobs import main_job, shops_job
from jobs.replay import replays
from qeasy.ingest.staging import open_dead_letters


@dg.sensor(jobs=[main_job, shops_job], minimum_interval_seconds=600,
           default_status=dg.DefaultSensorStatus.RUNNING,
           description="Re-run the days (and the shop list) whose pages or windows were given up on.")
def replay_dead_letters(context: dg.SensorEvaluationContext, staging: DuckDBResource):
    try:  # read-only, and not waiting: a run writing staging holds its single-writer lock
        with duckdb.connect(staging.database, read_only=True) as conn:
            letters = open_dead_letters(conn)
    except (duckdb.IOException, duckdb.ConnectionException) as exc:
        return dg.SkipReason(f"staging is busy or missing ({type(exc).__name__}); trying again next tick")
    if not letters:
        return dg.SkipReason("no open dead letters")
    # The run key holds when the newest letter was recorded: a replay that fails again records new
    # letters and earns a new run, while the same letters never launch twice.
    return [dg.RunRequest(run_key=f"replay-{r.job}-{r.day}-{r.recorded}", job_name=r.job,
                          partition_key=r.day) for r in replays(letters)]
