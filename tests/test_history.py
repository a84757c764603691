"""History is configuration: QEASY_FIRST_DAY moves the partitions, the sandbox's merchant and what
`qeasy run` accepts; a range outside history is refused in one line before anything is written."""

import os
import re
import subprocess
import sys
import time
from datetime import date, datetime, timedelta

import pytest

from qeasy.cli import day_range
from qeasy.erp.times import BEIJING, bj_today, default_first_day
from qeasy.settings import SettingsError, first_day, load_settings
from tests.conftest import FAST
from tests.ingest_helpers import truth
from tests.test_project import _qeasy_run
from tests.warehouse_helpers import assert_ads_equal
from tests.warehouse_oracle import oracle_ads

FIRST_DAY = "2025-01-01"
CLOCK = "2026-01-06 12:00:00"  # pinned: the CLI's sandbox and the test's serve the same bytes
RANGES = [(date(2025, 5, 12), date(2025, 5, 18)), (date(2025, 12, 29), date(2026, 1, 4))]  # a year boundary


def test_the_default_first_day_covers_the_two_previous_calendar_years() -> None:
    assert default_first_day() == date(bj_today().year - 2, 1, 1)
    assert load_settings({}).first_day == first_day({}) == default_first_day()
    assert load_settings({"QEASY_FIRST_DAY": " 2025-06-01 "}).first_day == date(2025, 6, 1)
    for wrong in ("2025-13-01", "20250601", "June 1st", (bj_today() + timedelta(days=1)).isoformat()):
        with pytest.raises(SettingsError, match="QEASY_FIRST_DAY"):
            load_settings({"QEASY_FIRST_DAY": wrong})


def test_day_range_defaults_to_the_last_complete_week_within_history() -> None:
    today, first = date(2026, 12, 1), date(2024, 1, 1)
    assert day_range(None, None, first, today) == (date(2026, 11, 24), date(2026, 11, 30))
    young = date(2026, 11, 28)  # history began three days ago: the default week starts there
    assert day_range(None, None, young, today) == (young, date(2026, 11, 30))
    assert day_range(first, today, first, today) == (first, today)
    for start, end, history, message in (
            (date(2023, 12, 31), None, first, "--start 2023-12-31 is before the first day of history "
                                              "2024-01-01 (QEASY_FIRST_DAY)"),
            (None, date(2026, 12, 2), first, "--end 2026-12-02 is after today 2026-12-01"),
            (None, None, today, "yesterday 2026-11-30 is before the first day of history 2026-12-01"),
            (date(2026, 11, 20), date(2026, 11, 19), first, "--start 2026-11-20 is after --end 2026-11-19")):
        with pytest.raises(ValueError, match=re.escape(message)):
            day_range(start, end, history, today)


def test_the_partitions_start_at_the_configured_first_day(tmp_path) -> None:
    script = ("from qeasy_assets.definitions import defs\n"
              "keys = defs.get_job_def('main').partitions_def.get_partition_keys()\n"
              "print(keys[0], keys[-1])")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JST_", "QEASY_"))}
    env |= {"QEASY_FIRST_DAY": "2023-03-01", "QEASY_HOME": str(tmp_path / "home")}
    today = bj_today()
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    first, last = done.stdout.split()
    assert first == "2023-03-01" and last in {today.isoformat(), bj_today().isoformat()}  # today's too


def _one_line_refusal(done: subprocess.CompletedProcess, tmp_path, expected: str) -> None:
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.splitlines() == [f"qeasy: {expected}"] and done.stdout == ""
    home = tmp_path / "home"
    assert not home.exists() or not any(home.iterdir())  # nothing started, nothing written


def test_qeasy_run_refuses_a_range_outside_history_in_one_line_before_any_work(tmp_path) -> None:
    history = {"QEASY_FIRST_DAY": "2025-06-01"}
    before = _qeasy_run(tmp_path, "--start", "2025-05-12", "--end", "2025-05-18", **history)
    _one_line_refusal(before, tmp_path, "--start 2025-05-12 is before the first day of history 2025-06-01 "
                                        "(QEASY_FIRST_DAY)")

    now = datetime.now(BEIJING)  # tomorrow must still be tomorrow when qeasy checks it
    to_midnight = (datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), BEIJING) - now)
    if to_midnight < timedelta(seconds=30):
        time.sleep(to_midnight.total_seconds() + 1)
    today = bj_today()
    tomorrow = today + timedelta(days=1)
    after = _qeasy_run(tmp_path, "--start", today.isoformat(), "--end", tomorrow.isoformat(), **history)
    _one_line_refusal(after, tmp_path, f"--end {tomorrow} is after today {today} (Beijing time)")

    wrong = _qeasy_run(tmp_path, "--start", "2025-06-01", "--end", "2025-06-02", QEASY_FIRST_DAY="2025-6-1")
    _one_line_refusal(wrong, tmp_path, "configuration: QEASY_FIRST_DAY must be a day written YYYY-MM-DD "
                                       "(like 2024-01-01), not '2025-6-1'")


def test_qeasy_run_loads_history_from_2025_and_across_a_year_boundary(make_sandbox, tmp_path) -> None:
    env = {"QEASY_FIRST_DAY": FIRST_DAY, "QEASY_SANDBOX_ORDERS_PER_HOUR": "30", "QEASY_SANDBOX_CLOCK": CLOCK}
    for first, last in RANGES:
        done = _qeasy_run(tmp_path, "--start", first.isoformat(), "--end", last.isoformat(), **env)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert f"qeasy run {first}..{last}" in done.stdout and "FAILED" not in done.stdout

    # The same merchant as the one the CLI ingested from (same seed, first day and pinned clock).
    server, _ = make_sandbox(epoch=FIRST_DAY, clock=CLOCK, orders_per_hour=30.0, **FAST)
    assert not truth(server, "sales_out", "2024-12-01 00:00:00", "2024-12-31 23:59:59")  # none before it

    def served(dataset: str) -> list[dict]:
        """The latest version of every record whose day was ingested, as the sandbox serves it."""
        return [row for first, last in RANGES
                for row in truth(server, dataset, f"{first} 00:00:00", f"{last} 23:59:59").values()]

    days = [first + timedelta(days=n) for first, last in RANGES for n in range((last - first).days + 1)]
    assert len(days) == 14
    assert_ads_equal(tmp_path / "home", oracle_ads(served("sales_out"), served("after_sale"),
                                                   served("inventory"), days))
