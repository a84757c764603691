"""The DWD tables in DuckDB staging: cleansed rows of every staged day, all versions kept.

`dwd.<dataset>` holds one row per record (or line) and staged day, so the latest version of a
record is found across days; `dwd.loaded_days` records which days were cleansed (the "days
ingested so far" of the metrics) and up to which ODS row they were.

A day is cleansed whole when its ODS rows were replaced whole since it was last cleansed (a daily
pull or a backfill); otherwise only the ODS rows staged since then (the near-real-time pull) are
cleansed and replace their records. Every record whose rows change is logged in `dwd.changes`
with a rising sequence number: the warehouse publishes exactly those (qeasy.warehouse.refresh).
"""

import uuid
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
    rows BIGINT, anomalies BIGINT, quarantined BIGINT, loaded_at TIMESTAMP);
ALTER TABLE dwd.loaded_days ADD COLUMN IF NOT EXISTS ods_until TIMESTAMP;
CREATE SEQUENCE IF NOT EXISTS dwd.change_seq;
CREATE TABLE IF NOT EXISTS dwd.changes (dataset VARCHAR, record_key VARCHAR, partition_day DATE, seq BIGINT);
CREATE TABLE IF NOT EXISTS dwd.instance (id VARCHAR)"""
# Per record: its versions on the day and its row count; a record whose fingerprint moved changed.
FINGERPRINT = """SELECT partition_day, record_key, list(DISTINCT coalesce(ts, -1) ORDER BY 1) AS versions,
    count(*) AS n FROM {table} WHERE (partition_day, record_key) IN
    (SELECT partition_day, record_key FROM incoming_records) GROUP BY ALL"""


def _log(conn: duckdb.DuckDBPyConnection, dataset: str, keys: str, params: list | None = None) -> None:
    """Log the (record_key, partition_day) pairs selected by `keys` as changed."""
    conn.execute(f"INSERT INTO dwd.changes SELECT ?, record_key, partition_day, nextval('dwd.change_seq') "
                 f"FROM ({keys})", [dataset, *(params or [])])


class DwdWriter:
    """Replaces whole `days` of `dwd.<dataset>`, and the records read again of the `partial` days,
    with cleansed batches, in one transaction, and logs them in `dwd.loaded_days` and the records
    that changed in `dwd.changes`. A dataset that keeps its history only replaces the versions read
    again. Use as a context manager: leaving it normally commits, an exception rolls back."""

    def __init__(self, conn: duckdb.DuckDBPyConnection, shape: Shape, days: list[date],
                 partial: frozenset[date] = frozenset()) -> None:
        self.conn, self.shape, self.days = conn, shape, days
        self.whole = [day for day in days if day not in partial]
        self.table = f"dwd.{shape.dataset}"
        self.figures: dict[date, list[int]] = {day: [0, 0, 0, 0] for day in self.whole}
        self.cleared = False
        self.rejected = False  # a batch broke the contract: leave the days as they were

    def __enter__(self) -> "DwdWriter":
        self.conn.execute(LOADED)
        self.conn.execute("BEGIN TRANSACTION")
        return self

    def _clear(self) -> None:
        """Delete the whole days once (nothing up front for a history-keeping dataset), logging
        every record they held."""
        if not self.cleared and self.whole and not self.shape.keeps_history \
                and table_exists(self.conn, self.shape.dataset):
            where = f"FROM {self.table} WHERE partition_day IN (SELECT UNNEST(?::DATE[]))"
            _log(self.conn, self.shape.dataset, f"SELECT DISTINCT record_key, partition_day {where}",
                 [self.whole])
            self.conn.execute(f"DELETE {where}", [self.whole])
        self.cleared = True

    def add(self, cleansed: Cleansed) -> None:
        self._clear()
        conn, dataset = self.conn, self.shape.dataset
        cleared = [] if self.shape.keeps_history else self.whole
        records = cleansed.records.unique()
        on_cleared = pl.col("partition_day").is_in(cleared)
        conn.register("incoming_rows", cleansed.rows.to_arrow())
        conn.register("incoming_records", records.filter(~on_cleared).to_arrow())  # replace their rows
        conn.register("cleared_records", records.filter(on_cleared).to_arrow())  # their days were cleared
        try:
            conn.execute(f"CREATE TABLE IF NOT EXISTS {self.table} AS SELECT * FROM incoming_rows LIMIT 0")
            # A field the shape gained since the table was made: older rows hold NULL until re-cleansed.
            have = {row[0] for row in conn.execute(f"DESCRIBE {self.table}").fetchall()}
            for name, kind, *_ in conn.execute("DESCRIBE incoming_rows").fetchall():
                if name not in have:
                    conn.execute(f'ALTER TABLE {self.table} ADD COLUMN "{name}" {kind}')
            before = pl.from_arrow(conn.execute(FINGERPRINT.format(table=self.table)).to_arrow_table())
            if self.shape.keeps_history:  # only the versions read again are replaced
                version = "(partition_day, record_key, coalesce(ts, -1))"
                conn.execute(f"DELETE FROM {self.table} WHERE {version} IN "
                             f"(SELECT {version} FROM incoming_rows)")
            else:
                conn.execute(f"DELETE FROM {self.table} WHERE (partition_day, record_key) IN "
                             "(SELECT partition_day, record_key FROM incoming_records)")
            conn.execute(f"INSERT INTO {self.table} BY NAME SELECT * FROM incoming_rows")
            conn.register("before_rows", before.to_arrow())
            # A record read again counts as changed only when its versions or rows on the day differ.
            _log(conn, dataset, f"""SELECT record_key, partition_day FROM before_rows b
                FULL JOIN ({FINGERPRINT.format(table=self.table)}) a USING (partition_day, record_key)
                WHERE b.versions IS DISTINCT FROM a.versions OR b.n IS DISTINCT FROM a.n
                UNION SELECT record_key, partition_day FROM cleared_records""")
        finally:
            for name in ("incoming_rows", "incoming_records", "cleared_records", "before_rows"):
                conn.unregister(name)
        for day, counts in cleansed.per_day().items():
            self.figures[day] = [a + b for a, b in zip(self.figures.get(day, [0] * 4), counts, strict=True)]

    def __exit__(self, kind, error, trace) -> None:
        if kind is not None or self.rejected:
            self.conn.execute("ROLLBACK")
            return
        self._clear()
        conn, dataset, days = self.conn, self.shape.dataset, list(self.figures)
        now = datetime.now(BEIJING).replace(tzinfo=None)
        # A partial day adds its batches' figures to what the day had; every day records the newest
        # ODS row cleansed, from which a later partial cleanse goes on.
        partial = [day for day in days if day not in self.whole]
        had = {day: counts for day, *counts in conn.execute(
            "SELECT partition_day, records, rows, anomalies, quarantined FROM dwd.loaded_days "
            "WHERE dataset = ? AND partition_day IN (SELECT UNNEST(?::DATE[]))",
            [dataset, partial]).fetchall()}
        until = dict(conn.execute(
            f"SELECT partition_day, max(fetched_at) FROM ods.{dataset} WHERE partition_day IN "
            "(SELECT UNNEST(?::DATE[])) GROUP BY 1", [days]).fetchall()) \
            if table_exists(conn, dataset, schema="ods") else {}
        if not days:  # only partial days, and nothing new in them
            conn.execute("COMMIT")
            return
        conn.execute("DELETE FROM dwd.loaded_days WHERE dataset = ? AND partition_day IN "
                     "(SELECT UNNEST(?::DATE[]))", [dataset, days])
        conn.executemany(
            "INSERT INTO dwd.loaded_days (dataset, partition_day, records, rows, anomalies, quarantined, "
            "loaded_at, ods_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(dataset, day, *(a + b for a, b in zip(counts, had.get(day, [0] * 4), strict=True)), now,
              until.get(day)) for day, counts in self.figures.items()])
        conn.execute("COMMIT")


def partial_days(conn: duckdb.DuckDBPyConnection, dataset: str, days: list[date]) -> dict[date, datetime]:
    """Those of `days` whose ODS rows were not all replaced since they were last cleansed: day ->
    the newest ODS row cleansed then (only later rows need cleansing)."""
    conn.execute(LOADED)
    rows = conn.execute(f"""
        SELECT l.partition_day, l.ods_until FROM dwd.loaded_days l
        WHERE l.dataset = ? AND l.partition_day IN (SELECT UNNEST(?::DATE[])) AND l.ods_until IS NOT NULL
          AND (SELECT min(fetched_at) FROM ods.{dataset} o WHERE o.partition_day = l.partition_day)
              <= l.ods_until""", [dataset, days]).fetchall()
    return dict(rows)


def cleanse_days(conn: duckdb.DuckDBPyConnection, shape: Shape, days: list[date], labels: dict[str, str],
                 contract: pa.DataFrameSchema, changed_only: bool = False
                 ) -> Iterator[tuple[Cleansed, pl.DataFrame]]:
    """Cleanse the staged `days` of one dataset into `dwd.<dataset>` a batch at a time, yielding each
    batch's result and its failures against `contract`. With `changed_only`, a day whose ODS rows
    were not replaced whole since it was last cleansed gets only its rows staged since then. The
    days are replaced in one transaction, committed after the last batch, unless a batch failed the
    contract: then nothing is stored, so what breaks the contract never reaches the warehouse."""
    since = partial_days(conn, shape.dataset, days) if changed_only else {}
    whole = [day for day in days if day not in since]
    reader = conn.cursor()  # streams the staged payloads while `conn` writes
    try:
        with DwdWriter(conn, shape, days, frozenset(since)) as writer:
            batches = [extract(reader, shape, whole)] if whole else []
            batches += [extract(reader, shape, list(since), since=since)] if since else []
            for batch in batches:
                for raw in batch:
                    cleansed = cleanse(raw, shape, labels)
                    broken = failures(contract, cleansed.rows)
                    writer.rejected |= broken.height > 0
                    if not writer.rejected:
                        writer.add(cleansed)
                    yield cleansed, broken
    finally:
        reader.close()


def staging_id(conn: duckdb.DuckDBPyConnection) -> str:
    """The id of this staging file, made once: change sequences mean something only within it."""
    conn.execute(LOADED)
    row = conn.execute("SELECT id FROM dwd.instance").fetchone()
    if row is None:
        row = (uuid.uuid4().hex,)
        conn.execute("INSERT INTO dwd.instance VALUES (?)", list(row))
    return row[0]


def newest_change(conn: duckdb.DuckDBPyConnection) -> int:
    """The sequence number of the newest change logged (0: none yet)."""
    conn.execute(LOADED)
    return conn.execute("SELECT coalesce(max(seq), 0) FROM dwd.changes").fetchone()[0]


def changes(conn: duckdb.DuckDBPyConnection, dataset: str, after: int | None, upto: int) -> pl.DataFrame:
    """The records of `dataset` changed after sequence `after` up to `upto` (every record staged when
    `after` is None): record_key, and the first staged day that changed."""
    if not table_exists(conn, dataset):
        return pl.DataFrame(schema={"record_key": pl.String, "first_day": pl.Date})
    if after is None:
        query = f"SELECT record_key, min(partition_day) AS first_day FROM dwd.{dataset} GROUP BY 1"
        params: list = []
    else:
        query = ("SELECT record_key, min(partition_day) AS first_day FROM dwd.changes "
                 "WHERE dataset = ? AND seq > ? AND seq <= ? GROUP BY 1")
        params = [dataset, after, upto]
    return pl.from_arrow(conn.execute(query, params).to_arrow_table())


def forget_changes(conn: duckdb.DuckDBPyConnection, upto: int) -> None:
    """Drop the change log up to sequence `upto`: everything in it is published."""
    conn.execute("DELETE FROM dwd.changes WHERE seq <= ?", [upto])


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
