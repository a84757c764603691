"""A run killed with kill -9 leaves nothing that blocks later runs: its Dagster run is recognised as
dead and failed, and its embedded sandbox dies with it."""

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import dagster as dg

from qeasy.erp.times import BEIJING
from qeasy.sandbox.process import free_port
from tests.dev_helpers import stop, wait_for

ROOT = Path(__file__).resolve().parents[1]
STARTED = [dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE]


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"


def _runs(home: Path, job: str, statuses: list[dg.DagsterRunStatus]) -> list[dg.DagsterRun]:
    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        records = instance.get_run_records(dg.RunsFilter(job_name=job, statuses=statuses))
        return [record.dagster_run for record in records]


def test_kill_9_mid_run_then_qeasy_dev_starts_a_near_real_time_run_within_a_minute(tmp_path) -> None:
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JST_", "QEASY_", "DAGSTER_"))}
    env |= {"QEASY_HOME": str(home), "QEASY_SANDBOX_ORDERS_PER_HOUR": "200", "QEASY_RATE_PER_SECOND": "10",
            "QEASY_RATE_PER_MINUTE": "600"}
    yesterday = (datetime.now(BEIJING).date() - timedelta(days=1)).isoformat()
    qeasy = [sys.executable, "-m", "qeasy.cli"]
    log = tmp_path / "qeasy-run.log"
    with log.open("w") as sink:
        run = subprocess.Popen([*qeasy, "run", "--start", yesterday, "--end", yesterday], cwd=ROOT, env=env,
                               stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: "ods_sales_out: started" in log.read_text() or run.poll() is not None, 300,
                 "the run to reach ods_sales_out", log)
        assert run.poll() is None, "the run ended before it could be killed"
        sandboxes = [pid for pid in _children(run.pid)
                     if b"sandbox" in Path(f"/proc/{pid}/cmdline").read_bytes()]
        assert sandboxes, "no embedded sandbox child found"
        os.kill(run.pid, signal.SIGKILL)  # the process only, as `kill -9 <pid>` does
        run.wait(timeout=30)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    deadline = time.monotonic() + 15
    while not all(_gone(pid) for pid in sandboxes) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert all(_gone(pid) for pid in sandboxes), "the killed run's sandbox is still running"
    [dead] = _runs(home, "main", [dg.DagsterRunStatus.STARTED])  # what the kill left behind
    assert dead.tags.get("qeasy/staging") == "write"

    dev_log = tmp_path / "qeasy-dev.log"
    with dev_log.open("w") as sink:
        ports = ["--port", str(free_port()), "--sandbox-port", str(free_port())]
        dev = subprocess.Popen([*qeasy, "dev", *ports], cwd=ROOT, env=env, stdout=sink,
                               stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: _runs(home, "nrt", STARTED), 60, "a near-real-time run to start", dev_log)
        [failed] = _runs(home, "main", [dg.DagsterRunStatus.FAILURE])
        assert failed.run_id == dead.run_id
        # Live runs are left alone: the daemon's runs, whose process is a code server's child, finish.
        wait_for(lambda: _runs(home, "nrt", [dg.DagsterRunStatus.SUCCESS]), 300, "an nrt run to succeed",
                 dev_log)
        assert not _runs(home, "nrt", [dg.DagsterRunStatus.FAILURE])
    finally:
        stop(dev)
