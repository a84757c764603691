"""Writing frames to ClickHouse so that readers never see a half-replaced month or table.

A month is rebuilt in a staging copy of its table and swapped in with `REPLACE PARTITION`
(atomic per partition); a month that became empty is dropped (ClickHouse refuses to replace
from an empty staging table). Each month is atomic, not the set: months go newest first, so a
record whose business day moved to a later month is briefly in both (the views keep its newest
version); one that moved to an earlier month is briefly in neither.
"""

import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import polars as pl
import polars.selectors as cs
from clickhouse_connect.driver.client import Client

ZONE = "Asia/Shanghai"


def to_clickhouse(frame: pl.DataFrame) -> pl.DataFrame:
    """Naive Beijing datetimes get their zone, so ClickHouse stores the right instant."""
    return frame.with_columns(cs.datetime(time_zone=None).dt.replace_time_zone(
        ZONE, ambiguous="earliest", non_existent="null"))


def insert(client: Client, table: str, frame: pl.DataFrame) -> None:
    """Insert `frame`'s columns that `table` has (others are working columns, left out; a table column
    the frame lacks gets its default)."""
    if frame.height:
        columns = [row[0] for row in client.query(
            "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = {t:String} "
            "ORDER BY position", parameters={"t": table}).result_rows]
        client.insert_df_arrow(table, to_clickhouse(frame.select([c for c in columns if c in frame.columns])))


@contextmanager
def staging_copy(client: Client, table: str) -> Iterator[str]:
    """An empty table shaped like `table`, dropped afterwards (unique name: runs may overlap)."""
    name = f"_stage_{table}_{uuid.uuid4().hex[:12]}"
    client.command(f"CREATE TABLE {name} AS {table}")
    try:
        yield name
    finally:
        client.command(f"DROP TABLE IF EXISTS {name}")


def replace_months(
    client: Client,
    table: str,
    months: Iterable[int],
    frames: Iterable[pl.DataFrame] = (),
    select: str | None = None,
    parameters: dict | None = None,
) -> None:
    """Make `months` (YYYYMM partitions) of `table` hold exactly the rows of `frames` or of `select`."""
    with staging_copy(client, table) as stage:
        for frame in frames:
            insert(client, stage, frame)
        if select is not None:
            client.command(f"INSERT INTO {stage} {select}", parameters=parameters)
        present = {
            row[0]
            for row in client.query(
                f"SELECT DISTINCT toUInt32(partition) FROM system.parts WHERE database = currentDatabase() "
                f"AND table = '{stage}' AND active"
            ).result_rows
        }
        for month in sorted(set(months), reverse=True):
            if month in present:
                client.command(f"ALTER TABLE {table} REPLACE PARTITION {month} FROM {stage}")
            else:
                client.command(f"ALTER TABLE {table} DROP PARTITION {month}")


def replace_all(client: Client, table: str, frame: pl.DataFrame) -> None:
    """Make the unpartitioned `table` hold exactly `frame`'s rows, in one swap."""
    with staging_copy(client, table) as stage:
        insert(client, stage, frame)
        if frame.height:
            client.command(f"ALTER TABLE {table} REPLACE PARTITION tuple() FROM {stage}")
        else:
            client.command(f"TRUNCATE TABLE {table}")
