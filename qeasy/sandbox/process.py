"""The sandbox in a child process (`qeasy sandbox`): its own interpreter and core, so a busy client
in this process cannot delay its answers or skew its rate-limit clock."""

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable

import httpx

PR_SET_PDEATHSIG = 1  # prctl(2)


class SandboxProcess:
    """Start with `with SandboxProcess(...) as sandbox:`; `sandbox.url` serves until the block ends."""

    def __init__(self, port: int = 0, **options: object) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._command = [sys.executable, "-m", "qeasy.cli", "sandbox", "--port", str(self.port)]
        for name, value in options.items():
            if value is not None:
                self._command += [f"--{name.replace('_', '-')}", str(value)]
        self._process: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> "SandboxProcess":
        self._process = subprocess.Popen(self._command, stdout=subprocess.DEVNULL,
                                         preexec_fn=die_with_parent())
        deadline = time.monotonic() + timeout
        while True:
            try:
                httpx.get(self.url + "/__sandbox/clock", timeout=2).raise_for_status()
                return self
            except httpx.TransportError as exc:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"the ERP sandbox did not start: {self._command}") from exc
                time.sleep(0.1)

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=10)

    def __enter__(self) -> "SandboxProcess":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def die_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` that has the child sent SIGTERM when this process ends, however it ends
    (kill -9 included: Linux's parent-death signal); None where there is no such signal."""
    if not sys.platform.startswith("linux"):
        return None
    parent = os.getpid()

    def arm() -> None:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os.kill(os.getpid(), signal.SIGTERM)

    return arm


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
