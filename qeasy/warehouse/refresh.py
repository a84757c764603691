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
from qeasy.datasets import PUBLISHED, Dataset, Style
from qeasy.warehouse import state
from qeasy.warehouse.ads import COUNTED, METRICS, publish_metrics
from qeasy.warehouse.dws import (
    FACTS,
    Dimensions,
    Fact,
    found_skus,
    publish_fact,
    publish_grain,
    publish_inventory,
    publish_inventory_daily,
    published_grains,
)
from qeasy.warehouse.forecast import publish_forecast
from qeasy.warehouse.publish import written

DAILY_STOCK = "dws_inventory_daily"  # the STOCK style's second table (end-of-day stock)


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


def _stock(conn: duckdb.DuckDBPyConnection, client: Client, dims: Dimensions, dataset: Dataset,
           now: state.PublishState, upto: int, loaded: list[date], new_days: set[date]) -> int:
    """Republish current and end-of-day stock of the SKUs that changed (all in a rebuild)."""
    after = now.published.get(dataset.name)
    changed = changes(conn, dataset.name, after, upto)
    if after is None and loaded:  # a rebuild: from the first day, SKUs published before included
        published = pl.DataFrame({"record_key": _published_ids(client, dataset.wide.table, "sku_id"),
                                  "first_day": min(loaded)}, schema=changed.schema)
        changed = pl.concat([changed, published])
    publish_inventory_daily(conn, client, changed, sorted(new_days), loaded, now.version)
    return publish_inventory(conn, client, dims, changed["record_key"], now.version)


def _grains(conn: duckdb.DuckDBPyConnection, client: Client, dims: Dimensions, dataset: Dataset,
            now: state.PublishState, upto: int) -> int:
    """Republish the rows of a GRAIN dataset that changed (all, and every row published before, in a
    rebuild)."""
    after = now.published.get(dataset.name)
    staged = changes(conn, dataset.name, after, upto)["record_key"]
    published = None if after is not None else published_grains(client, dataset)
    return publish_grain(conn, client, dims, dataset, staged, now.version, published, dataset.name in COUNTED)


def tables() -> list[str]:
    """Every table a refresh writes, in the order it writes them."""
    wide = [name for d in PUBLISHED for name in (d.wide.table, *([DAILY_STOCK] if d.wide.daily else []))]
    return wide + [metric.table for metric in METRICS]


def refresh(conn: duckdb.DuckDBPyConnection, client: Client, settings: dict | None = None) -> Refresh:
    """Bring the published tables up to date with DWD staging (see the module docstring);
    `settings`: the marts' query parameters (resources.marts)."""
    now = state.begin(client, staging_id(conn))
    upto = newest_change(conn)
    loaded = loaded_days(conn, COUNTED)
    already = state.published_days(client)
    new_days = set(loaded) - already
    dims = Dimensions.read(client)
    result = Refresh(now.version)
    facts = {fact.dataset: fact for fact in FACTS}
    for dataset in PUBLISHED:
        if not table_exists(conn, dataset.name):
            continue
        style = dataset.wide.style
        result.records[dataset.name] = (
            _facts(conn, client, dims, facts[dataset.name], now, upto) if style is Style.LINES
            else _stock(conn, client, dims, dataset, now, upto, loaded, new_days) if style is Style.STOCK
            else _grains(conn, client, dims, dataset, now, upto))

    # Business days noted by the publishing above, and any a refresh that died left behind.
    pending = state.pending_days(client)
    # A dataset no metric counts: publishing it whole for the first time rebuilds no metric day.
    rebuild = any(dataset not in now.published for dataset in result.records if dataset in COUNTED)
    stale = already - set(loaded) if rebuild else set()  # days no longer staged lose their metrics
    for metric in METRICS:
        changed = metric.changed(pending) | new_days
        if metric.sql is None:  # the forecast: it widens its changed days itself
            result.days[metric.table] = publish_forecast(client, changed, loaded, stale, now.version)
            continue
        days = changed & set(loaded)
        publish_metrics(client, metric, days, stale, now.version, settings)
        result.days[metric.table] = sorted(days | stale)
    state.add_published_days(client, new_days)
    state.clear_pending_days(client)
    # Only the datasets staging has: one it gains later is published whole then.
    state.commit(client, now, dict.fromkeys(result.records, upto))
    forget_changes(conn, upto)

    result.days |= {fact.table: sorted(pending.get(fact.dataset, set())) for fact in FACTS}
    result.days[DAILY_STOCK] = sorted(set().union(*(pending.get(d.name, set()) for d in PUBLISHED
                                                    if d.wide.daily)))
    result.written = {table: written(client, table, now.version) for table in tables()}
    return result
