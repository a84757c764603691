"""The DWD tables in DuckDB staging: cleansed rows of every staged day, all versions kept.

`dwd.<dataset>` holds one row per record (or line) and staged day, so the latest version of a
record is found across days; `dwd.loaded_days` records which days were cleansed (the "days
ingested so far" of the metrics).
"""

from datetime import date, datetime

import duckdb

from qeasy.cleanse.cleanse import Cleansed
from qeasy.cleanse.shapes import Shape
from qeasy.erp.times import BEIJING

LOADED = """CREATE SCHEMA IF NOT EXISTS dwd;
CREATE TABLE IF NOT EXISTS dwd.loaded_days (dataset VARCHAR, partition_day DATE, records BIGINT,
    rows BIGINT, anomalies BIGINT, quarantined BIGINT, loaded_at TIMESTAMP)"""


def store(conn: duckdb.DuckDBPyConnection, shape: Shape, days: list[date], cleansed: Cleansed) -> None:
    """Replace `days` of `dwd.<dataset>` with the cleansed rows and log them, in one transaction.

    For a dataset that keeps its history, only the versions read again are replaced.
    """
    dataset = shape.dataset
    conn.execute(LOADED)
    conn.register("incoming_rows", cleansed.rows.to_arrow())
    conn.execute(f"CREATE TABLE IF NOT EXISTS dwd.{dataset} AS SELECT * FROM incoming_rows LIMIT 0")
    figures = cleansed.per_day()
    now = datetime.now(BEIJING).replace(tzinfo=None)
    loaded = [(dataset, day, *figures.get(day, (0, 0, 0, 0)), now) for day in days]
    conn.execute("BEGIN TRANSACTION")
    try:
        reread = ("AND (record_key, coalesce(ts, -1)) IN "
                  "(SELECT record_key, coalesce(ts, -1) FROM incoming_rows)" if shape.keeps_history else "")
        conn.execute(f"DELETE FROM dwd.{dataset} WHERE partition_day IN (SELECT UNNEST(?::DATE[])) {reread}",
                     [days])
        conn.execute(f"INSERT INTO dwd.{dataset} BY NAME SELECT * FROM incoming_rows")
        conn.execute(
            "DELETE FROM dwd.loaded_days WHERE dataset = ? AND partition_day IN (SELECT UNNEST(?::DATE[]))",
            [dataset, days],
        )
        conn.executemany("INSERT INTO dwd.loaded_days VALUES (?, ?, ?, ?, ?, ?, ?)", loaded)
        conn.execute("COMMIT")
    except Exception:
        conn.execute("ROLLBACK")
        raise
    finally:
        conn.unregister("incoming_rows")


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
