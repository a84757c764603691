"""One warehouse refresh: publish what staging changed since the last refresh, then recompute the
metric days those changes touch.

The work follows the changes, not the volume of a day or a month: the records DWD logged as changed
(`dwd.changes`) are republished, each metric day their old or new versions fall on (and every 7-day
window holding one) is recomputed, and so is every day ingested for the first time. A warehouse
without state for this staging file (new, wiped, or just migrated) is rebuilt from staging whole.
"""

from dataclasses import dataclass, field
from datetime import date

import duckdb
import polars as pl
from clickhouse_connect.driver.client import Client

from qeasy.cleanse import shapes
from qeasy.cleanse.dwd import changes, forget_changes, loaded_days, newest_change, staging_id, table_exists
from qeasy.warehouse import state
from qeasy.warehouse.ads import ADS, publish_metrics, window
from qeasy.warehouse.dws import (
    FACTS,
    FLOW_GRAIN,
    FLOW_TABLE,
    Dimensions,
    Fact,
    found_skus,
    publish_fact,
    publish_flow,
    publish_inventory,
    publish_inventory_daily,
)
from qeasy.warehouse.forecast import TABLE as FORECAST
from qeasy.warehouse.forecast import publish_forecast
from qeasy.warehouse.publish import written

STOCK = ("dws_inventory", "dws_inventory_daily")


@dataclass
class Refresh:
    version: int  # the publish version of every row this refresh wrote
    days: dict[str, list[date]] = field(default_factory=dict)  # table -> days whose rows it rewrote
    written: dict[str, int] = field(default_factory=dict)  # table -> rows written (new and deletion rows)
    records: dict[str, int] = field(default_factory=dict)  # dataset -> records republished


def _published_ids(client: Client, table: str, key: str) -> pl.Series:
    return client.query_df_arrow(f"SELECT DISTINCT {key} FROM {table} FINAL",
                                 dataframe_library="polars").get_column(key)


def _facts(conn: duckdb.DuckDBPyConnection, client: Client, dims: Dimensions, fact: Fact,
           now: state.PublishState, upto: int) -> int:
    """Republish the records of one fact dataset that changed (all of them in a rebuild, with every
    record published before, so that those staging no longer has go)."""
    after = now.published.get(fact.dataset)
    staged = changes(conn, fact.dataset, after, upto)["record_key"]
    ids = staged.cast(pl.Int64, strict=False).drop_nulls()  # key-less records never reach DWD
    extra = _published_ids(client, fact.table, fact.key) if after is None else found_skus(client, fact)
    return publish_fact(conn, client, dims, fact, pl.concat([ids, extra]), now.version)


def _stock(conn: duckdb.DuckDBPyConnection, client: Client, dims: Dimensions, now: state.PublishState,
           upto: int, loaded: list[date], new_days: set[date]) -> int:
    """Republish current and end-of-day stock of the SKUs that changed (all in a rebuild)."""
    after = now.published.get("inventory")
    changed = changes(conn, "inventory", after, upto)
    if after is None and loaded:  # a rebuild: from the first day, SKUs published before included
        published = pl.DataFrame({"record_key": _published_ids(client, "dws_inventory", "sku_id"),
                                  "first_day": min(loaded)}, schema=changed.schema)
        changed = pl.concat([changed, published])
    publish_inventory_daily(conn, client, changed, sorted(new_days), loaded, now.version)
    return publish_inventory(conn, client, dims, changed["record_key"], now.version)


def _flows(conn: duckdb.DuckDBPyConnection, client: Client, dims: Dimensions, now: state.PublishState,
           upto: int) -> int:
    """Republish the unique-code flow rows that changed (all, and every row published before, in a
    rebuild)."""
    after = now.published.get("unique_code")
    staged = changes(conn, "unique_code", after, upto)["record_key"]
    published = None if after is not None else client.query_df_arrow(
        f"SELECT DISTINCT {FLOW_GRAIN} FROM {FLOW_TABLE} FINAL", dataframe_library="polars")
    return publish_flow(conn, client, dims, staged, now.version, published)


def refresh(conn: duckdb.DuckDBPyConnection, client: Client, settings: dict | None = None) -> Refresh:
    """Bring the published tables up to date with DWD staging (see the module docstring);
    `settings`: the marts' query parameters (resources.marts)."""
    now = state.begin(client, staging_id(conn))
    upto = newest_change(conn)
    loaded = loaded_days(conn, shapes.FACTS)
    already = state.published_days(client)
    new_days = set(loaded) - already
    dims = Dimensions.read(client)
    result = Refresh(now.version)
    for fact in FACTS:
        if table_exists(conn, fact.dataset):
            result.records[fact.dataset] = _facts(conn, client, dims, fact, now, upto)
    if table_exists(conn, "inventory"):
        result.records["inventory"] = _stock(conn, client, dims, now, upto, loaded, new_days)
    if table_exists(conn, "unique_code"):
        result.records["unique_code"] = _flows(conn, client, dims, now, upto)

    # Business days noted by the publishing above, and any a refresh that died left behind.
    pending = state.pending_days(client)
    sales, refunds, stock = (pending.get(name, set()) for name in shapes.FACTS)
    metric_days = {"ads_shop_daily": sales | refunds, "ads_sku_after_sale_7d": window(sales | refunds),
                   "ads_inventory_turnover": window(sales) | stock, "ads_sales_hourly": sales,
                   "ads_region_daily": sales, "ads_finance_daily": sales | refunds,
                   "ads_sku_shop_daily": sales | refunds}
    metric_days |= dict.fromkeys(("ads_inventory_overview", "ads_replenishment"),
                                 metric_days["ads_inventory_turnover"])
    # The flow feeds no metric: publishing it whole for the first time rebuilds no metric day.
    rebuild = any(dataset not in now.published for dataset in result.records if dataset in shapes.FACTS)
    stale = already - set(loaded) if rebuild else set()  # days no longer staged lose their metrics
    for table in ADS:
        days = (metric_days[table] | new_days) & set(loaded)
        publish_metrics(client, table, days, stale, now.version, settings)
        result.days[table] = sorted(days | stale)
    result.days[FORECAST] = publish_forecast(client, sales | new_days, loaded, stale, now.version)
    state.add_published_days(client, new_days)
    state.clear_pending_days(client)
    # Only the datasets staging has: one it gains later is published whole then.
    state.commit(client, now, dict.fromkeys(result.records, upto))
    forget_changes(conn, upto)

    result.days |= {fact.table: sorted(pending.get(fact.dataset, set())) for fact in FACTS}
    result.days["dws_inventory_daily"] = sorted(stock)
    tables = [fact.table for fact in FACTS] + [*STOCK, FLOW_TABLE, *ADS, FORECAST]
    result.written = {table: written(client, table, now.version) for table in tables}
    return result
