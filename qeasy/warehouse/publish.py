"""Writing to ClickHouse so that readers never see a half-applied change.

Published tables are ReplacingMergeTree(publish_version, is_deleted) (schema migration 4). A refresh
changes the rows of a scope (some records, some metric days) with `upsert`: the new rows go to a
staging copy, then ONE `INSERT ... SELECT` inside the server writes them with the refresh's publish
version together with deletion rows for what the scope held and no longer holds. Readers use FINAL
(the `v_` views), so they see the old rows or the new ones: the rows of one partition arrive in one
part. Nothing is rewritten outside the scope, so the work follows what changed.
"""

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import polars as pl
import polars.selectors as cs
from clickhouse_connect.driver.client import Client

ZONE = "Asia/Shanghai"


def to_clickhouse(frame: pl.DataFrame) -> pl.DataFrame:
    """Naive Beijing datetimes get their zone, so ClickHouse stores the right instant."""
    return frame.with_columns(cs.datetime(time_zone=None).dt.replace_time_zone(
        ZONE, ambiguous="earliest", non_existent="null"))


def columns_of(client: Client, table: str) -> list[str]:
    """The columns of `table`, in order."""
    return [row[0] for row in client.query(
        "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = {t:String} "
        "ORDER BY position", parameters={"t": table}).result_rows]


def insert(client: Client, table: str, frame: pl.DataFrame) -> None:
    """Insert `frame`'s columns that `table` has (others are working columns, left out; a table column
    the frame lacks gets its default)."""
    if frame.height:
        columns = columns_of(client, table)
        client.insert_df_arrow(table, to_clickhouse(frame.select([c for c in columns if c in frame.columns])))


@contextmanager
def staging_copy(client: Client, table: str, structure: str | None = None) -> Iterator[str]:
    """An empty table shaped like `table` (or with the column `structure` given, in memory), dropped
    afterwards (unique name: runs may overlap). A plain MergeTree with `table`'s layout: on a cluster
    it stays on this node instead of copying a replicated engine and its ZooKeeper path."""
    name = f"_stage_{table}_{uuid.uuid4().hex[:12]}"
    client.command(f"CREATE TABLE {name} ({structure}) ENGINE = Memory" if structure
                   else f"CREATE TABLE {name} AS {table} ENGINE = MergeTree")
    try:
        yield name
    finally:
        client.command(f"DROP TABLE IF EXISTS {name}")


@contextmanager
def key_table(client: Client, keys: pl.DataFrame, structure: str) -> Iterator[str]:
    """A table holding `keys` (columns `structure`), for `IN (SELECT ...)` scopes of any size."""
    with staging_copy(client, "keys", structure) as name:
        client.insert_df_arrow(name, to_clickhouse(keys))
        yield name


def upsert(client: Client, table: str, grain: str, scope: str, version: int,
           fill: Callable[[str], None], parameters: dict | None = None) -> None:
    """Make the rows of `table` that `scope` (a WHERE condition) selects exactly the rows `fill`
    writes into the staging copy whose name it is given, as publish `version`; `grain` lists the
    columns that identify a row."""
    with staging_copy(client, table) as stage:
        fill(stage)
        client.command(
            f"INSERT INTO {table} SELECT * REPLACE ({version} AS publish_version, 0 AS is_deleted) "
            f"FROM {stage} UNION ALL "
            f"SELECT * REPLACE ({version} AS publish_version, 1 AS is_deleted) FROM {table} FINAL "
            f"WHERE ({scope}) AND ({grain}) NOT IN (SELECT {grain} FROM {stage})",
            parameters=parameters)


def written(client: Client, table: str, version: int) -> int:
    """Rows `table` received in the refresh of publish `version` (new rows and deletion rows)."""
    return client.query(f"SELECT count() FROM {table} WHERE publish_version = {{v:UInt64}}",
                        parameters={"v": version}).result_rows[0][0]


def replace_all(client: Client, table: str, frame: pl.DataFrame) -> None:
    """Make the unpartitioned `table` hold exactly `frame`'s rows, in one swap (the shop list)."""
    with staging_copy(client, table) as stage:
        insert(client, stage, frame)
        if frame.height:
            client.command(f"ALTER TABLE {table} REPLACE PARTITION tuple() FROM {stage}")
        else:
            client.command(f"TRUNCATE TABLE {table}")
