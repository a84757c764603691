"""The shared call budget: sliding spans across threads and processes, and the interactive reserve."""

import subprocess
import sys
import threading
import time

from qeasy.erp.budget import BULK, INTERACTIVE, CallBudget


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
