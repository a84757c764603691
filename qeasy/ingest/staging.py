"""The DuckDB staging area: raw ODS rows per dataset and day, API health, dead letters.

A materialisation replaces its days in one transaction, so a re-run leaves the same rows and a
run killed half-way leaves the previous state, never a half-written day.
"""

import json
from datetime import datetime, timedelta

import duckdb
import polars as pl

from qeasy.erp.client import CallStats
from qeasy.erp.endpoints import Endpoint
from qeasy.erp.times import BEIJING, date_of_day, format_bj
from qeasy.ingest.pull import DayPull
from qeasy.ingest.rows import record_key, row_time, version

SCHEMA = """
CREATE SCHEMA IF NOT EXISTS ods;
CREATE SCHEMA IF NOT EXISTS ops;
CREATE TABLE IF NOT EXISTS ops.api_calls (
    run_id VARCHAR, dataset VARCHAR, partition_day DATE, window_begin TIMESTAMP, window_end TIMESTAMP,
    pages INTEGER, rows INTEGER, calls INTEGER, throttled INTEGER, retries INTEGER, errors INTEGER,
    latency_p50_ms DOUBLE, latency_p95_ms DOUBLE, api_count INTEGER, reconciled BOOLEAN,
    recorded_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS ops.dead_letters (
    run_id VARCHAR, dataset VARCHAR, partition_day DATE, window_begin TIMESTAMP, window_end TIMESTAMP,
    request VARCHAR, error VARCHAR, recorded_at TIMESTAMP, resolved_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS ops.unknown_skus (sku_id VARCHAR PRIMARY KEY, searched_at TIMESTAMP);
"""
ODS_TABLE = """
CREATE TABLE IF NOT EXISTS ods.{name} (
    partition_day DATE NOT NULL, record_key VARCHAR NOT NULL, version BIGINT, modified TIMESTAMP,
    payload VARCHAR NOT NULL, window_begin TIMESTAMP, window_end TIMESTAMP, fetched_at TIMESTAMP,
    run_id VARCHAR)
"""


def _naive(ms: int | None) -> datetime | None:
    """Beijing wall-clock time without a zone, the form the contract's DATE/TIMESTAMP filters use."""
    return None if ms is None else datetime.fromisoformat(format_bj(ms, with_ms=True))


def ods_frame(endpoint: Endpoint, pulls: list[DayPull], run_id: str) -> pl.DataFrame:
    """One row per record and day: keys, version, time, the raw JSON, and where it came from."""
    fetched = datetime.now(BEIJING).replace(tzinfo=None)
    records = []
    for pull in pulls:
        begin, end = _window(endpoint, pull)
        for row in pull.rows:
            records.append({
                "partition_day": date_of_day(pull.day),
                "record_key": record_key(endpoint, row),
                "version": version(endpoint, row),
                "modified": _naive(row_time(endpoint, row)),
                "payload": json.dumps(row, ensure_ascii=False, separators=(",", ":")),
                "window_begin": begin,
                "window_end": end,
                "fetched_at": fetched,
                "run_id": run_id,
            })
    schema = {"partition_day": pl.Date, "record_key": pl.String, "version": pl.Int64,
              "modified": pl.Datetime("us"), "payload": pl.String, "window_begin": pl.Datetime("us"),
              "window_end": pl.Datetime("us"), "fetched_at": pl.Datetime("us"), "run_id": pl.String}
    return pl.DataFrame(records, schema=schema)


def _window(endpoint: Endpoint, pull: DayPull) -> tuple[datetime | None, datetime | None]:
    """The window that read the day, as stored (none for unwindowed datasets such as shops)."""
    if endpoint.window_days is None:
        return None, None
    return _naive(pull.window[0]), _naive(pull.window[1])


def api_calls(endpoint: Endpoint, pulls: list[DayPull], run_id: str, now: datetime) -> pl.DataFrame:
    """API health per pulled day: the rows of `ops.api_calls` (and of ClickHouse `ops_api_calls`)."""
    return pl.DataFrame([{
        "run_id": run_id, "dataset": endpoint.dataset, "partition_day": date_of_day(p.day),
        "window_begin": _window(endpoint, p)[0], "window_end": _window(endpoint, p)[1],
        "pages": p.pages, "rows": len(p.rows), "calls": p.stats.calls, "throttled": p.stats.throttled,
        "retries": p.stats.retries, "errors": p.stats.errors,
        "latency_p50_ms": p.stats.percentile(0.5), "latency_p95_ms": p.stats.percentile(0.95),
        "api_count": p.expected, "reconciled": p.reconciled, "recorded_at": now} for p in pulls],
        schema_overrides={"partition_day": pl.Date, "latency_p50_ms": pl.Float64,
                          "latency_p95_ms": pl.Float64,
                          "api_count": pl.Int64, "reconciled": pl.Boolean, "window_begin": pl.Datetime("us"),
                          "window_end": pl.Datetime("us"), "recorded_at": pl.Datetime("us")})


def lookup_calls(endpoint: Endpoint, day: int, rows: list[dict], pages: int, stats: CallStats,
                 run_id: str) -> pl.DataFrame:
    """API health of id lookups made for a day (no time window): their `ops_api_calls` row."""
    now = datetime.now(BEIJING).replace(tzinfo=None)
    calls = api_calls(endpoint, [DayPull(day, rows, pages, stats, None, None, [])], run_id, now)
    return calls.with_columns(window_begin=pl.lit(None, pl.Datetime("us")),
                              window_end=pl.lit(None, pl.Datetime("us")))


