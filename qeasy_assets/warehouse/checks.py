"""Checks on the published tables, run right after each refresh, over what the refresh wrote: the
records it republished and the metric days it recomputed (read back by their publish version).

- `latest_version` (blocking, wide tables): one row per grain, and the lines of one version per record
  (GRAIN tables such as the unique-code flow: one row per grain, its newest version).
- `reconciled` (warning, ads_shop_daily): order counts equal the distinct out/refund orders of the views;
  (the screens' hourly, regional and finance marts): they add up to ads_shop_daily per shop and day.
- `reconciled` (warning, ads_inventory_overview): per day it adds up to ads_inventory_turnover.
- `reconciled` (warning, ads_sku_shop_daily): over the 7 days ending on a day it adds up to
  ads_sku_after_sale_7d's order counts per SKU.
- `well_defined` (warning, other ADS, and the API-health mart, its own asset: `HEALTH_CHECK`): ratios
  NULL exactly when their denominator is 0, never NaN or infinity; stock never negative; reorder
  suggestions never negative and only where the rule says.
"""

import dagster as dg
from clickhouse_connect.driver.client import Client

from qeasy.datasets import Dataset
from qeasy.warehouse.declared import grain_tables
from qeasy.warehouse.dws import FACTS
from qeasy.warehouse.health import TABLE as HEALTH
from qeasy.warehouse.refresh import Refresh
from qeasy_assets.partitions import daily

# The screens' marts that split or extend ads_shop_daily: per shop and day they add up to it.
# (columns compared, the mart's rows of a day)
ADDS_UP = {
    "ads_sales_hourly": (("out_orders", "out_qty", "out_amount"), "v_ads_sales_hourly"),
    "ads_region_daily": (("out_orders", "out_amount"), "v_ads_region_daily"),
    "ads_finance_daily": (("refund_amount",), "v_ads_finance_daily"),
}
MISMATCHES = """SELECT count() FROM
    (SELECT stat_date, shop_id, {sums} FROM {mart} WHERE stat_date IN {{days:Array(Date)}} GROUP BY ALL) AS m
    FULL JOIN (SELECT stat_date, shop_id, {columns} FROM v_ads_shop_daily
               WHERE stat_date IN {{days:Array(Date)}} AND {rows}) AS d
    USING (stat_date, shop_id) WHERE {differ}"""
# Stock by category covers every SKU of ads_inventory_turnover once per day.
OVERVIEW_MISMATCHES = """SELECT count() FROM
    (SELECT stat_date, sum(skus) AS skus, sum(end_qty) AS end_qty FROM v_ads_inventory_overview
     WHERE stat_date IN {days:Array(Date)} GROUP BY stat_date) AS m
    FULL JOIN (SELECT stat_date, count() AS skus, sum(end_qty) AS end_qty FROM v_ads_inventory_turnover
               WHERE stat_date IN {days:Array(Date)} GROUP BY stat_date) AS d
    USING (stat_date) WHERE m.skus != d.skus OR m.end_qty != d.end_qty"""
# The SKU-shop-day orders summed over the 7 days ending on each day give the SKU's 7-day counts.
SKU_WINDOW_MISMATCHES = """SELECT count() FROM
    (SELECT d.stat_date AS stat_date, m.sku_id AS sku_id, sum(m.out_orders) AS o, sum(m.refund_orders) AS r
     FROM v_ads_sku_shop_daily AS m CROSS JOIN (SELECT arrayJoin({days:Array(Date)}) AS stat_date) AS d
     WHERE m.stat_date BETWEEN d.stat_date - 6 AND d.stat_date GROUP BY stat_date, sku_id) AS m
    FULL JOIN (SELECT stat_date, sku_id, out_orders_7d AS o, refund_orders_7d AS r
               FROM v_ads_sku_after_sale_7d WHERE stat_date IN {days:Array(Date)}) AS a
    USING (stat_date, sku_id) WHERE m.o != a.o OR m.r != a.r"""
# A reorder row is one the formula selects: a positive suggestion or stock below its minimum.
# A forecast day has its 24 hours, actuals only for complete hours, and forecasts that add up.
BAD_FORECASTS = """SELECT count() FROM (SELECT stat_date, shop_id FROM ads_sales_forecast FINAL
    WHERE stat_date IN (SELECT stat_date FROM ads_sales_forecast WHERE {written})
    GROUP BY stat_date, shop_id
    HAVING count() != 24 OR uniqExact(hour) != 24 OR countIf(cumulative_forecast < -0.005) > 0
        OR countIf(actual_amount IS NULL AND cumulative_actual IS NOT NULL) > 0)"""
# An hour's error rate is errors / calls, NULL exactly without calls.
BAD_REORDERS = """SELECT countIf(suggested_qty < 0 OR NOT (suggested_qty > 0 OR below_min)
    OR NOT isFinite(daily_out) OR daily_out < 0) FROM ads_replenishment WHERE {written}"""

