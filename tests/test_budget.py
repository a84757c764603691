"""The shared call budget: sliding spans across threads and processes (one host: a file; every host:
Redis), and the interactive reserve."""

import subprocess
import sys
import threading
import time

import pytest

from qeasy.erp.budget import BULK, INTERACTIVE, BudgetUnavailable, CallBudget


def _max_in_any_second(stamps: list[float]) -> int:
    stamps = sorted(stamps)
    return max(sum(1 for t in stamps[i:] if t - start < 1.0) for i, start in enumerate(stamps))


def _recorded(budget: CallBudget) -> list[float]:
    """The send times the budget admitted, as every process sharing it sees them."""
    return [float(line.split()[0]) for line in budget.path.read_text().splitlines() if " c " in line]


def test_threads_share_the_per_second_span(tmp_path) -> None:
    budget = CallBudget(tmp_path, "app", per_second=5, per_minute=1000, margin_seconds=0.0)

    def caller() -> None:
        for _ in range(6):
            budget.acquire()

    threads = [threading.Thread(target=caller) for _ in range(3)]
    started = time.monotonic()  # before the first call: a busy machine may run one before start() returns
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stamps = _recorded(budget)
    assert len(stamps) == 18 and _max_in_any_second(stamps) <= 5
    assert time.monotonic() - started >= 3  # 18 calls at 5 a second need three full seconds


def test_processes_share_one_budget(tmp_path) -> None:
    script = ("import sys, time; from pathlib import Path; from qeasy.erp.budget import CallBudget\n"
              "b = CallBudget(Path(sys.argv[1]), 'app', 4, 1000, margin_seconds=0.0)\n"
              "for _ in range(6):\n    b.acquire()\n")
    runs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path)]) for _ in range(2)]
    assert [run.wait(timeout=60) for run in runs] == [0, 0]
    stamps = _recorded(CallBudget(tmp_path, "app", 4, 1000))
    assert len(stamps) == 12 and _max_in_any_second(stamps) <= 4


def test_the_per_minute_span_makes_the_next_call_wait_a_minute(tmp_path) -> None:
    budget = CallBudget(tmp_path, "app", per_second=1000, per_minute=10)
    for _ in range(10):
        assert budget._try(BULK) == 0
    assert budget._try(BULK) > 59


def test_bulk_work_leaves_a_reserve_once_interactive_work_is_about(tmp_path) -> None:
    budget = CallBudget(tmp_path, "app", per_second=1000, per_minute=20)
    assert budget._try(INTERACTIVE) == 0
    admitted = 0
    while budget._try(BULK) == 0:
        admitted += 1
    assert admitted == 17  # 20 a minute, 2 kept back, 1 already used by the interactive call
    assert budget._try(INTERACTIVE) == 0 and budget._try(INTERACTIVE) == 0
    assert budget._try(INTERACTIVE) > 0


def test_accounts_do_not_share_a_budget_and_the_file_names_no_credential(tmp_path) -> None:
    one = CallBudget(tmp_path, "app-one", per_second=1, per_minute=100)
    two = CallBudget(tmp_path, "app-two", per_second=1, per_minute=100)
    assert one._try(BULK) == 0 and two._try(BULK) == 0
    assert "app-one" not in one.path.name


# ---- one budget for every host: Redis ---------------------------------------------------------
# Each process has its own state directory, as two hosts would: only Redis is shared.
CALLER = """import sys
from pathlib import Path
from qeasy.erp.budget import CallBudget
from qeasy.erp.client import CallStats, ErpClient
url, key, secret, token, state, shared, calls = sys.argv[1:8]
budget = CallBudget(Path(state), key, 10, 600, shared_url=shared)
client = ErpClient(url, key, secret, token, budget)
for _ in range(int(calls)):
    client.call("/open/shops/query", {"page_index": 1, "page_size": 100}, CallStats())
"""


def _hosts(server, tmp_path, shared: str, calls: int = 30) -> dict:
    """Two processes with their own state directories calling the sandbox; its statistics."""
    config = server.config
    server.admin("POST", "stats/reset", None)
    runs = [subprocess.Popen([sys.executable, "-c", CALLER, server.url, config.app_key, config.app_secret,
                              config.access_token, str(tmp_path / f"host-{n}"), shared, str(calls)])
            for n in range(2)]
    assert [run.wait(timeout=120) for run in runs] == [0, 0]
    return server.admin("GET", "stats", None)["/open/shops/query"]


def test_hosts_sharing_a_redis_budget_are_never_throttled_by_a_sandbox_limited_to_it(make_sandbox, tmp_path,
                                                                                     redis_url) -> None:
    server, _ = make_sandbox(per_second=10, per_minute=600)  # exactly the budget the callers share
    shared = _hosts(server, tmp_path, redis_url)
    assert shared["calls"] == shared["ok"] == 60 and shared["throttled"] == 0, shared
    alone = _hosts(server, tmp_path, "")  # the control: each host with its own file budget
    assert alone["throttled"] > 0, "two single-host budgets stayed within the limit: the test proves nothing"


def test_the_redis_budget_keeps_both_spans_and_names_no_credential(redis_url, tmp_path) -> None:
    import redis

    budget = CallBudget(tmp_path, "app-secret-key", per_second=1000, per_minute=10, shared_url=redis_url)
    for _ in range(10):
        assert budget._try(BULK) == 0
    assert budget._try(BULK) > 59
    keys = [key.decode() for key in redis.Redis.from_url(redis_url).scan_iter("qeasy:erp-budget:*")]
    assert keys and not any("app-secret-key" in key for key in keys)
    assert budget.path is None and not list(tmp_path.iterdir())  # nothing of it on this host


def test_an_unreachable_redis_budget_fails_the_call_naming_the_setting(tmp_path) -> None:
    budget = CallBudget(tmp_path, "app", 5, 100, shared_url="redis://:s3cret@127.0.0.1:1/0")
    with pytest.raises(BudgetUnavailable, match="QEASY_BUDGET_URL") as raised:
        budget.acquire()
    assert "s3cret" not in str(raised.value)
