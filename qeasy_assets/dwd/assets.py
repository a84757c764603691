"""DWD assets: each staged dataset declared with a DWD table cleansed with polars into
`dwd.<dataset>` (DuckDB), flagged rows copied to `dq_quarantine` (ClickHouse), checked with pandera."""


import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource
from pydantic import Field

from qeasy.cleanse.dwd import cleanse_days, unstaged_days
from qeasy.cleanse.quality import dwd_schema
from qeasy.datasets import CLEANSED, DATASETS
from qeasy.warehouse.quarantine import publish_quarantine
from qeasy_assets.columns import COLUMN_SCHEMA, dwd_columns, markdown_table
from qeasy_assets.dwd.checks import check_specs, results
from qeasy_assets.ods.assets import ods_key
from qeasy_assets.partitions import NEAR_REAL_TIME, daily, partition_days
from qeasy_assets.queues import ON_STAGING_HOST
from resources.clickhouse import ClickHouseResource
from resources.quality import QualityResource

DAYS_PER_CHUNK = 7


class CleanseConfig(dg.Config):
    """How a DWD materialisation reads its days."""

    changed_only: bool = Field(
        default=False,
        description="Cleanse only the ODS rows staged since the day was last cleansed, unless the day "
        "was re-staged whole since: the near-real-time job. Otherwise each day is cleansed whole.",
    )


def dwd_key(dataset: str) -> dg.AssetKey:
    return dg.AssetKey(f"dwd_{dataset}")


def reasons(quarantine: pl.DataFrame, top: int = 10) -> str:
    """Quarantine entries per kind of reason, most frequent first, as a markdown table: the line id,
    quoted raw value or offending number is dropped, so 'line 7: qty < 0 (-3)' counts as 'qty < 0'."""
    if quarantine.is_empty():
        return "no quarantined values"
    kinds = quarantine.select(pl.col("reason").str.replace(r"^line [^:]*: ", "")
                              .str.replace(r" ('.*|\(.*\))$", "").alias("reason"))
    counts = kinds.group_by("reason").len().sort(["len", "reason"], descending=[True, False])
    return markdown_table(["reason", "entries"], counts.head(top).iter_rows())


def build_dwd_asset(dataset: str) -> dg.AssetsDefinition:
    declared = DATASETS[dataset]
    shape = declared.shape
    key = dwd_key(dataset)
    schema = dwd_schema(shape)

    @dg.asset(
        key=key,
        deps=[ods_key(dataset)],
        description=declared.dwd,
        group_name="dwd",
        kinds={"polars", "duckdb"},
        owners=["team:data-platform"],
        partitions_def=daily,
        backfill_policy=dg.BackfillPolicy.single_run(),
        freshness_policy=NEAR_REAL_TIME,
        check_specs=check_specs(key, daily),
        op_tags=ON_STAGING_HOST,
        metadata={"duckdb_table": f"dwd.{dataset}", "grain": ", ".join(shape.key),
                  COLUMN_SCHEMA: dwd_columns(dataset)},
    )
    def dwd_asset(
        context: dg.AssetExecutionContext,
        config: CleanseConfig,
        staging: DuckDBResource,
        warehouse: ClickHouseResource,
        quality: QualityResource,
    ):
        days = partition_days(context)
        labels = quality.labels(dataset)
        checked, quarantined, totals = [], [], {"records": 0, "rows": 0, "anomalies": 0, "only": 0, "lost": 0}
        for first in range(0, len(days), DAYS_PER_CHUNK):
            chunk = days[first : first + DAYS_PER_CHUNK]
            with staging.get_connection() as conn, warehouse.session() as client:
                missing = unstaged_days(conn, dataset, chunk)
                if missing:  # cleansing nothing would pass these days off as empty
                    raise dg.Failure(f"ods_{dataset} was never materialised for "
                                     f"{', '.join(map(str, missing[:5]))}: ingest those days first")
                for result, broken in cleanse_days(conn, shape, chunk, labels, schema, config.changed_only):
                    publish_quarantine(client, result.quarantine)
                    totals["records"] += result.records.height
                    totals["rows"] += result.rows.height
                    totals["anomalies"] += int(result.rows["is_anomaly"].sum())
                    only, lost = result.not_kept()
                    totals["only"] += only
                    totals["lost"] += lost
                    checked.append(broken)
                    quarantined.append(result.quarantine)
            done = first + len(chunk)
            context.log.info(f"cleansed {done}/{len(days)} day(s), {totals['rows']:,} rows so far")
        quarantine = pl.concat(quarantined)
        yield dg.MaterializeResult(
            metadata={
                "rows": dg.MetadataValue.int(totals["rows"]),
                "records": totals["records"],
                "anomalous_rows": totals["anomalies"],
                "anomaly_rate": dg.MetadataValue.float(
                    round(totals["anomalies"] / totals["rows"], 4) if totals["rows"] else 0.0),
                "quarantine_entries": quarantine.height,
                "records_only_in_quarantine": totals["only"],
                "quarantine_by_reason": dg.MetadataValue.md(reasons(quarantine)),
                "days": len(days),
            },
            check_results=results(pl.concat(checked), totals, quarantine, quality.max_anomaly_rate),
        )

    return dwd_asset


dwd_assets = [build_dwd_asset(dataset) for dataset in CLEANSED]
