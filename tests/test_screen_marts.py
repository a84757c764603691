"""The BI screens' marts against an independent oracle (tests/screens_oracle.py, written from
screens.md and warehouse.md alone), through late changes, and their configuration."""

import json
from datetime import date, datetime, timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from qeasy.settings import SettingsError, load_settings
from tests.screens_oracle import oracle_screens
from tests.warehouse_helpers import Chain, assert_ads_equal, found_skus, query, recorded_calls, window

DAYS = [date(2026, 11, 1) + timedelta(days=n) for n in range(14)]
T1, T2 = "2026-11-08 00:00:00", "2026-11-15 00:00:00"  # the ends of days 7 and 14
DIRTY = {"negative_qty": 0.01, "unknown_status": 0.01, "bad_values": 0.005, "missing_key": 0.005,
         "null_fields": 0.02, "numeric_strings": 0.05, "loose_provinces": 0.1}
RATES = {"天猫": 0.05, "京东": 0.06, "抖音": "0.055", "shops": {"16800003": 0.045}}  # 抖音小店 is 16800003
EVER = "2000-01-01 00:00:00"
BUILT = ("ads_sales_hourly", "ads_region_daily", "ads_finance_daily", "ads_inventory_overview",
         "ads_replenishment", "ads_pipeline_health_hourly", "ads_sales_forecast")


def test_marts_equal_the_oracle_through_late_changes(make_sandbox, tmp_path) -> None:
    server, caller = make_sandbox(dirty=DIRTY, clock=T1, orders_per_hour=200.0,
                                  per_second=10_000, per_minute=1_000_000)
    home = tmp_path / "home"
    rates = tmp_path / "rates.json"
    rates.write_text(json.dumps(RATES, ensure_ascii=False), encoding="utf-8")
    chain = Chain(server, home, QEASY_COMMISSION_RATES=str(rates), QEASY_LEAD_DAYS="5", QEASY_SAFETY_DAYS="2")
    assert chain.shops().success
    seen_inventory = window(server, "inventory", f"{DAYS[0]} 00:00:00", T1)
    assert chain.main(DAYS[0], DAYS[6]).success
    caller.admin("clock", {"pin": T2})
    seen_inventory += window(server, "inventory", f"{DAYS[0]} 00:00:00", T2)
    report = chain.main(DAYS[7], DAYS[13])  # late versions of days 1-7 arrive
    assert report.success and all(all(step.checks.values()) for step in report.steps if step.asset in BUILT)

    begin = f"{DAYS[0]} 00:00:00"
    commission = {"sites": {k: v for k, v in RATES.items() if k != "shops"},
                  "shops": {int(k): v for k, v in RATES["shops"].items()}}
    # "The latest SKU version known": the ERP's SKU records of the SKUs qeasy has found so far.
    skus, _ = found_skus(server, caller, home, T2)
    calls = recorded_calls(home)
    expected = oracle_screens(window(server, "sales_out", begin, T2), window(server, "after_sale", begin, T2),
                              seen_inventory, skus, window(server, "shop", EVER, T2), calls, DAYS,
                              datetime.fromisoformat(T2), commission, lead_days=5, safety_days=2)
    assert_ads_equal(home, {table: expected[table] for table in BUILT})
    # The data exercised what the formulas distinguish.
    finance = query(home, "SELECT fee_rate_known, count() AS n, sum(discount) AS discount "
                          "FROM v_ads_finance_daily GROUP BY ALL ORDER BY ALL")
    assert finance["fee_rate_known"].to_list() == [0, 1] and all(d > 0 for d in finance["discount"])
    reorders = query(home, "SELECT countIf(suggested_qty > 0) AS suggested, countIf(below_min) AS below, "
                           "countIf(suggested_qty = 0) AS only_below FROM v_ads_replenishment")
    assert all(reorders[column][0] > 0 for column in reorders.columns), reorders
    provinces = set(query(home, "SELECT DISTINCT province FROM v_ads_region_daily")["province"])
    assert {"广东省", "广西壮族自治区", "未知"} <= provinces and not any(p != p.strip() for p in provinces)


def test_mart_columns_carry_chinese_and_english_comments_in_clickhouse(tmp_path) -> None:
    from qeasy.warehouse.clickhouse import session

    with session(f"chdb://{tmp_path / 'ch'}", "qeasy") as client:
        comments = dict(client.query("SELECT name, comment FROM system.columns WHERE database = 'qeasy' "
                                     "AND table = 'ads_finance_daily'").result_rows)
    assert comments["platform_fee"].startswith("平台佣金 paid x the shop's rate")
    assert all(comments[name] for name in comments if name not in ("publish_version", "is_deleted"))


