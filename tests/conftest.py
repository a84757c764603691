"""Shared fixtures: sandboxes served over real HTTP on free loopback ports, and a signed caller."""

from collections.abc import Callable, Iterator

import httpx
import pytest

from qeasy.erp.endpoints import ENDPOINTS
from qeasy.erp.request import signed_form
from qeasy.sandbox import DirtyRates, FaultSettings, SandboxConfig, SandboxServer

PINNED = "2026-11-20 12:00:00"  # tests pin the merchant's clock: same seed, same bytes
FAST = {"per_second": 10_000, "per_minute": 1_000_000}  # limits out of the way


class Caller:
    """Signs and posts business calls to one sandbox with its own credentials."""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server
        self.http = httpx.Client(base_url=server.url, timeout=30)

    def post(self, dataset_or_path: str, biz: dict | None = None, **form_overrides) -> httpx.Response:
        path = ENDPOINTS[dataset_or_path].path if dataset_or_path in ENDPOINTS else dataset_or_path
        config = self.server.config
        form = signed_form(config.app_key, config.app_secret, config.access_token, biz or {})
        form.update(form_overrides)
        return self.http.post(path, data=form)

    def data(self, dataset: str, biz: dict) -> object:
        body = self.post(dataset, biz).json()
        assert body["code"] == 0, body
        return body["data"]

    def admin(self, route: str, body: dict | None = None) -> object:
        """POST to an introspection route (GET when there is no body)."""
        url = f"/__sandbox/{route}"
        response = self.http.get(url) if body is None else self.http.post(url, json=body)
        response.raise_for_status()
        return response.json()


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., tuple[SandboxServer, Caller]]]:
    """Start sandboxes with config overrides; every one is stopped after the test."""
    started: list[tuple[SandboxServer, Caller]] = []

    def make(dirty: dict | None = None, faults: dict | None = None, **overrides):
        settings = {"clock": PINNED, "orders_per_hour": 200.0} | overrides
        config = SandboxConfig(dirty=DirtyRates(**(dirty or {})), faults=FaultSettings(**(faults or {})),
                               **settings)
        server = SandboxServer(config).start()
        caller = Caller(server)
        started.append((server, caller))
        return server, caller

    yield make
    for server, caller in started:
        caller.http.close()
        server.stop()


@pytest.fixture
def fast(make_sandbox) -> tuple[SandboxServer, Caller]:
    """A sandbox with the rate limits raised out of the way."""
    return make_sandbox(**FAST)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """On CI (`QEASY_CI=1`, set by .ci/run) a test skipped for a missing service fails the run: the
    machine kind CI runs on has every service, so a skip there means a broken set-up, not a pass."""
    import os

    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if os.environ.get("QEASY_CI") and skipped and exitstatus == 0:
        reporter.write_line(f"QEASY_CI: {len(skipped)} test(s) skipped; on CI every service must be there",
                            red=True)
        session.exitstatus = 1
