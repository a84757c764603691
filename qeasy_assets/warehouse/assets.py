"""The published warehouse: DWS wide tables and ADS metrics in ClickHouse, refreshed together in one
step per day range so that metrics always agree with the wide tables they are computed from."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from qeasy.warehouse.refresh import refresh
from qeasy_assets.dwd.assets import dwd_key
from qeasy_assets.partitions import daily, partition_days
from qeasy_assets.warehouse.checks import CHECKS, evaluate
from resources.clickhouse import ClickHouseResource

DIMS = [dg.AssetKey("dim_sku"), dg.AssetKey("dim_shop")]
DWS = {
    "dws_sale_out": (
        "Sales-out lines (出库明细宽表), latest version of every order, with SKU and shop names.",
        [dwd_key("sales_out"), *DIMS],
    ),
    "dws_after_sale": (
        "After-sale lines (售后明细宽表), latest version of every order, refunds marked.",
        [dwd_key("after_sale"), *DIMS],
    ),
    "dws_inventory": (
        "Current stock per SKU (当前库存), summed over warehouses.",
        [dwd_key("inventory"), *DIMS],
    ),
    "dws_inventory_daily": (
        "End-of-day stock per SKU (日末库存), from the versions seen so far.",
        [dwd_key("inventory")],
    ),
}
ADS = {
    "ads_shop_daily": (
        "Shop-day metrics (店铺日报): out orders, quantities, amounts, refunds, after-sale rate.",
        ["dws_sale_out", "dws_after_sale"],
    ),
    "ads_sku_after_sale_7d": (
        "SKU after-sale rate over 7 days (商品7日售后率).",
        ["dws_sale_out", "dws_after_sale"],
    ),
    "ads_inventory_turnover": (
        "SKU stock, 7-day outflow and turnover days (库存周转), below-minimum flag.",
        ["dws_inventory_daily", "dws_sale_out"],
    ),
}
SPECS = [
    dg.AssetSpec(
        name,
        description=text,
        deps=deps,
        group_name="dws",
        kinds={"clickhouse"},
        owners=["team:data-platform"],
        metadata={"table": name, "view": f"v_{name}"},
    )
    for name, (text, deps) in DWS.items()
]
SPECS += [
    dg.AssetSpec(
        name,
        description=text,
        deps=deps,
        group_name="ads",
        kinds={"clickhouse"},
        owners=["team:data-platform"],
        metadata={"table": name, "view": f"v_{name}"},
    )
    for name, (text, deps) in ADS.items()
]


@dg.multi_asset(
    name="warehouse",
    specs=SPECS,
    check_specs=CHECKS,
    partitions_def=daily,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def warehouse_assets(
    context: dg.AssetExecutionContext, staging: DuckDBResource, warehouse: ClickHouseResource
):
    """Rebuild the DWS months the days' records touch, then the ADS months (and 7-day windows) they change."""
    days = partition_days(context)
    with staging.get_connection() as conn, warehouse.session() as client:
        result = refresh(conn, client, days)
        check_results = evaluate(client, result)
    for spec in SPECS:
        table = spec.key.to_user_string()
        months = sorted(result.months.get(table, set()))
        yield dg.MaterializeResult(
            asset_key=spec.key,
            metadata={
                "months_rebuilt": ", ".join(map(str, months)) or "none",
                "rows": dg.MetadataValue.int(result.rows.get(table, 0)),
            },
        )
    yield from check_results