@pytest.mark.parametrize("content, message", [
    ('{"天猫": 5}', "QEASY_COMMISSION_RATES 天猫 must be a rate between 0 and 1"),
    ('{"shops": {"abc": 0.05}}', "shop ids under \"shops\" are numbers"),
    ("[0.05]", "must hold"),
    ("{nope", "cannot read"),
])
def test_a_wrong_commission_file_is_refused_at_start_up(tmp_path, content, message) -> None:
    rates = tmp_path / "rates.json"
    rates.write_text(content, encoding="utf-8")
    with pytest.raises(SettingsError, match=message):
        load_settings({"QEASY_HOME": str(tmp_path), "QEASY_COMMISSION_RATES": str(rates)})


def test_pipeline_health_recomputes_the_hours_of_rows_recorded_since_the_last_refresh(tmp_path) -> None:
    """Hand-made ops_api_calls rows over three hours, in two batches: after each refresh the mart
    equals the oracle over every row recorded so far; the second refresh touches only the hours of
    the second batch."""
    from qeasy.warehouse.clickhouse import session
    from qeasy.warehouse.health import publish_health

    def row(dataset: str, at: str, calls: int, errors: int, p95: float | None) -> dict:
        return {"run_id": "r", "dataset": dataset, "recorded_at": datetime.fromisoformat(at),
                "calls": calls, "errors": errors, "throttled": 1, "retries": errors, "rows": 10 * calls,
                "pages": calls, "latency_p95_ms": p95}

    first = [row("sales_out", "2026-11-20 09:05:00", 4, 1, 120.0),
             row("sales_out", "2026-11-20 09:50:00", 2, 0, None),
             row("sku", "2026-11-20 10:10:00", 0, 0, None)]
    second = [row("sales_out", "2026-11-20 10:40:00", 3, 3, 900.0),
              row("sku", "2026-11-20 11:00:00", 5, 0, 80.0)]
    columns = ["stat_hour", "dataset", "calls", "errors", "throttled", "retries", "rows", "latency_p95_ms",
               "error_rate"]
    with session(f"chdb://{tmp_path / 'ch'}", "qeasy") as client:
        versions = []
        for batch in (first, second):
            client.insert_df_arrow("ops_api_calls", pl.DataFrame(batch).with_columns(
                pl.col("recorded_at").dt.replace_time_zone("Asia/Shanghai")))
            version, days = publish_health(client)
            versions.append(version)
            got = client.query_df_arrow(f"SELECT {', '.join(columns)} FROM v_ads_pipeline_health_hourly "
                                        "ORDER BY ALL", dataframe_library="polars")
            got = got.with_columns(pl.col("stat_hour").dt.replace_time_zone(None))
            recorded = first if len(versions) == 1 else first + second
            expected = oracle_screens([], [], [], [], [], recorded, [], datetime(2026, 11, 21))
            assert_frame_equal(got, expected["ads_pipeline_health_hourly"].select(columns),
                               check_dtypes=False)
            assert days == [date(2026, 11, 20)]
        rewritten = client.query("SELECT DISTINCT toHour(stat_hour) FROM ads_pipeline_health_hourly "
                                 "WHERE publish_version = {v:UInt64} ORDER BY 1",
                                 parameters={"v": versions[1]}).result_rows
    assert versions[0] < versions[1]
    assert [hour for (hour,) in rewritten] == [10, 11]  # 09:00 was not touched again


def test_the_forecast_of_a_day_in_progress_equals_the_oracle(make_sandbox, tmp_path) -> None:
    """Today half way (the merchant's clock at the wall clock): actuals for the hours complete at
    the refresh, the rest forecast from the shape of the days before, as the oracle computes it."""
    from qeasy.erp.times import BEIJING

    now = datetime.now(BEIJING).replace(tzinfo=None, microsecond=0)
    today, yesterday = now.date(), now.date() - timedelta(days=1)
    server, _ = make_sandbox(clock=str(now), orders_per_hour=200.0, per_second=10_000, per_minute=1_000_000)
    home = tmp_path / "home"
    chain = Chain(server, home)
    assert chain.shops().success and chain.main(yesterday, today).success
    [(stamp,)] = query(home, "SELECT argMax(value, publish_version) AS v FROM _refresh_state "
                             "WHERE name = 'forecast_as_of'").rows()
    as_of = datetime.fromtimestamp(stamp / 1000, BEIJING).replace(tzinfo=None)
    begin = f"{yesterday} 00:00:00"
    expected = oracle_screens(window(server, "sales_out", begin, str(now)), [], [], [], [], [],
                              [yesterday, today], as_of)
    assert_ads_equal(home, {"ads_sales_forecast": expected["ads_sales_forecast"]})
    complete = query(home, "SELECT countIf(actual_amount IS NOT NULL) AS n FROM v_ads_sales_forecast "
                           "WHERE stat_date = {d:Date} GROUP BY shop_id LIMIT 1", d=today)["n"][0]
    assert complete == as_of.hour  # the hours of today complete at the refresh