def store(conn: duckdb.DuckDBPyConnection, endpoint: Endpoint, pulls: list[DayPull],
          run_id: str) -> tuple[int, pl.DataFrame]:
    """Replace the pulled days of `ods.<dataset>` and record API health and dead letters.

    Returns the rows written and the API-health rows recorded.
    """
    frame = ods_frame(endpoint, pulls, run_id)
    days = [date_of_day(p.day) for p in pulls]
    now = datetime.now(BEIJING).replace(tzinfo=None)
    calls = api_calls(endpoint, pulls, run_id, now)
    letters = pl.DataFrame([{
        "run_id": run_id, "dataset": d.dataset, "partition_day": date_of_day(d.day),
        "window_begin": _naive(d.begin), "window_end": _naive(d.end),
        "request": json.dumps(d.request, ensure_ascii=False), "error": d.error, "recorded_at": now,
        "resolved_at": None} for p in pulls for d in p.dead],
        schema={"run_id": pl.String, "dataset": pl.String, "partition_day": pl.Date,
                "window_begin": pl.Datetime("us"), "window_end": pl.Datetime("us"), "request": pl.String,
                "error": pl.String, "recorded_at": pl.Datetime("us"), "resolved_at": pl.Datetime("us")})
    table = f"ods.{endpoint.dataset}"
    conn.execute(SCHEMA)
    conn.execute(ODS_TABLE.format(name=endpoint.dataset))
    conn.register("incoming_rows", frame.to_arrow())
    conn.register("incoming_calls", calls.to_arrow())
    conn.register("incoming_letters", letters.to_arrow())
    # A day read whole replaces what was staged for it. A day read from an instant on, or with dead
    # letters, was read only in part: it replaces just the records it read again.
    whole = [date_of_day(p.day) for p in pulls if not p.dead and p.since is None]
    conn.execute("BEGIN TRANSACTION")
    try:
        if not endpoint.partitioned:
            conn.execute(f"DELETE FROM {table}" if whole else
                         f"DELETE FROM {table} WHERE record_key IN (SELECT record_key FROM incoming_rows)")
        else:
            conn.execute(f"DELETE FROM {table} WHERE partition_day IN (SELECT UNNEST(?)) OR (partition_day, "
                         f"record_key) IN (SELECT partition_day, record_key FROM incoming_rows)", [whole])
        conn.execute(f"INSERT INTO {table} SELECT * FROM incoming_rows")
        conn.execute("UPDATE ops.dead_letters SET resolved_at = ? WHERE dataset = ? AND resolved_at IS NULL "
                     "AND partition_day IN (SELECT UNNEST(?))", [now, endpoint.dataset, days])
        conn.execute("INSERT INTO ops.dead_letters SELECT * FROM incoming_letters")
        conn.execute("INSERT INTO ops.api_calls SELECT * FROM incoming_calls")
        conn.execute("COMMIT")
    except Exception:
        conn.execute("ROLLBACK")
        raise
    finally:
        for name in ("incoming_rows", "incoming_calls", "incoming_letters"):
            conn.unregister(name)
    return frame.height, calls


def staged_until(conn: duckdb.DuckDBPyConnection, endpoint: Endpoint, day: int) -> int | None:
    """Epoch ms of the newest modification staged for the dataset's day (None: nothing staged)."""
    table = f"ods.{endpoint.dataset}"
    exists = conn.execute("SELECT count() FROM duckdb_tables() WHERE schema_name = 'ods' AND table_name = ?",
                          [endpoint.dataset]).fetchone()[0]
    if not exists:
        return None
    newest = conn.execute(f"SELECT max(modified) FROM {table} WHERE partition_day = ?",
                          [date_of_day(day)]).fetchone()[0]
    return None if newest is None else round(newest.replace(tzinfo=BEIJING).timestamp() * 1000)


def open_dead_letters(conn: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    """(dataset, partition day, when last recorded) of every dead letter not yet resolved by a later
    materialisation. Works on a read-only connection."""
    exists = conn.execute("SELECT count() FROM duckdb_tables() WHERE schema_name = 'ops' "
                          "AND table_name = 'dead_letters'").fetchone()[0]
    if not exists:
        return []
    rows = conn.execute(
        "SELECT dataset, CAST(partition_day AS VARCHAR), CAST(max(recorded_at) AS VARCHAR) "
        "FROM ops.dead_letters WHERE resolved_at IS NULL GROUP BY 1, 2 ORDER BY 1, 2").fetchall()
    return [(dataset, day, recorded) for dataset, day, recorded in rows]


def recently_searched(conn: duckdb.DuckDBPyConnection, sku_ids: list[str], hours: int) -> set[str]:
    """Those of `sku_ids` a search of the whole catalogue did not find in the last `hours`."""
    conn.execute(SCHEMA)
    since = datetime.now(BEIJING).replace(tzinfo=None) - timedelta(hours=hours)
    rows = conn.execute("SELECT sku_id FROM ops.unknown_skus WHERE searched_at >= ? AND sku_id IN "
                        "(SELECT UNNEST(?::VARCHAR[]))", [since, sku_ids]).fetchall()
    return {row[0] for row in rows}


def remember_unknown(conn: duckdb.DuckDBPyConnection, sku_ids: list[str]) -> None:
    """Note that a search of the whole catalogue did not find `sku_ids` now."""
    conn.execute(SCHEMA)
    now = datetime.now(BEIJING).replace(tzinfo=None)
    conn.executemany("INSERT OR REPLACE INTO ops.unknown_skus VALUES (?, ?)", [(s, now) for s in sku_ids])
