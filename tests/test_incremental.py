"""The warehouse's work follows what changed, counted in what it writes: after 20 days and today are
loaded, a late edit of an old order and a new order today make the next near-real-time run write
rows for only the records that changed and the metric days they touch (read back from ClickHouse
by the run's publish version), and the contract tables still equal the independent oracle."""

from datetime import date, datetime, timedelta

from qeasy.erp.times import parse_bj
from qeasy.runner import run_job
from qeasy.warehouse.metric import window as metric_window
from tests.ingest_helpers import truth
from tests.warehouse_helpers import Chain, assert_ads_match, query, window

DAYS = [date(2026, 11, 1) + timedelta(days=n) for n in range(21)]  # 20 days, then today
TODAY = DAYS[-1]
T1 = f"{TODAY} 12:00:00"
CLEAN = {name: 0.0 for name in ("negative_qty", "unknown_status", "hidden_sku", "ghost_sku", "null_fields",
                                "bad_values", "missing_key", "duplicate_rows")}


def _at(text: str, seconds: int) -> str:
    return str(datetime.fromisoformat(text) + timedelta(seconds=seconds))


# The day a record counts on (warehouse.md): an out order's io_date, a refund's confirm_date, else
# the day it was modified.
BIZ_TIME = {"sales_out": "io_date", "after_sale": "confirm_date"}


def _biz_day(dataset: str, row: dict) -> date:
    return date.fromisoformat((row.get(BIZ_TIME[dataset]) or row["modified"])[:10])


def _written(home, table: str, version: int, what: str) -> set:
    rows = query(home, f"SELECT DISTINCT {what} AS v FROM {table} WHERE publish_version = {{v:UInt64}}",
                 v=version)
    return set(rows["v"].to_list())


def test_a_late_edit_and_a_new_order_rewrite_only_their_records_and_metric_days(make_sandbox, tmp_path):
    server, caller = make_sandbox(dirty=CLEAN, clock=T1, orders_per_hour=40.0, per_second=10_000,
                                  per_minute=1_000_000)
    home = tmp_path / "home"
    chain = Chain(server, home)
    assert chain.shops().success
    assert chain.main(DAYS[0], DAYS[-2]).success  # 20 days
    assert run_job(chain.defs, "nrt", chain.instance, TODAY, TODAY).success  # and today so far
    begin = f"{DAYS[0]} 00:00:00"
    seen_inventory = window(server, "inventory", begin, T1)
    before = {dataset: truth(server, dataset, begin, T1) for dataset in BIZ_TIME}

    # A late edit of an order of day 5, then the clock runs on until a new order arrives today.
    old = next(row for row in before["sales_out"].values()
               if _biz_day("sales_out", row) == DAYS[4] and row["status"] == "Confirmed")
    clock = _at(T1, 1)
    caller.admin("clock", {"pin": clock})
    caller.admin("touch", {"dataset": "sales_out", "key": old["io_id"]})
    new_orders: list[dict] = []
    while not new_orders:
        clock = _at(clock, 30)
        caller.admin("clock", {"pin": clock})
        new_orders = [row for row in truth(server, "sales_out", T1, clock).values()
                      if parse_bj(row["created"]) > parse_bj(T1)]
    after = {dataset: truth(server, dataset, begin, clock) for dataset in BIZ_TIME}
    changed = {dataset: {key for key, row in after[dataset].items()
                         if key not in before[dataset] or before[dataset][key]["ts"] != row["ts"]}
               for dataset in BIZ_TIME}
    assert str(old["io_id"]) in changed["sales_out"]
    assert {str(row["io_id"]) for row in new_orders} <= changed["sales_out"]

    report = run_job(chain.defs, "nrt", chain.instance, TODAY, TODAY)
    assert report.success
    version = query(home, "SELECT max(publish_version) AS v FROM dws_sale_out")["v"][0]

    # The wide tables: exactly the changed records, each with its lines, and nothing else.
    for dataset, table, key in (("sales_out", "dws_sale_out", "io_id"),
                                ("after_sale", "dws_after_sale", "as_id")):
        assert {str(k) for k in _written(home, table, version, key)} == changed[dataset], table
    lines = query(home, "SELECT countIf(is_deleted = 0) AS live, count() AS written, "
                        "(SELECT count() FROM v_dws_sale_out) AS total "
                        "FROM dws_sale_out WHERE publish_version = {v:UInt64}", v=version).row(0, named=True)
    assert lines["live"] == sum(len(after["sales_out"][key]["items"]) for key in changed["sales_out"])
    assert lines["written"] < 0.01 * lines["total"]
    # The metric days: the days the changed records counted on before and after, for the 7-day metrics
    # every window holding one of them (turnover: of the out orders, and today's stock); only days
    # ingested (the 21 loaded) and holding rows (turnover: days with stock versions seen by then).
    days = {dataset: ({_biz_day(dataset, before[dataset][key]) for key in keys if key in before[dataset]}
                      | {_biz_day(dataset, after[dataset][key]) for key in keys}) & set(DAYS)
            for dataset, keys in changed.items()}
    either = days["sales_out"] | days["after_sale"]
    assert DAYS[4] in either and TODAY in either
    expected = {"ads_shop_daily": either, "ads_sku_after_sale_7d": metric_window(either),
                "ads_inventory_turnover": metric_window(days["sales_out"]) | {TODAY}}
    for table, metric_days in expected.items():
        present = set(query(home, f"SELECT DISTINCT stat_date AS d FROM v_{table}")["d"].to_list())
        assert _written(home, table, version, "stat_date") == metric_days & set(DAYS) & present, table
    for table in expected:
        written = query(home, f"SELECT count() AS n FROM {table} WHERE publish_version = {{v:UInt64}}",
                        v=version)["n"][0]
        total = query(home, f"SELECT count() AS n FROM v_{table}")["n"][0]
        assert 0 < written < total, table
    # Stock: the SKUs whose stock moved since the last run, on today only.
    moved = window(server, "inventory", _at(T1, 1), clock)
    assert {row["sku_id"] for row in moved} <= _written(home, "dws_inventory", version, "sku_id")
    assert _written(home, "dws_inventory_daily", version, "stat_date") <= {TODAY}

    seen_inventory += window(server, "inventory", begin, clock)
    assert_ads_match(server, home, DAYS, clock, seen_inventory)
