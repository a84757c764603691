"""QEASY_ERP=jackyun end to end: `qeasy run` reads a sandbox's 吉客云 gateway (page drift and server
faults on) for 14 days with late changes, and every ADS row equals the independent oracle's, fed
from the same merchant's ground truth as 吉客云 reports it. The declarations are chosen when qeasy
is imported, so qeasy runs in a child process, as a user runs it."""

import os
import subprocess
import sys
import time
from datetime import timedelta

from qeasy.datasets.jackyun import ALLOCATION
from qeasy.erp.times import parse_bj
from qeasy.sandbox.jackyun import PATH
from tests.test_warehouse import DAYS, DIRTY, T1, T2
from tests.warehouse_helpers import assert_ads_match, query, window

FAULTS = {"page_drift": 0.2, "http_5xx": 0.02, "burst": 0.002, "burst_length": 2}


def _qeasy_run(server, home, first, last, **extra: str) -> subprocess.CompletedProcess:
    config = server.config
    env = os.environ | {"QEASY_ERP": "jackyun", "QEASY_HOME": str(home), "QEASY_FIRST_DAY": "2026-10-01",
                        "JACKYUN_GATEWAY": server.url + PATH, "JACKYUN_APP_KEY": config.app_key,
                        "JACKYUN_APP_SECRET": config.app_secret,
                        "JACKYUN_RATE_PER_SECOND": str(config.jackyun_per_method_per_second)} | extra
    command = [sys.executable, "-m", "qeasy.cli", "run", "--start", str(first), "--end", str(last)]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=1200)


def _as_jackyun_reports(inventory: list[dict]) -> list[dict]:
    """吉客云 stock rows carry no minimum (other-erps.md lists none): the oracle sees it unknown."""
    return [row | {"min_qty": None} for row in inventory]


def test_jackyun_metrics_equal_the_oracle_through_late_changes_faults_and_drift(make_sandbox, tmp_path):
    server, caller = make_sandbox(dirty=DIRTY, faults=FAULTS, clock=T1, orders_per_hour=200.0,
                                  epoch="2026-10-20", per_second=10_000, per_minute=1_000_000,
                                  jackyun_per_method_per_second=400)
    home = tmp_path / "home"
    seen = window(server, "inventory", f"{DAYS[0]} 00:00:00", T1)
    first = _qeasy_run(server, home, DAYS[0], DAYS[6])  # days 1-7, seen at the end of day 7
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "吉客云 pacing 400/s per method" in first.stdout
    caller.admin("clock", {"pin": T2})
    seen += window(server, "inventory", f"{DAYS[0]} 00:00:00", T2)
    second = _qeasy_run(server, home, DAYS[7], DAYS[13])  # days 8-14: late versions of days 1-7 arrive
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]

    stats = caller.admin("stats")
    assert server.merchant._touches["sales_out"], "pages should have drifted"
    assert stats["oms.trade.fullinfoget"]["errors"] > 0  # injected 5xx were met and retried
    caller.admin("faults", {"page_drift": 0.0, "http_5xx": 0.0, "burst": 0.0})  # the truth is read calmly
    assert_ads_match(server, home, DAYS, T2, _as_jackyun_reports(seen))

    # The allocation orders' wide table holds the newest version of each order changed in the days
    # read, though the API selects on creation: the completions of earlier days' orders came in.
    newest: dict[int, dict] = {}
    for day in [DAYS[0] - timedelta(days=1), *DAYS]:
        for row in ALLOCATION.sandbox(day, server.config.seed):
            if parse_bj(f"{DAYS[0]} 00:00:00") <= parse_bj(row["gmtModified"]) < parse_bj(T2):
                newest[row["allocateId"]] = row
    assert any(row["gmtCreate"] < str(DAYS[0]) for row in newest.values())
    got = query(home, "SELECT allocate_id, status, status_label, in_warehouse_code, total_amount "
                      "FROM v_dws_allocation ORDER BY allocate_id")
    assert got["allocate_id"].to_list() == sorted(newest)
    assert got["status"].to_list() == [str(newest[k]["status"]) for k in sorted(newest)]
    assert set(got["status_label"]) == {"待审", "已完成"}  # the last day's orders are not completed yet
    assert got["in_warehouse_code"].to_list() == [newest[k]["intWarehouseCode"] for k in sorted(newest)]


def test_a_wrong_jackyun_secret_fails_in_seconds_naming_the_signature_error(make_sandbox, tmp_path):
    server, _ = make_sandbox(clock=T1, skus=50, orders_per_hour=10.0)
    started = time.monotonic()
    run = _qeasy_run(server, tmp_path / "home", DAYS[0], DAYS[0], JACKYUN_APP_SECRET="not-the-secret")
    assert run.returncode == 2 and time.monotonic() - started < 30
    assert "0858030801" in run.stderr and "invalid signature" in run.stderr
    assert "not-the-secret" not in run.stdout + run.stderr
