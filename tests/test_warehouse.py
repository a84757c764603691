"""The warehouse against an independent oracle (tests/warehouse_oracle.py, written from warehouse.md
alone), through late changes, and in any load order."""

from datetime import date, timedelta

from qeasy.warehouse.health import TABLE as HEALTH
from tests.warehouse_helpers import (
    Chain,
    assert_ads_match,
    checksums,
    downstream_of_ods,
    duplicate_a_line_id,
    query,
    window,
)

DAYS = [date(2026, 11, 1) + timedelta(days=n) for n in range(14)]
T1, T2 = "2026-11-08 00:00:00", "2026-11-15 00:00:00"  # the ends of days 7 and 14
DIRTY = {"negative_qty": 0.01, "unknown_status": 0.01, "hidden_sku": 0.05, "bad_values": 0.005,
         "missing_key": 0.005, "null_fields": 0.02}


def _late_changes(home) -> dict[str, int]:
    """How often each kind of late change the acceptance names occurs in what was staged."""
    import duckdb

    with duckdb.connect(str(home / "staging.duckdb"), read_only=True) as conn:
        def one(sql: str) -> int:
            return conn.execute(sql).fetchone()[0]

        return {
            "shipped then cancelled": one(
                "SELECT count(DISTINCT a.io_id) FROM dwd.sales_out a JOIN dwd.sales_out b USING (io_id) "
                "WHERE a.status = 'Confirmed' AND b.status IN ('Cancelled', 'Delete') AND b.ts > a.ts"),
            "lines removed": one(
                "WITH v AS (SELECT io_id, ts, count(*) AS n FROM dwd.sales_out GROUP BY ALL) "
                "SELECT count(DISTINCT a.io_id) FROM v a JOIN v b USING (io_id) "
                "WHERE b.ts > a.ts AND b.n < a.n"),
            "refund confirmed later": one(
                "SELECT count(DISTINCT a.as_id) FROM dwd.after_sale a JOIN dwd.after_sale b USING (as_id) "
                "WHERE a.status = 'WaitConfirm' AND b.status = 'Confirmed' AND b.ts > a.ts"),
            "negative qty": one("SELECT count(*) FROM dwd.sales_out WHERE qty < 0"),
            "unknown status": one("SELECT count(*) FROM dwd.sales_out WHERE status = 'Splitting'"),
        }


def test_metrics_equal_an_independent_oracle_through_late_changes_and_any_load_order(make_sandbox, tmp_path):
    server, caller = make_sandbox(dirty=DIRTY, clock=T1, orders_per_hour=200.0,
                                  per_second=10_000, per_minute=1_000_000)
    home = tmp_path / "home"
    chain = Chain(server, home)
    assert chain.shops().success
    seen_inventory = window(server, "inventory", f"{DAYS[0]} 00:00:00", T1)
    assert chain.main(DAYS[0], DAYS[6]).success  # days 1-7, seen at the end of day 7
    caller.admin("clock", {"pin": T2})
    seen_inventory += window(server, "inventory", f"{DAYS[0]} 00:00:00", T2)
    report = chain.main(DAYS[7], DAYS[13])  # days 8-14: late versions of days 1-7 arrive
    assert report.success and not any(step.blocking_failed for step in report.steps)

    changes = _late_changes(home)
    assert all(changes.values()), changes
    hidden = query(home, "SELECT count() AS n FROM v_ads_sku_after_sale_7d WHERE sku_name IS NOT NULL AND "
                         "sku_id IN (SELECT sku_id FROM v_dim_sku WHERE found_by = 'id lookup')")["n"][0]
    assert hidden > 0  # SKUs only findable by id carry their names into the metrics
    assert_ads_match(server, home, DAYS, T2, seen_inventory)

    first = checksums(home)
    for day in reversed(DAYS):  # days 1-14 again, newest first, one run per day
        assert chain.main(day).success
    assert checksums(home) == first
    assert_ads_match(server, home, DAYS, T2, seen_inventory)


FAST = {"per_second": 10_000, "per_minute": 1_000_000}
FILTHY = {"negative_qty": 0.05, "unknown_status": 0.05, "bad_values": 0.05, "missing_key": 0.05,
          "ghost_sku": 0.01, "null_fields": 0.1, "numeric_strings": 0.3}


def test_malformed_values_are_flagged_and_quarantined_and_the_run_succeeds(make_sandbox, tmp_path):
    server, _ = make_sandbox(dirty=FILTHY, clock="2026-11-05 00:00:00", orders_per_hour=100.0, **FAST)
    home = tmp_path / "home"
    chain = Chain(server, home)
    assert chain.shops().success
    report = chain.main(date(2026, 11, 3), date(2026, 11, 4))
    assert report.success and not any(step.blocking_failed for step in report.steps)
    checks = {step.asset: step.checks for step in report.steps}
    assert checks["dwd_sales_out"] == {"schema": True, "anomaly_rate": False, "accounted": True}  # a warning
    reasons = query(home, "SELECT dataset || ': ' || reason AS r FROM v_dq_quarantine")["r"].to_list()
    for kind in ("sales_out: line", "qty < 0", "sales_out: unknown status", "unparseable pay_amount",
                 "unparseable io_date", "missing sku_id", "after_sale: unknown status", "unparseable refund",
                 "unparseable as_date", "inventory: qty < 0"):
        assert any(kind in reason for reason in reasons), kind
    flagged = query(home, "SELECT countIf(is_anomaly = 1) AS bad, countIf(anomaly_reason != '') AS why, "
                          "countIf(sku_missing = 1) AS ghosts FROM v_dws_sale_out").row(0)
    assert flagged[0] == flagged[1] > 0 and flagged[2] > 0  # flagged rows stay, with their reasons


def test_a_corrupted_input_fails_the_blocking_check_and_nothing_is_published(make_sandbox, tmp_path, capsys):
    import duckdb

    server, _ = make_sandbox(clock="2026-11-05 00:00:00", orders_per_hour=60.0, **FAST)
    home, day = tmp_path / "home", date(2026, 11, 4)
    chain = Chain(server, home)
    assert chain.shops().success and chain.main(day).success
    before = checksums(home)
    key, record = duplicate_a_line_id(home)
    downstream = downstream_of_ods(chain.defs)
    from qeasy.runner import run_job

    capsys.readouterr()
    report = run_job(chain.defs, "main", chain.instance, day, day, assets=downstream)
    assert not report.success
    progress = capsys.readouterr().out  # qeasy.progress says so as it happens
    assert "dwd_sales_out: check schema FAILED (blocking: downstream steps will not run)" in progress
    assert "dwd_sales_out: FAILED after" in progress and "run failed:" in progress
    assert "warehouse: started" not in progress
    failed = {step.asset: step.blocking_failed for step in report.steps if step.blocking_failed}
    assert failed == {"dwd_sales_out": ["schema"]}
    # Blocked: every wide table and metric but the API-health mart, which reads only the API-call log
    # (screen 8 has to show the pipeline of a day whose cleansing failed).
    assert not any(step.asset.startswith(("dws_", "ads_")) for step in report.steps if step.asset != HEALTH)
    assert checksums(home) == before  # the published tables were left as they were
    with duckdb.connect(str(home / "staging.duckdb"), read_only=True) as conn:  # and so was DWD
        lines, ids = conn.execute("SELECT count(*), count(DISTINCT ioi_id) FROM dwd.sales_out "
                                  "WHERE record_key = ?", [key]).fetchone()
    assert lines == ids == len(record["items"])
