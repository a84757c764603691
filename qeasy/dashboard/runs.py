"""Dagster's run history as screen 8 shows it: the latest runs and how each ended."""

from datetime import datetime

import dagster as dg

from qeasy.erp.times import BEIJING

LATEST = 20


def recent_runs(instance: dg.DagsterInstance, limit: int = LATEST) -> list[dict]:
    """The `limit` latest runs, newest first: job, status, partition, start and duration (Beijing time)."""
    runs = []
    for record in instance.get_run_records(limit=limit):
        run, started, ended = record.dagster_run, record.start_time, record.end_time
        runs.append({
            "run_id": run.run_id[:8], "job": run.job_name, "status": run.status.value,
            "partition": run.tags.get("dagster/partition", ""),
            "started": datetime.fromtimestamp(started, BEIJING).strftime("%m-%d %H:%M:%S") if started else "",
            "seconds": round(ended - started, 1) if started and ended else None,
        })
    return runs
