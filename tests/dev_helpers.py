"""Long-running qeasy commands in tests: waiting for them, and stopping them as a terminal would."""

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def wait_for(condition, seconds: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            said = log.read_text()[-4000:]
            raise TimeoutError(f"waited {seconds:.0f} s for {what}; qeasy dev said:\n{said}")
        time.sleep(1)


def stop(process: subprocess.Popen) -> None:
    """Ctrl-C for the whole group, as a terminal sends it (dagster dev shuts down on SIGINT, not
    SIGTERM); what is left of the group a minute later is killed."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGINT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=60)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
