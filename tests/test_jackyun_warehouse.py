"""QEASY_ERP=jackyun end to end: `qeasy run` reads a sandbox's 吉客云 gateway (page drift and server
faults on) for 14 days with late changes, and every ADS row equals the independent oracle's, fed
from the same merchant's ground truth as 吉客云 reports it. The declarations are chosen when qeasy
is imported, so qeasy runs in a child process, as a user runs it."""

import os
import subprocess
import sys
import time
from datetime import datetime, timedelta

from qeasy.datasets.jackyun import ALLOCATION
from qeasy.erp.times import parse_bj
from qeasy.sandbox.jackyun import PATH
from tests.screens_oracle import oracle_screens
from tests.test_screen_marts import BUILT, EVER
from tests.test_warehouse import DAYS, DIRTY, T1, T2
from tests.warehouse_helpers import (
    assert_ads_equal,
    assert_ads_match,
    found_skus,
    query,
    recorded_calls,
    window,
)

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

    # The screens' marts too (tests/screens_oracle.py), with the SKUs qeasy found (the hidden ones
    # by its catalogue walk) and the API health its pulls recorded.
    begin = f"{DAYS[0]} 00:00:00"
    skus, hidden = found_skus(server, caller, home, T2)
    assert hidden  # found only by the walk
    calls = recorded_calls(home)
    expected = oracle_screens(window(server, "sales_out", begin, T2), window(server, "after_sale", begin, T2),
                              _as_jackyun_reports(seen), skus, window(server, "shop", EVER, T2), calls, DAYS,
                              datetime.fromisoformat(T2))
    assert_ads_equal(home, {table: expected[table] for table in BUILT if table != "ads_replenishment"})
    assert query(home, "SELECT count() AS n FROM v_ads_replenishment")["n"][0] == 0  # no minimum known

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


def test_qeasy_run_with_qeasy_erp_jackyun_alone_reads_the_embedded_sandboxs_gateway(tmp_path) -> None:
    # What `QEASY_ERP=jackyun make run` does: no gateway configured, so the embedded sandbox's.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JST_", "JACKYUN_", "QEASY_"))}
    env |= {"QEASY_ERP": "jackyun", "QEASY_HOME": str(tmp_path / "home"), "QEASY_FIRST_DAY": "2026-11-01",
            "QEASY_SANDBOX_CLOCK": "2026-11-20 12:00:00", "QEASY_SANDBOX_ORDERS_PER_HOUR": "100"}
    command = [sys.executable, "-m", "qeasy.cli", "run", "--start", "2026-11-18", "--end", "2026-11-19"]
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1200)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "/open/openapi/do  吉客云 pacing 40/s per method" in run.stdout
    warehouse = next(line for line in run.stdout.splitlines() if "warehouse (ClickHouse):" in line)
    counts = dict(part.rsplit(" ", 1) for part in warehouse.split(": ", 1)[1].split(", "))
    assert all(int(counts[table].replace(",", "")) > 0 for table in
               ("dws_sale_out", "dws_after_sale", "dws_inventory", "dws_allocation", "ads_shop_daily"))
    assert "dws_unique_code_flow" not in counts  # 吉客云 has no unique-code flow
