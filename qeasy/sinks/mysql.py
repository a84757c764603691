"""The optional MySQL/MariaDB sink: the published unique-code flow copied to an InnoDB table.

Per day, in ONE transaction: upsert (`INSERT ... ON DUPLICATE KEY UPDATE`) every published row of
the day, delete the day's rows that are no longer published, commit. So re-running a day converges
to the same contents (same values, same `CHECKSUM TABLE`), and a run killed mid-day leaves the day
as it was: the server rolls back a transaction whose connection died. The table is created before
the transaction when missing (DDL commits implicitly in MySQL, so it cannot be inside).

The DSN (`mysql://user:password@host:3306/database`) is parsed here; its password never appears in
a message (`Target.where` names host, port and database only).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

import polars as pl

from qeasy.datasets.jushuitan import UNIQUE_CODE
from qeasy.warehouse import declared

if TYPE_CHECKING:
    import pymysql
    from clickhouse_connect.driver.client import Client

TABLE = UNIQUE_CODE.wide.table
BATCH = 200  # rows per multi-row INSERT: statements stay small whatever the day's volume
GRAIN = UNIQUE_CODE.grain
# Column types in MySQL; codes compare exactly (utf8mb4_bin), times are Beijing wall clock.
COLUMNS: dict[str, str] = {
    "sku_sn": "VARCHAR(128) NOT NULL",
    "io_id": "BIGINT NOT NULL",
    "inout_type": "BIGINT NOT NULL",
    "inout_type_label": "VARCHAR(32) NULL",
    "o_id": "VARCHAR(64) NULL",
    "sku_id": "VARCHAR(64) NULL",
    "i_id": "VARCHAR(64) NULL",
    "sku_name": "VARCHAR(255) NULL",
    "category": "VARCHAR(128) NULL",
    "cost_price": "DECIMAL(18,2) NULL",
    "cost_amount": "DECIMAL(18,2) NULL",
    "create_time": "DATETIME(3) NULL",
    "modified_time": "DATETIME(3) NULL",
    "ts": "BIGINT UNSIGNED NOT NULL",
    "is_anomaly": "TINYINT UNSIGNED NOT NULL",
    "anomaly_reason": "TEXT NOT NULL",
    "sku_missing": "TINYINT UNSIGNED NOT NULL",
    "biz_date": "DATE NOT NULL",
    "source_day": "DATE NOT NULL",
}
NAMES = list(COLUMNS)
COMMENTS = {name: text for name, _, text in declared.columns(UNIQUE_CODE)}
DSN_FORM = "mysql://user:password@host:3306/database"


class SinkError(RuntimeError):
    """The sink cannot reach its database or was refused; the message never carries a password."""


@dataclass(frozen=True)
class Target:
    """Where the sink writes, from the DSN."""

    host: str
    port: int
    user: str
    database: str
    password: str = field(default="", repr=False)

    @property
    def where(self) -> str:
        """Host, port and database: what a message or the UI may show."""
        return f"{self.host}:{self.port}/{self.database}"


def parse_dsn(dsn: str) -> Target:
    """The target of a `mysql://` (or `mariadb://`) DSN; ValueError without echoing the DSN (it
    holds the password)."""
    parts = urlsplit(dsn.strip())
    if parts.scheme not in ("mysql", "mariadb") or not parts.hostname:
        raise ValueError(f"must look like {DSN_FORM}")
    database = unquote(parts.path.lstrip("/"))
    if not database or "/" in database or not all(c.isalnum() or c in "_$" for c in database):
        raise ValueError(f"must name a database (plain identifier) after the host: {DSN_FORM}")
    try:
        port = parts.port or 3306
    except ValueError:
        raise ValueError(f"has a port that is not a number: {DSN_FORM}") from None
    if not parts.username:
        raise ValueError(f"must name a user: {DSN_FORM}")
    return Target(parts.hostname, port, unquote(parts.username), database,
                  unquote(parts.password or ""))


def connect(target: Target, timeout: float = 10.0) -> pymysql.connections.Connection:
    """A connection in utf8mb4, autocommit off."""
    import pymysql

    try:
        conn = pymysql.connect(host=target.host, port=target.port, user=target.user,
                               password=target.password, database=target.database, charset="utf8mb4",
                               autocommit=False, connect_timeout=timeout)
    except pymysql.MySQLError as exc:
        message = str(exc).replace(target.password, "***") if target.password else str(exc)
        raise SinkError(f"cannot connect to MySQL at {target.where}: {type(exc).__name__}: "
                        f"{message[:300]}") from None
    return conn


def _quoted(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def create_statement(table: str = TABLE) -> str:
    columns = ",\n    ".join(f"`{name}` {kind} COMMENT {_quoted(COMMENTS.get(name, ''))}"
                             for name, kind in COLUMNS.items())
    return (f"CREATE TABLE IF NOT EXISTS `{table}` (\n    {columns},\n"
            f"    PRIMARY KEY (sku_sn, io_id, inout_type),\n    KEY by_biz_date (biz_date)\n"
            ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin "
            "COMMENT='唯一码进出流水 unique-code in/out flow, copied from qeasy v_dws_unique_code_flow'")


def upsert_statement(table: str = TABLE) -> str:
    updates = ", ".join(f"`{name}` = VALUES(`{name}`)" for name in NAMES if name not in GRAIN)
    return (f"INSERT INTO `{table}` ({', '.join(f'`{n}`' for n in NAMES)}) "
            f"VALUES ({', '.join(['%s'] * len(NAMES))}) ON DUPLICATE KEY UPDATE {updates}")


def values(rows: pl.DataFrame) -> list[tuple]:
    """The rows as MySQL parameters, in column order, sorted by the grain (a stable lock order);
    aware times become Beijing wall-clock times."""
    frame = rows.select(NAMES).sort(list(GRAIN)).with_columns(
        pl.col(pl.Datetime).dt.convert_time_zone("Asia/Shanghai").dt.replace_time_zone(None))
    return frame.rows()


@dataclass(frozen=True)
class Written:
    day: date
    upserted: int
    deleted: int


def write_day(conn: pymysql.connections.Connection, day: date, rows: pl.DataFrame, table: str = TABLE,
              batch: int = BATCH) -> Written:
    """Make the rows of `table` whose biz_date is `day` exactly `rows` (the day's published rows),
    in one transaction: committed whole, or rolled back whole."""
    with conn.cursor() as cursor:
        cursor.execute(create_statement(table))  # implicit commit: before the transaction
    params = values(rows)
    keep = {row[:3] for row in params}
    conn.begin()
    try:
        with conn.cursor() as cursor:
            cursor.execute(f"SELECT sku_sn, io_id, inout_type FROM `{table}` WHERE biz_date = %s", [day])
            gone = [key for key in cursor.fetchall() if tuple(key) not in keep]
            statement = upsert_statement(table)
            for first in range(0, len(params), batch):
                cursor.executemany(statement, params[first : first + batch])
            for first in range(0, len(gone), batch):
                cursor.executemany(f"DELETE FROM `{table}` WHERE sku_sn = %s AND io_id = %s "
                                   "AND inout_type = %s", gone[first : first + batch])
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    return Written(day, len(params), len(gone))


def write_days(target: Target, days: Iterable[date], rows: pl.DataFrame, table: str = TABLE) -> list[Written]:
    """`write_day` for each of `days` (one transaction each) with its rows of `rows` (by biz_date)."""
    import pymysql

    conn = connect(target)
    try:
        return [write_day(conn, day, rows.filter(pl.col("biz_date") == day), table) for day in days]
    except pymysql.MySQLError as exc:
        raise SinkError(f"MySQL at {target.where} refused the write: {type(exc).__name__}: "
                        f"{str(exc)[:300]}") from exc
    finally:
        conn.close()


def unpublished(client: Client, days: list[date]) -> list[date]:
    """Those of `days` the warehouse has not published the flow for: no row of the day in the view,
    and either the flow was never published or the refresh never covered the day."""
    with_rows = {row[0] for row in client.query(
        f"SELECT DISTINCT biz_date FROM v_{TABLE} WHERE biz_date IN {{days:Array(Date)}}",
        parameters={"days": days}).result_rows}
    flow_state = client.query("SELECT count() FROM _refresh_state WHERE name = 'seq:unique_code'").result_rows
    covered = {row[0] for row in client.query(
        "SELECT day FROM _published_days FINAL WHERE day IN {days:Array(Date)}",
        parameters={"days": days}).result_rows} if flow_state[0][0] else set()
    return [day for day in days if day not in with_rows and day not in covered]


def published_rows(client: Client, days: list[date]) -> pl.DataFrame:
    """The published flow rows (the `v_` view: latest versions, no deletions) of `days`, by biz_date."""
    return client.query_df_arrow(
        f"SELECT {', '.join(NAMES)} FROM v_{TABLE} WHERE biz_date IN {{days:Array(Date)}}",
        parameters={"days": days}, dataframe_library="polars")
