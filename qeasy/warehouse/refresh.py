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

from qeasy.cleanse.dwd import changes, forget_changes, loaded_days, newest_change, staging_id, table_exists
from qeasy.warehouse import state
from qeasy.warehouse.ads import ADS, publish_metrics, window
from qeasy.warehouse.dws import (
    FACTS,
    Dimensions,
    Published,
    found_skus,
    publish_fact,
    publish_inventory,
    publish_inventory_daily,
)
from qeasy.warehouse.publish import written

FACT_DATASETS = ("sales_out", "after_sale", "inventory")


@dataclass
class Refresh:
    version: int  # the publish version of every row this refresh wrote
    days: dict[str, list[date]] = field(default_factory=dict)  # table -> days whose rows it rewrote
    written: dict[str, int] = field(default_factory=dict)  # table -> rows written (new and deletion rows)
    records: dict[str, int] = field(default_factory=dict)  # dataset -> records republished


def _ids(keys: pl.Series) -> pl.Series:
    """Record ids from staged record keys (key-less records never reach DWD)."""
    return keys.cast(pl.Int64, strict=False).drop_nulls()


def _published_ids(client: Client, table: str, key: str) -> pl.Series:
    return client.query_df_arrow(f"SELECT DISTINCT {key} FROM {table} FINAL",
                                 dataframe_library="polars").get_column(key)


def refresh(conn: duckdb.DuckDBPyConnection, client: Client) -> Refresh:
    """Bring the published tables up to date with DWD staging (see the module docstring)."""
    now = state.begin(client, staging_id(conn))
    upto = newest_change(conn)
    loaded = loaded_days(conn, FACT_DATASETS)
    already = state.published_days(client)
    new_days = set(loaded) - already
    dims = Dimensions.read(client)
    result = Refresh(now.version)
    touched: dict[str, Published] = {}
    for fact in FACTS:
        if not table_exists(conn, fact.dataset):
            continue
        after = now.published.get(fact.dataset)
        keys = _ids(changes(conn, fact.dataset, after, upto)["record_key"])
        # A rebuild also republishes what is published, so that records staging no longer has go.
        extra = _published_ids(client, fact.table, fact.key) if after is None else found_skus(client, fact)
        touched[fact.dataset] = publish_fact(conn, client, dims, fact, pl.concat([keys, extra]),
                                             now.version)
    inventory_days: set[date] = set()
    if table_exists(conn, "inventory"):
        after = now.published.get("inventory")
        changed = changes(conn, "inventory", after, upto)
        if after is None:  # a rebuild: every SKU from the first day, and those published before
            published = _published_ids(client, "dws_inventory", "sku_id")
            changed = pl.concat([changed, pl.DataFrame({"record_key": published, "first_day": min(loaded)},
                                                       schema=changed.schema)]) if loaded else changed
        result.records["inventory"] = publish_inventory(conn, client, dims, changed["record_key"],
                                                        now.version)
        inventory_days = publish_inventory_daily(conn, client, changed, sorted(new_days), loaded, now.version)
    for dataset, published in touched.items():
        result.records[dataset] = published.records
    sales = touched.get("sales_out", Published()).days
    refunds = touched.get("after_sale", Published()).days
    rebuild = any(now.published.get(dataset) is None for dataset in FACT_DATASETS)
    metric_days = {
        "ads_shop_daily": sales | refunds,
        "ads_sku_after_sale_7d": window(sales | refunds),
        "ads_inventory_turnover": window(sales) | inventory_days,
    }
    stale = already - set(loaded) if rebuild else set()
    for table in ADS:
        days = (metric_days[table] | new_days) & set(loaded)
        publish_metrics(client, table, days, stale, now.version)
        result.days[table] = sorted(days | stale)
    state.add_published_days(client, new_days)
    state.commit(client, now, dict.fromkeys(FACT_DATASETS, upto))
    forget_changes(conn, upto)
    for fact in FACTS:
        result.days[fact.table] = sorted(touched.get(fact.dataset, Published()).days)
    result.days["dws_inventory_daily"] = sorted(inventory_days)
    tables = [fact.table for fact in FACTS] + ["dws_inventory", "dws_inventory_daily", *ADS]
    result.written = {table: written(client, table, now.version) for table in tables}
    return result
