"""The published warehouse: DWS wide tables and ADS metrics in ClickHouse, refreshed together in one
step per day range so that metrics always agree with the wide tables they are computed from."""

from collections.abc import Iterator
from datetime import date

import dagster as dg
from clickhouse_connect.driver.client import Client
from dagster_duckdb import DuckDBResource

from qeasy.datasets import ENDPOINTS, PUBLISHED
from qeasy.warehouse.ads import METRICS
from qeasy.warehouse.health import TABLE as HEALTH
from qeasy.warehouse.health import publish_health
from qeasy.warehouse.publish import written
from qeasy.warehouse.refresh import DAILY_STOCK, refresh
from qeasy_assets.columns import COLUMN_SCHEMA, clickhouse_columns, markdown_table
from qeasy_assets.dwd.assets import dwd_key
from qeasy_assets.ods.assets import ods_key
from qeasy_assets.partitions import NEAR_REAL_TIME, daily, partition_days
from qeasy_assets.queues import ON_STAGING_HOST
from qeasy_assets.warehouse.checks import CHECKS, HEALTH_CHECK, evaluate, evaluate_health
from resources.alerting import AlertingResource
from resources.clickhouse import ClickHouseResource
from resources.marts import MartsResource

DIMS = [dg.AssetKey("dim_sku"), dg.AssetKey("dim_shop")]
# The fact wide tables pick each record's latest version in DuckDB and join the dimensions with
# polars; end-of-day stock is computed in DuckDB SQL; the metrics are ClickHouse SQL over the views.
FACT_KINDS = {"duckdb", "polars", "clickhouse"}


def _wide_tables() -> Iterator[tuple[str, str, list, set[str]]]:
    """(table, description, upstream, kinds) of each declared wide table."""
    for dataset in PUBLISHED:
        wide = dataset.wide
        yield wide.table, wide.description, [dwd_key(dataset.name), *DIMS], FACT_KINDS
        if wide.daily:
            yield DAILY_STOCK, wide.daily, [dwd_key(dataset.name)], {"duckdb", "clickhouse"}


def _attributes(name: str, group: str, kinds: set[str]) -> dict:
    """What every published table's asset says of itself in the UI."""
    return {"group_name": group, "kinds": kinds, "owners": ["team:data-platform"],
            "freshness_policy": NEAR_REAL_TIME,  # refreshed with today's partition by the nrt runs
            "metadata": {"table": name, "view": f"v_{name}", COLUMN_SCHEMA: clickhouse_columns(name)}}


SPECS = [
    *(dg.AssetSpec(name, description=text, deps=deps, **_attributes(name, "dws", set(kinds)))
      for name, text, deps, kinds in _wide_tables()),
    *(dg.AssetSpec(m.table, description=m.description, deps=list(m.reads),
                   **_attributes(m.table, "ads", set(m.kinds)))
      for m in METRICS),
]
TOP = 10  # rows of the at-a-glance tables

SHOPS = """SELECT shop_name, shop_id, out_orders, out_amount, refund_orders, after_sale_rate
    FROM v_ads_shop_daily WHERE stat_date = {day:Date} ORDER BY out_orders DESC, shop_id LIMIT {top:UInt32}"""
TOTALS = """SELECT sum(out_orders), sum(refund_orders) FROM v_ads_shop_daily WHERE stat_date = {day:Date}"""
SKUS = """SELECT sku_id, sku_name, out_orders_7d, refund_orders_7d, after_sale_rate_7d
    FROM v_ads_sku_after_sale_7d
    WHERE stat_date = {day:Date} AND out_orders_7d >= {n:UInt64} AND refund_orders_7d > 0
    ORDER BY after_sale_rate_7d DESC, out_orders_7d DESC, sku_id LIMIT {top:UInt32}"""
STOCK = """SELECT countIf(end_qty = 0), countIf(end_qty = 0 AND out_qty_7d > 0), countIf(below_min)
    FROM v_ads_inventory_turnover WHERE stat_date = {day:Date}"""


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value:.2%}"


def _shops(client: Client, day: date) -> str:
    """The day's top shops by out orders, as a markdown table."""
    rows = client.query(SHOPS, parameters={"day": day, "top": TOP}).result_rows
    if not rows:
        return f"**{day}**: no shop shipped or refunded"
    return f"**{day}**, top {TOP} shops by out orders\n\n" + markdown_table(
        ["shop", "out orders", "out amount", "refund orders", "after-sale rate"],
        [(f"{name or '?'} ({shop_id})", f"{orders:,}", f"{amount:,.2f}", f"{refunds:,}", _rate(rate))
         for name, shop_id, orders, amount, refunds, rate in rows])


