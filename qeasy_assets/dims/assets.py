"""Dimensions in ClickHouse: `dim_shop` (the current shop list) and `dim_sku` (SKU versions by
modification day, plus every SKU the day's facts reference that the window queries did not list,
looked up by id, or, on an ERP without a lookup by id, found by a walk over the whole catalogue)."""

import json
import math
from dataclasses import replace
from datetime import date, timedelta

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from qeasy.cleanse.cleanse import cleanse, extract_all
from qeasy.cleanse.dwd import table_exists
from qeasy.datasets import ENDPOINTS, SHAPES
from qeasy.erp.client import CallStats
from qeasy.erp.times import day_of_date
from qeasy.ingest.pull import Puller
from qeasy.ingest.staging import lookup_calls, recently_searched, remember_unknown
from qeasy.warehouse.ads import COUNTED
from qeasy.warehouse.dims import missing_skus, publish_shops, publish_skus
from qeasy.warehouse.publish import insert
from qeasy.warehouse.quarantine import publish_quarantine
from qeasy_assets.columns import COLUMN_SCHEMA, clickhouse_columns
from qeasy_assets.dwd.assets import dwd_key
from qeasy_assets.ods.assets import SHOP_LIST_REFRESH, ods_key
from qeasy_assets.partitions import NEAR_REAL_TIME, daily, partition_days
from qeasy_assets.queues import ON_STAGING_HOST
from resources.clickhouse import ClickHouseResource
from resources.erp import ErpResource
from resources.quality import QualityResource

SKU = ENDPOINTS["sku"]
SKU_FIELD = next(f.name for f in SHAPES["sku"].header if f.out == "sku_id")  # as the ERP names it
SEARCH_AGAIN_HOURS = 24  # a SKU a catalogue walk did not find is looked for again after this
# The shop list is pulled once a day (01:00 Beijing) and dim_shop follows it: an hour late warns, two
# fail. (dim_sku is day-partitioned and refreshed with today's facts: NEAR_REAL_TIME.)
DAILY = dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=26), warn_window=timedelta(hours=25))


def _anomalies(rows: pl.DataFrame) -> int:
    return int(rows["is_anomaly"].sum()) if rows.height else 0


@dg.asset(
    op_tags=ON_STAGING_HOST,
    deps=[ods_key("shop")],
    group_name="dim",
    kinds={"polars", "clickhouse"},
    owners=["team:data-platform"],
    description="Shops (店铺维度): the merchant's current shop list, for names on every fact.",
    # Right after the daily pull of the shop list (same cron: it waits for ods_shop to update).
    automation_condition=SHOP_LIST_REFRESH,
    freshness_policy=DAILY,
    metadata={"table": "dim_shop", "view": "v_dim_shop", COLUMN_SCHEMA: clickhouse_columns("dim_shop")},
)
def dim_shop(staging: DuckDBResource, warehouse: ClickHouseResource) -> dg.MaterializeResult:
    with staging.get_connection() as conn:
        result = cleanse(extract_all(conn, SHAPES["shop"], None), SHAPES["shop"], {})
    with warehouse.session() as client:
        publish_shops(client, result.rows)
        publish_quarantine(client, result.quarantine)
    return dg.MaterializeResult(
        metadata={
            "rows": dg.MetadataValue.int(result.rows.height),
            "anomalous_rows": _anomalies(result.rows),
            "quarantine_entries": result.quarantine.height,
        }
    )


def _referenced(conn, days: list[date]) -> list[str]:
    """SKU ids the cleansed facts of `days` name."""
    parts = [
        f"SELECT sku_id FROM dwd.{dataset} WHERE partition_day IN (SELECT UNNEST(?::DATE[]))"
        for dataset in COUNTED
        if table_exists(conn, dataset)
    ]
    if not parts:
        return []
    query = " UNION ".join(parts)
    rows = conn.execute(
        f"SELECT DISTINCT sku_id FROM ({query}) WHERE sku_id IS NOT NULL", [days] * len(parts)
    )
    return [row[0] for row in rows.fetchall()]


