"""ODS assets: one per declared dataset, each pulling its days into DuckDB staging.

Checks beside them: `complete` (blocking: no dead letters, so nothing was skipped) and
`reconciled` (warning: the rows read equal the API's own `data_count` for each window), only where
the API reports counts (not the shop list or the unique-code flow).
"""

from dataclasses import replace
from datetime import datetime

import dagster as dg
from dagster_duckdb import DuckDBResource
from pydantic import Field

from qeasy.datasets import ENDPOINTS
from qeasy.erp.client import CallStats
from qeasy.erp.endpoints import Endpoint
from qeasy.erp.times import BEIJING, day_of_date, day_start_ms, format_bj
from qeasy.ingest.pull import DayPull, Puller
from qeasy.ingest.staging import staged_until, store
from qeasy.warehouse.publish import insert
from qeasy_assets.columns import ods_columns
from qeasy_assets.partitions import NEAR_REAL_TIME, daily, partition_days
from qeasy_assets.queues import ON_STAGING_HOST
from resources.clickhouse import ClickHouseResource
from resources.erp import ErpResource

# The near-real-time pull re-reads this much before the newest staged change: an edit committed a
# little late in the ERP, with an earlier modification time, is still caught.
OVERLAP_MS = 2 * 60 * 1000


SHOP_LIST_REFRESH = dg.AutomationCondition.on_cron("0 1 * * *", cron_timezone="Asia/Shanghai")


class PullConfig(dg.Config):
    """How an ODS materialisation reads its days."""

    since_staged: bool = Field(
        default=False,
        description="Read only what changed since the newest row already staged for each day "
        f"(minus {OVERLAP_MS // 60_000} minutes), keeping the rest: the near-real-time pull. A day with "
        "nothing staged is read whole. The daily refresh reads whole days.",
    )


def ods_key(dataset: str) -> dg.AssetKey:
    return dg.AssetKey(f"ods_{dataset}")


def _days(context: dg.AssetExecutionContext, endpoint: Endpoint) -> list[int]:
    if not endpoint.partitioned:
        return [day_of_date(datetime.now(BEIJING).date())]
    return [day_of_date(day) for day in partition_days(context)]


def _since(staging: DuckDBResource, endpoint: Endpoint, days: list[int]) -> dict[int, int]:
    """Per day with rows staged: the instant to read from (the newest staged change, minus the overlap)."""
    with staging.get_connection() as conn:
        newest = {day: staged_until(conn, endpoint, day) for day in days}
    return {day: max(day_start_ms(day), ms - OVERLAP_MS) for day, ms in newest.items() if ms is not None}


def _metadata(pulls: list[DayPull], written: int) -> dict:
    """What a person reads at a glance in the UI: volume, API health, completeness."""
    stats = CallStats()
    for pull in pulls:
        stats.merge(pull.stats)
    reconciled = [p for p in pulls if p.expected is not None]
    differing = sum(1 for p in reconciled if not p.reconciled)
    return {
        "rows": dg.MetadataValue.int(written),
        "days": len(pulls),
        "read": "changes since the last pull" if any(p.since is not None for p in pulls) else "whole days",
        "pages": sum(p.pages for p in pulls),
        **stats.summary(),
        "dead_letters": sum(len(p.dead) for p in pulls),
        "api_data_count": sum(p.expected for p in reconciled) if reconciled else None,
        "reconciliation": ("not reported by this API" if not reconciled
                           else "ok" if not differing else f"{differing} window(s) differ"),
    }


def _span(window: tuple[int, int]) -> str:
    return f"{format_bj(window[0])} .. {format_bj(window[1])}"


def build_ods_asset(endpoint: Endpoint) -> dg.AssetsDefinition:
    """The ODS asset of one endpoint-table row."""
    key = ods_key(endpoint.dataset)
    partitioned = endpoint.partitioned
    partitions = daily if partitioned else None
    checks = [dg.AssetCheckSpec("complete", asset=key, blocking=True, partitions_def=partitions,
                                description="No page or window was given up on (no open dead letters).")]
    if endpoint.has_counts:  # an API that reports no count gives the check nothing to compare
        checks.append(dg.AssetCheckSpec("reconciled", asset=key, partitions_def=partitions,
                                        description="Rows read per window equal the API's own data_count."))

    @dg.asset(
        key=key,
        description=endpoint.description,
        group_name="ods",
        kinds={"api", "duckdb"},
        owners=["team:data-platform"],
        partitions_def=partitions,
        backfill_policy=dg.BackfillPolicy.single_run() if partitioned else None,
        # Days come from the schedules (jobs/schedules.py); the shop list simply refreshes daily.
        automation_condition=None if partitioned else SHOP_LIST_REFRESH,
        check_specs=checks,
        freshness_policy=NEAR_REAL_TIME if partitioned else None,
        op_tags=ON_STAGING_HOST,
        metadata={"api_path": endpoint.path, "primary_key": ", ".join(endpoint.primary_key),
                  "duckdb_table": f"ods.{endpoint.dataset}", "dagster/column_schema": ods_columns()},
    )
    def ods_asset(context: dg.AssetExecutionContext, config: PullConfig, erp: ErpResource,
                  staging: DuckDBResource, warehouse: ClickHouseResource):
        days = _days(context, endpoint)
        since = _since(staging, endpoint, days) if config.since_staged and partitioned else {}
        puller = Puller(erp.client, endpoint, erp.concurrency, erp.max_slices)
        pulls, written = [], 0
        # A window (or part of a big one) at a time: memory stays bounded and a long backfill
        # keeps what it finished.
        for group in puller.groups(days, since):
            with staging.get_connection() as conn:
                stored, calls = store(conn, endpoint, group, context.run.run_id)
            with warehouse.session() as client:  # the contract's API-health table
                insert(client, "ops_api_calls", calls)
            written += stored
            pulls += [replace(pull, rows=[]) for pull in group]  # the figures stay, the rows go
            context.log.info(f"staged {len(pulls)}/{len(days)} day(s), {written:,} rows so far")
        metadata = _metadata(pulls, written)
        dead = [d for p in pulls for d in p.dead]
        for letter in dead:
            context.log.error(f"dead letter: {letter.dataset} {letter.request} -> {letter.error}")
        results = [dg.AssetCheckResult(
            check_name="complete", passed=not dead,
            metadata={"dead_letters": len(dead),
                      "windows": ", ".join(f"{d.request}" for d in dead[:10]) or "none"})]
        if endpoint.has_counts:
            unreconciled = [p for p in pulls if p.reconciled is False]
            results.append(dg.AssetCheckResult(
                check_name="reconciled", passed=not unreconciled, severity=dg.AssetCheckSeverity.WARN,
                metadata={"windows_differing": len(unreconciled),
                          "detail": "; ".join(f"{_span(p.window)}: API {p.expected}, read {p.got}"
                                              for p in unreconciled[:10]) or "none"}))
        yield dg.MaterializeResult(metadata=metadata, check_results=results)

    return ods_asset


ods_assets = [build_ods_asset(endpoint) for endpoint in ENDPOINTS.values()]
