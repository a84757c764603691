"""Runs whose process is gone: recognised and reported failed, so they never block the run queue.

Dagster writes the process that executes a run into the run's event log: the first engine event
with a `pid` ("Executing steps in process" for `qeasy run`, "Started process for run" when the
daemon launched it). With run storage on this machine (qeasy's default, SQLite under QEASY_HOME)
those processes are on this machine too, so a run still starting or started whose process no
longer exists died (kill -9, out of memory, power loss) and will never finish. Dagster's own run
monitoring (dagster.yaml) fails runs that never start and runs over their time limit; it cannot
see that the default run launcher's worker is gone. With shared run storage (PostgreSQL, runs on
several hosts) a pid says nothing about another host, and this module leaves runs alone.
"""

import os
import time
from pathlib import Path

import dagster as dg
from dagster._core.storage.runs import SqliteRunStorage  # the local run storage of a qeasy home

WATCHED = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]


def fail_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Report failed every run of this machine whose process is gone; their ids."""
    if not isinstance(instance.run_storage, SqliteRunStorage):
        return []
    failed = []
    for record in instance.get_run_records(dg.RunsFilter(statuses=WATCHED)):
        run = record.dagster_run
        worker = _worker(instance, run.run_id)
        if worker is None or _alive(*worker):
            continue
        instance.report_run_failed(run, f"qeasy: the run's process (pid {worker[0]}) is gone: it was "
                                        "killed or its machine stopped; the run is marked failed so "
                                        "that later runs are not held back")
        failed.append(run.run_id)
    return failed


def _worker(instance: dg.DagsterInstance, run_id: str) -> tuple[int, float] | None:
    """(pid, when recorded) of the process that executes the run, once Dagster has said it."""
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        data = entry.dagster_event.engine_event_data if entry.dagster_event else None
        pid = data.metadata.get("pid") if data and data.metadata else None
        if pid is not None:
            return int(pid.value), entry.timestamp
    return None


def _alive(pid: int, since: float) -> bool:
    """Whether process `pid` exists and is the one that was running at `since` (not a zombie, not
    a new process that reuses the number)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # someone else's process: it exists
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime"))
    except (OSError, StopIteration):
        return True  # no /proc (not Linux): the pid's existence is all there is to go on
    state, *fields = stat.rsplit(")", 1)[1].split()
    started = boot + int(fields[18]) / os.sysconf("SC_CLK_TCK")  # field 22 of proc(5): start time
    return state != "Z" and started <= since + 1 and started <= time.time()