def _look_up(erp: ErpResource, sku_ids: list[str], stats: CallStats) -> tuple[list[dict], int]:
    """The ERP's rows of `sku_ids` and the pages read: by id lists where the ERP takes them, else
    by walking the catalogue with its id cursor."""
    if not SKU.id_params:
        [pull] = Puller(erp.client, replace(SKU, window_days=None)).pull([0])
        stats.merge(pull.stats)
        if pull.dead:  # a walk given up on proves nothing missing: say why instead
            raise dg.Failure(f"the walk over the SKU catalogue gave up: {pull.dead[0].error}")
        wanted = set(sku_ids)
        return [row for row in pull.rows if str(row.get(SKU_FIELD)) in wanted], pull.pages
    (param, per_call), rows = next(iter(SKU.id_params.items())), []
    for first in range(0, len(sku_ids), per_call):
        data = erp.client.call(SKU.path, {param: ",".join(sku_ids[first : first + per_call]),
                                          **SKU.paging(1)}, stats)
        rows += (data or {}).get(SKU.rows_key) or []
    return rows, math.ceil(len(sku_ids) / per_call)


@dg.asset(
    op_tags=ON_STAGING_HOST,
    deps=[ods_key("sku"), *(dwd_key(dataset) for dataset in COUNTED)],
    group_name="dim",
    kinds={"api", "polars", "clickhouse"},
    owners=["team:data-platform"],
    partitions_def=daily,
    backfill_policy=dg.BackfillPolicy.single_run(),
    freshness_policy=NEAR_REAL_TIME,
    description="SKUs (商品维度): names, categories and prices, newest version of each SKU.",
    metadata={"table": "dim_sku", "view": "v_dim_sku", COLUMN_SCHEMA: clickhouse_columns("dim_sku")},
)
def dim_sku(
    context: dg.AssetExecutionContext,
    staging: DuckDBResource,
    warehouse: ClickHouseResource,
    erp: ErpResource,
    quality: QualityResource,
) -> dg.MaterializeResult:
    days = partition_days(context)
    shape, labels = SHAPES["sku"], quality.labels("sku")
    with staging.get_connection() as conn:
        listed = cleanse(extract_all(conn, shape, days), shape, labels)
        referenced = _referenced(conn, days)
    with warehouse.session() as client:
        publish_skus(client, listed.rows, "window", labels)
        publish_quarantine(client, listed.quarantine)
        missing = missing_skus(client, referenced)
    if missing and not SKU.id_params:
        # A walk over the whole catalogue is dear: SKUs it did not find are not searched again for a
        # day (a SKU that exists nowhere would otherwise cost one on every near-real-time run).
        with staging.get_connection() as conn:
            searched = recently_searched(conn, missing, SEARCH_AGAIN_HOURS)
        missing = [sku for sku in missing if sku not in searched]
    stats = CallStats()
    found, pages = _look_up(erp, missing, stats) if missing else ([], 0)
    if stats.calls:  # lookups spend the shared budget too: API health counts them
        with warehouse.session() as client:
            insert(client, "ops_api_calls", lookup_calls(SKU, day_of_date(max(days)), found, pages, stats,
                                                         context.run.run_id))
    anomalies = _anomalies(listed.rows)
    if found:
        lookup = pl.DataFrame(
            {
                "partition_day": [max(days)] * len(found),
                "record_key": [str(row.get(SKU_FIELD)) for row in found],
                "version": [None] * len(found),
                "payload": [json.dumps(row, ensure_ascii=False) for row in found],
            },
            schema={
                "partition_day": pl.Date,
                "record_key": pl.String,
                "version": pl.Int64,
                "payload": pl.String,
            },
        )
        with staging.get_connection() as conn:
            conn.register("sku_lookup", lookup.to_arrow())
            result = cleanse(extract_all(conn, shape, None, table="sku_lookup"), shape, labels)
            conn.unregister("sku_lookup")
        with warehouse.session() as client:
            publish_skus(client, result.rows, "id lookup", labels)
            publish_quarantine(client, result.quarantine)
        anomalies += _anomalies(result.rows)
    unknown = sorted(set(missing) - {str(row.get(SKU_FIELD)) for row in found})
    if unknown and not SKU.id_params:
        with staging.get_connection() as conn:
            remember_unknown(conn, unknown)
    if unknown:
        context.log.warning(
            f"{len(unknown)} SKU(s) referenced by facts exist nowhere in the ERP: {', '.join(unknown[:10])}"
        )
    return dg.MaterializeResult(
        metadata={
            "rows": dg.MetadataValue.int(listed.rows.height + len(found)),
            "listed": listed.rows.height,
            "anomalous_rows": anomalies,
            "found_by_id": len(found),
            "unknown_to_erp": len(unknown),
            **stats.summary(),
            "unknown_examples": ", ".join(unknown[:20]) or "none",
        }
    )
