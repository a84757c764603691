"""DWS wide tables: the latest version of every record, joined with its dimensions.

The latest version of a record is the one with the highest `ts`, then `modified`, across every
staged day (DWD keeps them all); its lines replace every older version's. A refresh republishes
only the records staging logged as changed (`dwd.changes`): each one's lines as they are now, and
deletion rows for lines it no longer has (or for the whole record if it vanished), in one insert.
So re-running any day, in any order, gives the same contents, and an order's vanished lines are gone.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date

import duckdb
import polars as pl
from clickhouse_connect.driver.client import Client

from qeasy.cleanse.fields import DTYPES, GRAIN
from qeasy.datasets import PUBLISHED, Dataset, Style
from qeasy.warehouse import state
from qeasy.warehouse.dims import shop_names, sku_attributes
from qeasy.warehouse.publish import insert, key_table, upsert

CHUNK_RECORDS = 50_000  # records republished per insert: memory stays flat, one part per partition


@dataclass(frozen=True)
class Fact:
    """A dataset published in the LINES style, as the publishing reads its declaration."""

    dataset: str
    table: str
    key: str  # the record id
    line: str  # the line id; (key, line) is the grain
    derive: Callable[[pl.DataFrame], pl.DataFrame] | None = None  # columns of the table's own


FACTS = tuple(Fact(d.name, d.wide.table, d.record, d.line, d.wide.derive)
              for d in PUBLISHED if d.wide.style is Style.LINES)


def _latest(dataset: str, key: str, where: str) -> str:
    """DuckDB: the rows of the latest version of each record `where` selects (one staged day wins
    a tie)."""
    return f"""
        WITH rows AS (SELECT * FROM dwd.{dataset} {where}),
        pick AS (
            SELECT {key}, partition_day
            FROM (SELECT DISTINCT {key}, ts, modified, partition_day FROM rows)
            QUALIFY row_number() OVER (PARTITION BY {key}
                ORDER BY ts DESC NULLS LAST, modified DESC NULLS LAST, partition_day DESC) = 1)
        SELECT rows.* FROM rows JOIN pick USING ({key}, partition_day)"""


@dataclass(frozen=True)
class Dimensions:
    """SKU and shop attributes joined onto facts (read once per refresh)."""

    skus: pl.DataFrame
    shops: pl.DataFrame

    @classmethod
    def read(cls, client: Client) -> "Dimensions":
        return cls(sku_attributes(client).with_columns(_in_dim=pl.lit(True)), shop_names(client))

    def join(self, frame: pl.DataFrame) -> pl.DataFrame:
        """The SKU's attributes where `frame` has a sku_id, the shop's name where it has a shop_id."""
        if "sku_id" in frame.columns:
            own = pl.col("i_id") if "i_id" in frame.columns else pl.lit(None, pl.String)
            frame = frame.join(self.skus, on="sku_id", how="left").with_columns(
                i_id=pl.coalesce(own, "dim_i_id"),
                sku_missing=(pl.col("sku_id").is_not_null() & pl.col("_in_dim").is_null()).cast(pl.UInt8),
            )
        if "shop_id" in frame.columns:
            own = [pl.col("shop_name")] if "shop_name" in frame.columns else []
            frame = frame.join(self.shops, on="shop_id", how="left").with_columns(
                shop_name=pl.coalesce("dim_shop_name", *own))
        return frame


def _published(frame: pl.DataFrame) -> pl.DataFrame:
    """Wide-table values from DWD ones (the insert keeps the table's columns)."""
    return frame.with_columns(
        ts=pl.col("ts").fill_null(0).cast(pl.UInt64),
        source_day=pl.col("partition_day"),
        **({"is_gift": pl.col("is_gift").fill_null(False).cast(pl.UInt8)}
           if "is_gift" in frame.columns else {}),
    )


def _chunks(keys: pl.Series, size: int = CHUNK_RECORDS) -> Iterator[pl.Series]:
    keys = keys.drop_nulls().unique().sort()
    for start in range(0, keys.len(), size):
        yield keys.slice(start, size)


def _wide(dims: Dimensions, fact: Fact, frame: pl.DataFrame) -> pl.DataFrame:
    """Wide-table rows of one fact from its DWD rows."""
    frame = dims.join(frame)
    return _published(fact.derive(frame) if fact.derive else frame)


def _month(day: pl.Expr) -> pl.Expr:
    return (day.dt.year() * 100 + day.dt.month()).cast(pl.UInt32)


def publish_fact(conn: duckdb.DuckDBPyConnection, client: Client, dims: Dimensions, fact: Fact,
                 keys: pl.Series, version: int) -> int:
    """Republish the records `keys` (ids) of `fact.table` from their latest versions in DWD, noting
    the business days of their old and new versions as pending; the records republished."""
    records = 0
    for chunk in _chunks(keys):
        low, high = chunk[0], chunk[-1]
        ids = pl.DataFrame({"k": chunk})
        conn.register("changed_keys", ids.to_arrow())
        try:
            where = f"WHERE {fact.key} BETWEEN ? AND ? AND {fact.key} IN (SELECT k FROM changed_keys)"
            new = pl.from_arrow(conn.execute(_latest(fact.dataset, fact.key, where), [low, high])
                                .to_arrow_table())
        finally:
            conn.unregister("changed_keys")
        with key_table(client, ids, "k Int64") as table:
            scope = f"{fact.key} BETWEEN {low} AND {high} AND {fact.key} IN (SELECT k FROM {table})"
            old = client.query_df_arrow(
                f"SELECT {fact.key}, any(part_month) AS part_month, groupUniqArray(biz_date) AS days "
                f"FROM {fact.table} FINAL WHERE {scope} GROUP BY {fact.key}", dataframe_library="polars")
            # A record keeps the partition of the month it was first published in.
            rows = _wide(dims, fact, new).join(old.drop("days"), on=fact.key, how="left").with_columns(
                part_month=pl.coalesce("part_month", _month(pl.col("biz_date"))))
            days = set(old["days"].explode().drop_nulls()) | set(rows["biz_date"].drop_nulls())
            state.add_pending_days(client, fact.dataset, days)  # before the write: see state.py
            upsert(client, fact.table, f"{fact.key}, {fact.line}", scope, version,
                   lambda stage, rows=rows: insert(client, stage, rows))
        records += chunk.len()
    return records


def found_skus(client: Client, fact: Fact) -> pl.Series:
    """Ids of the records published with a SKU missing from dim_sku that dim_sku has now (found by
    id since): their lines get the SKU's attributes. Candidates come from any row version, the
    check from each record's newest one."""
    return client.query_df_arrow(
        f"SELECT {fact.key} FROM {fact.table} WHERE {fact.key} IN (SELECT {fact.key} FROM {fact.table} "
        f"WHERE sku_missing = 1 AND sku_id IN (SELECT sku_id FROM dim_sku)) GROUP BY {fact.key} "
        "HAVING argMax(sku_missing, publish_version) = 1 AND argMax(is_deleted, publish_version) = 0",
        dataframe_library="polars").get_column(fact.key)


def publish_inventory(conn: duckdb.DuckDBPyConnection, client: Client, dims: Dimensions,
                      skus: pl.Series, version: int) -> int:
    """Republish the current stock of `skus` (their latest inventory version)."""
    ids = pl.DataFrame({"k": skus.drop_nulls().unique()})
    conn.register("changed_keys", ids.to_arrow())
    try:
        current = pl.from_arrow(conn.execute(_latest(
            "inventory", "sku_id", "WHERE sku_id IN (SELECT k FROM changed_keys)")).to_arrow_table())
    finally:
        conn.unregister("changed_keys")
    rows = _published(dims.join(current))
    with key_table(client, ids, "k String") as table:
        upsert(client, "dws_inventory", "sku_id", f"sku_id IN (SELECT k FROM {table})", version,
               lambda stage: insert(client, stage, rows))
    return ids.height


# The end-of-day cells a refresh recomputes: loaded days from each changed SKU's first changed day on,
# and every SKU on the days loaded for the first time.
CELLS = """
    WITH loaded AS (SELECT UNNEST(?::DATE[]) AS stat_date),
         cells AS (SELECT l.stat_date, c.record_key AS sku_id FROM changed_skus c
                   JOIN loaded l ON l.stat_date >= c.first_day
                   UNION SELECT l.stat_date, s.sku_id FROM (SELECT DISTINCT sku_id FROM dwd.inventory) s
                   JOIN loaded l ON l.stat_date IN (SELECT UNNEST(?::DATE[])))"""
END_OF_DAY = CELLS + """,
         v AS (SELECT sku_id, coalesce(ts, 0) AS ts, modified, qty, min_qty, purchase_qty, is_anomaly
               FROM dwd.inventory WHERE modified IS NOT NULL AND sku_id IN (SELECT sku_id FROM cells))
    SELECT stat_date, sku_id, last.qty AS end_qty, last.min_qty AS min_qty, last.ts::UBIGINT AS ts,
           last.is_anomaly::UTINYINT AS is_anomaly, last.purchase_qty AS purchase_qty
    FROM (SELECT c.stat_date, c.sku_id,
                 arg_max({'qty': qty, 'min_qty': min_qty, 'purchase_qty': purchase_qty, 'ts': ts,
                          'is_anomaly': is_anomaly},
                         (v.ts, v.modified)) AS last
          FROM cells c JOIN v ON v.sku_id = c.sku_id AND v.modified < c.stat_date + INTERVAL 1 DAY
          GROUP BY ALL)"""


def publish_inventory_daily(conn: duckdb.DuckDBPyConnection, client: Client, changed: pl.DataFrame,
                            new_days: list[date], loaded: list[date], version: int) -> None:
    """Republish end-of-day stock for the cells that can change (CELLS; `changed`: record_key and
    first_day of the SKUs changed), noting their days as pending."""
    conn.register("changed_skus", changed.to_arrow())
    try:
        cells = conn.execute(CELLS + " SELECT DISTINCT stat_date, sku_id FROM cells", [loaded, new_days]).pl()
        daily = conn.execute(END_OF_DAY, [loaded, new_days]).pl()
    finally:
        conn.unregister("changed_skus")
    if cells.is_empty():
        return
    state.add_pending_days(client, "inventory", set(cells["stat_date"]))
    with key_table(client, cells, "stat_date Date, sku_id String") as table:
        upsert(client, "dws_inventory_daily", "stat_date, sku_id",
               f"(stat_date, sku_id) IN (SELECT stat_date, sku_id FROM {table})", version,
               lambda stage: insert(client, stage, daily))


# GRAIN tables (the unique-code flow): one row per grain, published by the latest-version rule.
def grain_types(dataset: Dataset) -> dict[str, pl.DataType]:
    """The grain columns of `dataset` and their types, in order."""
    return {f.out: DTYPES[f.kind] for f in dataset.shape.fields if f.kind in GRAIN}


def _structure(dataset: Dataset) -> str:
    """The grain as the columns of a ClickHouse key table."""
    return ", ".join(f"{name} {'String' if kind == pl.String else 'Int64'}"
                     for name, kind in grain_types(dataset).items())


def _latest_grains(dataset: Dataset) -> str:
    """DuckDB: the newest version of every grain that the staged record keys `changed_keys` touch
    (ties: the version time, then the later staged day)."""
    grain, fields = ", ".join(dataset.grain), {f.out for f in dataset.shape.fields}
    tie = next((f"{name} DESC NULLS LAST, " for name in (dataset.endpoint.version_field,
                                                         dataset.endpoint.time_field)
                if name in fields and name != "ts"), "")
    return f"""
    WITH touched AS (SELECT DISTINCT {grain} FROM dwd.{dataset.name}
                     WHERE record_key IN (SELECT k FROM changed_keys))
    SELECT d.* FROM dwd.{dataset.name} d JOIN touched USING ({grain})
    QUALIFY row_number() OVER (PARTITION BY {grain}
        ORDER BY ts DESC NULLS LAST, {tie}partition_day DESC) = 1"""


def grain_keys(dataset: Dataset, record_keys: pl.Series) -> pl.DataFrame:
    """The grain of staged record keys ('|'-joined primary key); a key that is not such a tuple (a
    record missing part of it) never reached DWD, so it has nothing to delete."""
    types = grain_types(dataset)
    pattern = "^(.*)" + r"\|([^|]*)" * (len(types) - 1) + "$"
    parts = pl.DataFrame({"p": record_keys.cast(pl.String).str.extract_groups(pattern)}).unnest("p")

    def typed(n: int, kind: pl.DataType) -> pl.Expr:
        text = pl.col(str(n + 1))
        if kind == pl.String:
            return text.str.strip_chars()
        return text.cast(pl.Float64, strict=False).cast(pl.Int64, strict=False)

    return parts.select(**{name: typed(n, kind) for n, (name, kind) in enumerate(types.items())}) \
        .drop_nulls().unique()


def published_grains(client: Client, dataset: Dataset) -> pl.DataFrame:
    """Every grain `dataset`'s table holds (a rebuild deletes those staging no longer has)."""
    return client.query_df_arrow(f"SELECT DISTINCT {', '.join(dataset.grain)} FROM {dataset.wide.table} "
                                 "FINAL", dataframe_library="polars")


def publish_grain(conn: duckdb.DuckDBPyConnection, client: Client, dims: Dimensions, dataset: Dataset,
                  keys: pl.Series, version: int, published: pl.DataFrame | None = None,
                  counted: bool = False) -> int:
    """Republish the rows of the records `keys` (record keys) from their latest versions in DWD, and
    delete the published rows of those keys (and of `published`, grains: a rebuild) that DWD no
    longer has; the records republished. A dataset a metric `counted` notes the business days of
    the old and new versions as pending."""
    records, table, types = 0, dataset.wide.table, grain_types(dataset)
    grain = ", ".join(types)
    extra = published if published is not None else pl.DataFrame(schema=types)
    chunks = list(_chunks(keys.cast(pl.String))) or ([pl.Series([], dtype=pl.String)] if extra.height else [])
    for n, chunk in enumerate(chunks):
        conn.register("changed_keys", pl.DataFrame({"k": chunk}).to_arrow())
        try:
            new = pl.from_arrow(conn.execute(_latest_grains(dataset)).to_arrow_table())
        finally:
            conn.unregister("changed_keys")
        scope = pl.concat([grain_keys(dataset, chunk), new.select(list(types)), *([extra] if n == 0 else [])],
                          how="vertical_relaxed").unique()
        with key_table(client, scope, _structure(dataset)) as keyed:
            where = f"({grain}) IN (SELECT {grain} FROM {keyed})"
            old = client.query_df_arrow(f"SELECT {grain}, any(part_month) AS part_month, "
                                        f"any(biz_date) AS day FROM {table} FINAL WHERE {where} GROUP BY ALL",
                                        dataframe_library="polars")
            if counted:  # before the write: see state.py
                days = set(old["day"]) | set(new["biz_date"].drop_nulls())
                state.add_pending_days(client, dataset.name, days)
            # A row keeps the partition of the month it was first published in.
            rows = _published(dims.join(new)).join(old.drop("day"), on=list(types), how="left")
            rows = rows.with_columns(part_month=pl.coalesce("part_month", _month(pl.col("biz_date"))))
            upsert(client, table, grain, where, version, lambda stage, rows=rows: insert(client, stage, rows))
        records += chunk.len()
    return records
