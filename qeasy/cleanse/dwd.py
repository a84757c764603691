"""The DWD tables in DuckDB staging: cleansed rows of every staged day, all versions kept.

`dwd.<dataset>` holds one row per record (or line) and staged day, so the latest version of a
record is found across days; `dwd.loaded_days` records which days were cleansed (the "days
ingested so far" of the metrics).
"""

from collections.abc import Iterator
from datetime import date, datetime

import duckdb
import pandera.polars as pa
import polars as pl

from qeasy.cleanse.cleanse import Cleansed, cleanse, extract
from qeasy.cleanse.quality import failures
from qeasy.cleanse.shapes import Shape
from qeasy.erp.times import BEIJING

LOADED = """CREATE SCHEMA IF NOT EXISTS dwd;
CREATE TABLE IF NOT EXISTS dwd.loaded_days (dataset VARCHAR, partition_day DATE, records BIGINT,
    rows BIGINT, anomalies BIGINT, quarantined BIGINT, loaded_at TIMESTAMP)"""


class DwdWriter:
    """Replaces `days` of `dwd.<dataset>` with cleansed batches, in one transaction, and logs them in
    `dwd.loaded_days`. For a dataset that keeps its history only the versions read again are
    replaced. Use as a context manager: leaving it normally commits, an exception rolls back."""

    def __init__(self, conn: duckdb.DuckDBPyConnection, shape: Shape, days: list[date]) -> None:
        self.conn, self.shape, self.days = conn, shape, days
        self.table = f"dwd.{shape.dataset}"
        self.figures: dict[date, list[int]] = {day: [0, 0, 0, 0] for day in days}
        self.cleared = False
        self.rejected = False  # a batch broke the contract: leave the days as they were

    def __enter__(self) -> "DwdWriter":
        self.conn.execute(LOADED)
        self.conn.execute("BEGIN TRANSACTION")
        return self

    def _clear(self) -> None:
        """Delete the days once (whole days, or nothing up front for a history-keeping dataset)."""
        if not self.cleared and not self.shape.keeps_history and table_exists(self.conn, self.shape.dataset):
            self.conn.execute(f"DELETE FROM {self.table} WHERE partition_day IN (SELECT UNNEST(?::DATE[]))",
                              [self.days])
        self.cleared = True

    def add(self, cleansed: Cleansed) -> None:
        self._clear()
        self.conn.register("incoming_rows", cleansed.rows.to_arrow())
        try:
            self.conn.execute(f"CREATE TABLE IF NOT EXISTS {self.table} AS "
                              "SELECT * FROM incoming_rows LIMIT 0")
            if self.shape.keeps_history:
                self.conn.execute(f"DELETE FROM {self.table} WHERE (partition_day, record_key, "
                                  "coalesce(ts, -1)) IN (SELECT partition_day, record_key, coalesce(ts, -1) "
                                  "FROM incoming_rows)")
            self.conn.execute(f"INSERT INTO {self.table} BY NAME SELECT * FROM incoming_rows")
        finally:
            self.conn.unregister("incoming_rows")
        for day, counts in cleansed.per_day().items():
            self.figures[day] = [a + b for a, b in zip(self.figures.get(day, [0] * 4), counts, strict=True)]

    def __exit__(self, kind, error, trace) -> None:
        if kind is not None or self.rejected:
            self.conn.execute("ROLLBACK")
            return
        self._clear()
        now = datetime.now(BEIJING).replace(tzinfo=None)
        dataset = self.shape.dataset
        self.conn.execute("DELETE FROM dwd.loaded_days WHERE dataset = ? AND partition_day IN "
                          "(SELECT UNNEST(?::DATE[]))", [dataset, self.days])
        self.conn.executemany("INSERT INTO dwd.loaded_days VALUES (?, ?, ?, ?, ?, ?, ?)",
                              [(dataset, day, *counts, now) for day, counts in self.figures.items()])
        self.conn.execute("COMMIT")


def cleanse_days(conn: duckdb.DuckDBPyConnection, shape: Shape, days: list[date], labels: dict[str, str],
                 contract: pa.DataFrameSchema) -> Iterator[tuple[Cleansed, pl.DataFrame]]:
    """Cleanse the staged `days` of one dataset into `dwd.<dataset>` a batch at a time, yielding each
    batch's result and its failures against `contract`. The days are replaced in one transaction,
    committed after the last batch, unless a batch failed the contract: then nothing is stored, so
    what breaks the contract never reaches the warehouse."""
    reader = conn.cursor()  # streams the staged payloads while `conn` writes
    try:
        with DwdWriter(conn, shape, days) as writer:
            for raw in extract(reader, shape, days):
                cleansed = cleanse(raw, shape, labels)
                broken = failures(contract, cleansed.rows)
                writer.rejected |= broken.height > 0
                if not writer.rejected:
                    writer.add(cleansed)
                yield cleansed, broken
    finally:
        reader.close()


def loaded_days(conn: duckdb.DuckDBPyConnection, datasets: tuple[str, ...]) -> list[date]:
    """Every day cleansed so far for any of `datasets`."""
    conn.execute(LOADED)
    rows = conn.execute(
        "SELECT DISTINCT partition_day FROM dwd.loaded_days WHERE dataset IN "
        "(SELECT UNNEST(?::VARCHAR[])) ORDER BY 1",
        [list(datasets)],
    ).fetchall()
    return [row[0] for row in rows]


def unstaged_days(conn: duckdb.DuckDBPyConnection, dataset: str, days: list[date]) -> list[date]:
    """Those of `days` that ingestion never pulled for `dataset` (no API-health record)."""
    if not table_exists(conn, "api_calls", schema="ops"):
        return list(days)
    pulled = {row[0] for row in conn.execute(
        "SELECT DISTINCT partition_day FROM ops.api_calls WHERE dataset = ? AND partition_day IN "
        "(SELECT UNNEST(?::DATE[]))", [dataset, days]).fetchall()}
    return [day for day in days if day not in pulled]


def table_exists(conn: duckdb.DuckDBPyConnection, table: str, schema: str = "dwd") -> bool:
    query = "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?"
    return bool(conn.execute(query, [schema, table]).fetchone()[0])
