"""Shared fixtures: sandboxes served over real HTTP on free loopback ports, and a signed caller."""

import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest

from qeasy.datasets import ENDPOINTS
from qeasy.erp.request import signed_form
from qeasy.sandbox import DirtyRates, FaultSettings, SandboxConfig, SandboxServer

PINNED = "2026-11-20 12:00:00"  # tests pin the merchant's clock: same seed, same bytes
FAST = {"per_second": 10_000, "per_minute": 1_000_000}  # limits out of the way
# The services this machine kind runs (the env entry's machine page); a test that needs one is
# skipped, saying so, where it is absent, and CI fails on the skip (pytest_sessionfinish).
POSTGRES = "postgresql+psycopg2://postgres@127.0.0.1:5432"
REDIS = "redis://127.0.0.1:6379/0"


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


@pytest.fixture
def postgres_url():
    """A new, empty database on the local PostgreSQL server, dropped afterwards."""
    import psycopg2

    name = f"qeasy_prod_{uuid.uuid4().hex[:8]}"
    try:
        admin = psycopg2.connect(f"{POSTGRES.replace('+psycopg2', '')}/postgres", connect_timeout=3)
    except psycopg2.OperationalError as exc:
        pytest.skip(f"needs the PostgreSQL server at 127.0.0.1:5432 ({str(exc).strip()[:120]}); this machine "
                    "kind runs one (see the env entry's machine page)")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {name}")
    yield f"{POSTGRES}/{name}"
    with admin.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.close()


@pytest.fixture
def redis_url() -> str:
    """The local Redis server this machine kind runs, emptied of budgets of earlier tests."""
    import redis

    try:
        client = redis.Redis.from_url(REDIS, socket_connect_timeout=2)
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"needs the Redis server at 127.0.0.1:6379 ({type(exc).__name__}); this machine kind "
                    "runs one (see the env machine page)")
    for key in client.scan_iter("qeasy:erp-budget:*"):
        client.delete(key)
    return REDIS


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