CHECKS = [
    *(
        dg.AssetCheckSpec(
            "latest_version",
            asset=table,
            blocking=True,
            partitions_def=daily,
            description="One row per grain; every record shows the lines of its newest version only.",
        )
        for table in (fact.table for fact in FACTS)
    ),
    *(
        dg.AssetCheckSpec(
            "latest_version",
            asset=dataset.wide.table,
            blocking=True,
            partitions_def=daily,
            description=f"One row per ({', '.join(dataset.grain)}), and it is the grain's newest version "
            "in DWD.",
        )
        for dataset in grain_tables()
    ),
    dg.AssetCheckSpec(
        "reconciled",
        asset="ads_shop_daily",
        partitions_def=daily,
        description="out_orders and refund_orders add up to the distinct orders of the wide tables.",
    ),
    *(
        dg.AssetCheckSpec(
            "reconciled",
            asset=table,
            partitions_def=daily,
            description=f"Adds up to ads_shop_daily per shop and day ({', '.join(columns)}).",
        )
        for table, (columns, _) in ADDS_UP.items()
    ),
    dg.AssetCheckSpec(
        "reconciled",
        asset="ads_inventory_overview",
        partitions_def=daily,
        description="Per day, the categories' SKUs and stock add up to ads_inventory_turnover.",
    ),
    dg.AssetCheckSpec(
        "reconciled",
        asset="ads_sku_shop_daily",
        partitions_def=daily,
        description="Summed over the 7 days ending on a day, its orders equal ads_sku_after_sale_7d's.",
    ),
    dg.AssetCheckSpec(
        "well_defined",
        asset="ads_sales_forecast",
        partitions_def=daily,
        description="24 hours per shop and day; no running sum past an incomplete hour; none negative.",
    ),
    dg.AssetCheckSpec(
        "well_defined",
        asset="ads_replenishment",
        partitions_def=daily,
        description="suggested_qty >= 0; every row has suggested_qty > 0 or stock below minimum.",
    ),
    dg.AssetCheckSpec(
        "well_defined",
        asset="ads_sku_after_sale_7d",
        partitions_def=daily,
        description="Rates are NULL exactly when there are no out orders; never NaN or infinity.",
    ),
    dg.AssetCheckSpec(
        "well_defined",
        asset="ads_inventory_turnover",
        partitions_def=daily,
        description="end_qty >= 0; turnover_days NULL exactly when out_qty_7d = 0, else finite.",
    ),
]


def _one(client: Client, query: str, **parameters) -> int:
    return int(client.query(query, parameters=parameters).result_rows[0][0])