def _skus(client: Client, day: date, min_orders: int) -> str:
    """The SKUs with the highest 7-day after-sale rates over at least the alert's minimum of out
    orders (below it a rate says little), as a markdown table."""
    least = max(min_orders, 1)
    rows = client.query(SKUS, parameters={"day": day, "top": TOP, "n": least}).result_rows
    if not rows:
        return f"**{day}**: no refunds on any SKU with at least {least} out orders in the 7 days"
    heading = f"**{day}**, 7 days, SKUs with at least {least} out orders (the alert minimum)"
    return heading + "\n\n" + markdown_table(
        ["SKU", "name", "out orders 7d", "refund orders 7d", "after-sale rate 7d"],
        [(sku_id, name, f"{orders:,}", f"{refunds:,}", _rate(rate))
         for sku_id, name, orders, refunds, rate in rows])


def glance(client: Client, day: date, min_orders: int) -> dict[str, dict]:
    """Per ADS table, what a person reads at a glance about `day` (the last day materialised); the
    numbers also chart over materialisations in the UI."""
    out_orders, refund_orders = client.query(TOTALS, parameters={"day": day}).result_rows[0]
    zero, stock_outs, below_min = client.query(STOCK, parameters={"day": day}).result_rows[0]
    # No out orders: no rate (warehouse.md's NULL), rather than a 0 that would chart as a good day.
    rate = {"after_sale_rate": dg.MetadataValue.float(round(refund_orders / out_orders, 4))} \
        if out_orders else {}
    return {
        "ads_shop_daily": {
            "day": str(day),
            "out_orders": dg.MetadataValue.int(int(out_orders or 0)),
            **rate,
            "shops": dg.MetadataValue.md(_shops(client, day)),
        },
        "ads_sku_after_sale_7d": {
            "day": str(day),
            "top_after_sale_rates": dg.MetadataValue.md(_skus(client, day, min_orders)),
        },
        "ads_inventory_turnover": {
            "day": str(day),
            "skus_at_zero_stock": dg.MetadataValue.int(int(zero)),
            "stock_outs": dg.MetadataValue.int(int(stock_outs)),  # at zero yet shipped in the 7 days: alerts
            "skus_below_min": dg.MetadataValue.int(int(below_min)),
        },
    }


@dg.multi_asset(
    name="warehouse",
    specs=SPECS,
    check_specs=CHECKS,
    partitions_def=daily,
    backfill_policy=dg.BackfillPolicy.single_run(),
    op_tags=ON_STAGING_HOST,  # the refresh reads DWD staging
)
def warehouse_assets(
    context: dg.AssetExecutionContext,
    staging: DuckDBResource,
    warehouse: ClickHouseResource,
    alerting: AlertingResource,
    marts: MartsResource,
):
    """Publish what staging changed since the last refresh, then recompute the metric days it touches."""
    days = partition_days(context)
    with staging.get_connection() as conn, warehouse.session() as client:
        result = refresh(conn, client, marts.parameters())
        check_results = evaluate(client, result)
        figures = glance(client, max(days), alerting.min_orders)
    for spec in SPECS:
        table = spec.key.to_user_string()
        changed = result.days.get(table, [])
        yield dg.MaterializeResult(
            asset_key=spec.key,
            metadata={
                "rows": dg.MetadataValue.int(result.written.get(table, 0)),  # written by this refresh
                "days_rewritten": len(changed),
                "days": _span(changed),
                **figures.get(table, {}),
            },
        )
    yield from check_results


@dg.asset(
    key=HEALTH,
    description="ERP API health by hour and dataset (异常监控): calls, errors, throttling, retries, p95 "
    "latency.",
    # Every step that calls the ERP records its calls in ops_api_calls: the pulls and the SKU lookups.
    deps=[*(ods_key(name) for name in ENDPOINTS), dg.AssetKey("dim_sku")],
    check_specs=[HEALTH_CHECK],
    partitions_def=daily,
    backfill_policy=dg.BackfillPolicy.single_run(),
    **_attributes(HEALTH, "ads", {"clickhouse"}),
)
def pipeline_health(warehouse: ClickHouseResource):
    """Recompute the hours of the API calls recorded since the last publish (warehouse only: no staging)."""
    with warehouse.session() as client:
        version, days = publish_health(client)
        rows = written(client, HEALTH, version)
        check = evaluate_health(client, version, rows)
    yield dg.MaterializeResult(metadata={"rows": dg.MetadataValue.int(rows), "days_rewritten": len(days),
                                         "days": _span(days)})
    yield check


def _span(days: list[date]) -> str:
    """A short text for a set of days: 'none', one day, or the first and last with a count."""
    if not days:
        return "none"
    return str(days[0]) if len(days) == 1 else f"{days[0]} .. {days[-1]} ({len(days)} days)"