def evaluate(client: Client, refresh: Refresh) -> list[dg.AssetCheckResult]:
    version = {"v": refresh.version}
    results = []
    for fact in FACTS:
        record, line = fact.key, fact.line
        # The records this refresh wrote, as readers see them now.
        rows = (f"SELECT * FROM v_{fact.table} WHERE {record} IN "
                f"(SELECT {record} FROM {fact.table} WHERE publish_version = {{v:UInt64}})")
        duplicates = _one(client, f"SELECT count() - uniqExact({record}, {line}) FROM ({rows})", **version)
        mixed = _one(client, f"SELECT count() FROM (SELECT {record} FROM ({rows}) GROUP BY {record} "
                             "HAVING uniqExact(ts) > 1)", **version)
        results.append(
            dg.AssetCheckResult(
                asset_key=fact.table,
                check_name="latest_version",
                passed=duplicates == 0 and mixed == 0,
                metadata={"records_checked": refresh.records.get(fact.dataset, 0),
                          "duplicate_grain_rows": duplicates, "records_with_several_versions": mixed},
            )
        )
    results += [_grain_check(client, refresh, dataset) for dataset in grain_tables()]
    days = {"days": refresh.days.get("ads_shop_daily", [])}
    ads = client.query("SELECT sum(out_orders), sum(refund_orders) FROM v_ads_shop_daily "
                       "WHERE stat_date IN {days:Array(Date)}", parameters=days).result_rows[0]
    out = _one(
        client,
        "SELECT uniqExact(io_id) FROM v_dws_sale_out WHERE status = 'Confirmed' AND shop_id IS NOT NULL "
        "AND io_date IS NOT NULL AND biz_date IN {days:Array(Date)}",  # biz_date: io_date's day
        **days,
    )
    refunds = _one(
        client,
        "SELECT uniqExact(as_id) FROM v_dws_after_sale WHERE is_refund = 1 AND shop_id IS NOT NULL "
        "AND biz_date IN {days:Array(Date)}",
        **days,
    )
    results.append(
        dg.AssetCheckResult(
            asset_key="ads_shop_daily",
            check_name="reconciled",
            severity=dg.AssetCheckSeverity.WARN,
            passed=(int(ads[0] or 0), int(ads[1] or 0)) == (out, refunds),
            metadata={
                "days_checked": len(days["days"]),
                "ads_out_orders": int(ads[0] or 0),
                "dws_out_orders": out,
                "ads_refund_orders": int(ads[1] or 0),
                "dws_refund_orders": refunds,
            },
        )
    )
    for table, (columns, mart) in ADDS_UP.items():
        # The finance mart has a row for every shop-day; the others only where there are out orders.
        rows = "1" if table == "ads_finance_daily" else "out_orders > 0"
        differing = _one(client, MISMATCHES.format(
            sums=", ".join(f"sum({c}) AS {c}" for c in columns), mart=mart, columns=", ".join(columns),
            rows=rows, differ=" OR ".join(f"m.{c} != d.{c}" for c in columns)),
            days=refresh.days.get(table, []))
        results.append(dg.AssetCheckResult(
            asset_key=table, check_name="reconciled", severity=dg.AssetCheckSeverity.WARN,
            passed=differing == 0,
            metadata={"days_checked": len(refresh.days.get(table, [])), "shop_days_differing": differing}))
    written = "publish_version = {v:UInt64} AND is_deleted = 0"
    bad_rates = _one(
        client,
        "SELECT countIf((after_sale_rate_7d IS NULL) != (out_orders_7d = 0) OR "
        f"NOT isFinite(ifNull(after_sale_rate_7d, 0))) FROM ads_sku_after_sale_7d WHERE {written}",
        **version,
    )
    bad_stock = _one(
        client,
        "SELECT countIf(end_qty < 0 OR (turnover_days IS NULL) != (out_qty_7d = 0) OR "
        f"NOT isFinite(ifNull(turnover_days, 0))) FROM ads_inventory_turnover WHERE {written}",
        **version,
    )
    overview_days = refresh.days.get("ads_inventory_overview", [])
    differing = _one(client, OVERVIEW_MISMATCHES, days=overview_days)
    results.append(dg.AssetCheckResult(
        asset_key="ads_inventory_overview", check_name="reconciled", severity=dg.AssetCheckSeverity.WARN,
        passed=differing == 0, metadata={"days_checked": len(overview_days), "days_differing": differing}))
    sku_days = refresh.days.get("ads_sku_shop_daily", [])
    differing = _one(client, SKU_WINDOW_MISMATCHES, days=sku_days)
    results.append(dg.AssetCheckResult(
        asset_key="ads_sku_shop_daily", check_name="reconciled", severity=dg.AssetCheckSeverity.WARN,
        passed=differing == 0, metadata={"days_checked": len(sku_days), "sku_days_differing": differing}))
    bad_reorders = _one(client, BAD_REORDERS.format(written=written), **version)
    bad_forecasts = _one(client, BAD_FORECASTS.format(written=written), **version)
    for table, bad in (("ads_sku_after_sale_7d", bad_rates), ("ads_inventory_turnover", bad_stock),
                       ("ads_replenishment", bad_reorders), ("ads_sales_forecast", bad_forecasts)):
        results.append(
            dg.AssetCheckResult(
                asset_key=table,
                check_name="well_defined",
                passed=bad == 0,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"rows_checked": refresh.written.get(table, 0), "bad_rows": bad},
            )
        )
    return results


def _grain_check(client: Client, refresh: Refresh, dataset: Dataset) -> dg.AssetCheckResult:
    """`latest_version` of a GRAIN table over the rows this refresh wrote: no grain twice in the view,
    and no older version shown where the table holds a newer live one."""
    table, grain = dataset.wide.table, ", ".join(dataset.grain)
    written = f"({grain}) IN (SELECT {grain} FROM {table} WHERE publish_version = {{v:UInt64}})"
    duplicates = _one(client, f"SELECT count() - uniqExact({grain}) FROM v_{table} WHERE {written}",
                      v=refresh.version)
    stale = _one(client, f"SELECT count() FROM v_{table} AS v JOIN (SELECT {grain}, max(ts) AS ts "
                         f"FROM {table} WHERE is_deleted = 0 AND {written} GROUP BY ALL) AS m "
                         f"USING ({grain}) WHERE v.ts < m.ts", v=refresh.version)
    return dg.AssetCheckResult(
        asset_key=table, check_name="latest_version", passed=duplicates == 0 and stale == 0,
        metadata={"records_checked": refresh.records.get(dataset.name, 0),
                  "duplicate_grain_rows": duplicates, "rows_older_than_their_newest": stale})


HEALTH_CHECK = dg.AssetCheckSpec(
    "well_defined",
    asset=HEALTH,
    partitions_def=daily,
    description="error_rate NULL exactly when an hour has no calls, else between 0 and 1.",
)
BAD_HEALTH = f"""SELECT countIf((error_rate IS NULL) != (calls = 0) OR NOT isFinite(ifNull(error_rate, 0))
    OR error_rate < 0 OR errors > calls) FROM {HEALTH}
    WHERE publish_version = {{v:UInt64}} AND is_deleted = 0"""


def evaluate_health(client: Client, version: int, written: int) -> dg.AssetCheckResult:
    """`well_defined` on the API-health rows publish `version` wrote."""
    bad = _one(client, BAD_HEALTH, v=version)
    return dg.AssetCheckResult(asset_key=HEALTH, check_name="well_defined", passed=bad == 0,
                               severity=dg.AssetCheckSeverity.WARN,
                               metadata={"rows_checked": written, "bad_rows": bad})
