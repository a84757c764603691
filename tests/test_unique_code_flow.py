"""The unique-code flow end to end, against real components: the sandbox over HTTP, DuckDB staging,
the embedded ClickHouse, and the machine's MariaDB (127.0.0.1:3306, root, no password) for the
optional MySQL sink. The expectations come from the sandbox's ground truth, not from qeasy."""

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from qeasy.runner import run_job
from qeasy.settings import SettingsError, load_settings
from qeasy.sinks.mysql import NAMES, values
from qeasy_assets.definitions import build_definitions
from qeasy_assets.sinks.assets import SINK
from tests.ingest_helpers import env_for, truth
from tests.test_start_up import _one_line, _qeasy_run
from tests.warehouse_helpers import Chain, query

ROOT = Path(__file__).resolve().parents[1]
DAYS = [date(2026, 11, 10), date(2026, 11, 11), date(2026, 11, 12)]
DIRTY = {"bad_inout_type": 0.03}
MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
# inout_type labels as jushuitan-api.md lists them.
SPEC_LABELS = dict(enumerate(
    ["采购入库", "采购退货", "销售出仓", "销售退货", "调拨出", "调拨入", "盘点", "差异", "结算",
     "领用出仓", "领用退仓", "期初", "其它出库", "其它进仓", "发票", "加工出仓", "加工进仓", "其它退货"],
    start=1))
COLUMNS = ("sku_sn, io_id, inout_type, inout_type_label, o_id, sku_id, cost_price, create_time, "
           "is_anomaly")


def expected_flow(server) -> tuple[set[tuple], set[str]]:
    """From the sandbox's truth alone: the wide-table rows of DAYS (grain, label, order id, SKU, cost,
    creation time, flag), and the record keys whose inout_type is no number (quarantined only)."""
    rows = truth(server, "unique_code", "2026-11-09 00:00:00", "2026-11-14 00:00:00").values()
    wanted = {str(day) for day in DAYS}
    kept, unkeyed = set(), set()
    for row in rows:
        if row["create_time"][:10] not in wanted:
            continue
        kind = row["inout_type"]
        if not isinstance(kind, int):
            unkeyed.add(f"{row['sku_sn']}|{row['io_id']}|{kind}")
            continue
        label = SPEC_LABELS.get(kind)
        kept.add((row["sku_sn"], int(row["io_id"]), kind, label, row["o_id"], row["sku_id"],
                  Decimal(row["cost_price"]), row["create_time"][:19], 0 if label else 1))
    return kept, unkeyed


def _rows(frame: pl.DataFrame) -> set[tuple]:
    frame = frame.with_columns(create_time=pl.col("create_time").dt.strftime("%Y-%m-%d %H:%M:%S"))
    return {tuple(row) for row in frame.rows()}


@pytest.fixture
def mariadb():
    """A new database on the machine's MariaDB, dropped afterwards: (its DSN, a connection factory)."""
    import pymysql

    name = f"qeasy_sink_{uuid.uuid4().hex[:10]}"
    try:
        admin = pymysql.connect(**MARIADB, connect_timeout=3, autocommit=True)
    except pymysql.MySQLError as exc:
        pytest.skip(f"needs the MariaDB server at 127.0.0.1:3306 (root, no password): {exc}; this machine "
                    "kind runs one (see the env entry's machine page)")
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {name}")

    def connect(**extra):
        return pymysql.connect(**MARIADB, database=name, **extra)

    yield f"mysql://root@127.0.0.1:3306/{name}", connect
    with admin.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {name}")
    admin.close()


def checksum(connect) -> int:
    with connect() as conn, conn.cursor() as cursor:
        cursor.execute("CHECKSUM TABLE dws_unique_code_flow EXTENDED")
        return cursor.fetchone()[1]


def mysql_rows(connect, where: str = "1") -> set[tuple]:
    with connect() as conn, conn.cursor() as cursor:
        cursor.execute(f"SELECT {COLUMNS} FROM dws_unique_code_flow WHERE {where}")
        return {(*row[:7], row[7].strftime("%Y-%m-%d %H:%M:%S"), row[8]) for row in cursor.fetchall()}


def all_mysql(connect) -> list[tuple]:
    """Every column of every row, ordered: what 'exactly as before' compares."""
    with connect() as conn, conn.cursor() as cursor:
        cursor.execute("SELECT * FROM dws_unique_code_flow ORDER BY sku_sn, io_id, inout_type")
        return list(cursor.fetchall())


def test_the_wide_table_equals_the_sandbox_truth_and_bad_inout_types_are_quarantined(make_sandbox,
                                                                                     tmp_path) -> None:
    server, _ = make_sandbox(dirty=DIRTY, per_second=10_000, per_minute=1_000_000)
    home = tmp_path / "home"
    chain = Chain(server, home)
    assert SINK not in {key.to_user_string() for key in chain.defs.resolve_all_asset_keys()}  # no DSN
    assert chain.shops().success
    report = chain.main(DAYS[0], DAYS[-1])
    assert report.success and not any(step.blocking_failed for step in report.steps)

    kept, unkeyed = expected_flow(server)
    flagged = {row for row in kept if row[-1]}
    assert len(kept) > 500 and flagged and unkeyed  # the dirty rate put both kinds of bad code in
    got = query(home, f"SELECT {COLUMNS} FROM v_dws_unique_code_flow")
    assert _rows(got) == kept
    labels = query(home, "SELECT DISTINCT inout_type, inout_type_label FROM v_dws_unique_code_flow "
                         "WHERE is_anomaly = 0")
    assert set(labels.rows()) <= set(SPEC_LABELS.items())
    assert query(home, "SELECT count() - uniqExact(sku_sn, io_id, inout_type) AS n "
                       "FROM v_dws_unique_code_flow")["n"][0] == 0
    # Both kinds are in dq_quarantine with their reason: kept-but-flagged and quarantined-only.
    reasons = dict(query(home, "SELECT record_key, reason FROM v_dq_quarantine "
                               "WHERE dataset = 'unique_code'").rows())
    for sku_sn, io_id, kind, *_ in flagged:
        assert reasons[f"{sku_sn}|{io_id}|{kind}"] == f"unknown inout_type '{kind}'"
    for key in unkeyed:
        assert reasons[key].startswith("unparseable inout_type '")
    flags = query(home, "SELECT DISTINCT anomaly_reason FROM v_dws_unique_code_flow WHERE is_anomaly = 1")
    assert set(flags["anomaly_reason"]) == {f"unknown inout_type '{row[2]}'" for row in flagged}

    # The refresh follows the change log: re-running a day republishes that day's records only, and
    # what readers see is unchanged.
    def seen() -> tuple:
        return query(home, "SELECT count() AS n, sum(cityHash64(*)) AS h FROM v_dws_unique_code_flow").row(0)

    before = seen()
    assert chain.main(DAYS[1]).success
    assert seen() == before
    rewritten = query(home, "SELECT DISTINCT biz_date FROM dws_unique_code_flow WHERE publish_version = "
                            "(SELECT max(publish_version) FROM dws_unique_code_flow)")
    assert rewritten["biz_date"].to_list() == [DAYS[1]]


SINK_RUN = """
import sys
from datetime import date
import dagster as dg
from qeasy.runner import run_job
from qeasy.settings import load_settings
from qeasy.sinks.mysql import NAMES, values
from qeasy_assets.definitions import build_definitions
defs = build_definitions(load_settings())
day = date.fromisoformat(sys.argv[1])
report = run_job(defs, "main", dg.DagsterInstance.ephemeral(), day, day, assets=[sys.argv[2]])
sys.exit(0 if report.success else 1)
"""


def _sink_process(env: dict[str, str], day: date) -> subprocess.Popen:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("JST_", "QEASY_"))}
    environment |= env | {"PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", SINK_RUN, str(day), SINK], cwd=ROOT, env=environment,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(condition, what: str, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_the_mysql_sink_writes_the_flow_idempotently_and_a_killed_run_leaves_the_day_as_it_was(
        make_sandbox, tmp_path, mariadb) -> None:
    dsn, connect = mariadb
    server, _ = make_sandbox(dirty=DIRTY, per_second=10_000, per_minute=1_000_000)
    home = tmp_path / "home"
    chain = Chain(server, home, QEASY_MYSQL_DSN=dsn)
    assert chain.shops().success
    report = chain.main(DAYS[0], DAYS[-1])  # the sink runs in the main job, after the wide table
    assert report.success, report
    step = next(step for step in report.steps if step.asset == SINK)
    kept, _ = expected_flow(server)
    assert step.metadata["rows_upserted"] == len(kept) and step.metadata["rows_deleted"] == 0
    assert "@" not in step.metadata["target"]

    # Exactly the published rows: the truth's, and every column equal to the view's.
    assert mysql_rows(connect) == kept
    view = query(home, f"SELECT {', '.join(NAMES)} FROM v_dws_unique_code_flow")
    assert values(view) == all_mysql(connect)  # every column, Beijing wall-clock times
    with connect() as conn, conn.cursor() as cursor:
        cursor.execute("SELECT count(DISTINCT sku_name), sum(sku_missing) FROM dws_unique_code_flow")
        names, missing = cursor.fetchone()
        cursor.execute("SHOW CREATE TABLE dws_unique_code_flow")
        ddl = cursor.fetchone()[1]
    assert names > 1 and missing == 0  # SKU names joined from dim_sku
    assert "utf8mb4_bin" in ddl and "PRIMARY KEY (`sku_sn`,`io_id`,`inout_type`)" in ddl

    # Re-running any partition (and the whole range) leaves the table identical.
    first = checksum(connect)
    rows_first = all_mysql(connect)
    assert chain.main(DAYS[1]).success  # the whole chain for a day, the sink last
    assert checksum(connect) == first and all_mysql(connect) == rows_first
    for days in ([DAYS[0]], DAYS):  # the sink alone, for a day and for the range
        assert run_job(chain.defs, "main", chain.instance, days[0], days[-1], assets=[SINK]).success
        assert checksum(connect) == first and all_mysql(connect) == rows_first

    # The state before the killed run differs from the published one: rows missing, a value changed,
    # a row of the day that is no longer published.
    day = DAYS[1]
    with connect() as conn, conn.cursor() as cursor:
        cursor.execute("SELECT sku_sn, io_id, inout_type FROM dws_unique_code_flow WHERE biz_date = %s "
                       "ORDER BY sku_sn, io_id, inout_type", [day])
        keys = cursor.fetchall()
        assert len(keys) > 250  # more than one batch of upserts before the last row
        cursor.executemany("DELETE FROM dws_unique_code_flow WHERE sku_sn = %s AND io_id = %s "
                           "AND inout_type = %s", keys[:5])
        cursor.execute("UPDATE dws_unique_code_flow SET cost_price = cost_price + 1 WHERE sku_sn = %s",
                       [keys[10][0]])
        # One published row missing and one row of the day no longer published, at once.
        cursor.execute("UPDATE dws_unique_code_flow SET sku_sn = 'SN-GONE' WHERE sku_sn = %s AND io_id = %s "
                       "AND inout_type = %s", keys[20])
        conn.commit()
    before, rows_before = checksum(connect), all_mysql(connect)
    assert before != first

    # Hold a lock on the day's last row (the sink upserts in grain order): the sink blocks there,
    # inside its transaction, after its first batches. Then kill it.
    holder = connect(autocommit=False)
    with holder.cursor() as cursor:
        cursor.execute("SELECT * FROM dws_unique_code_flow WHERE sku_sn = %s AND io_id = %s "
                       "AND inout_type = %s FOR UPDATE", keys[-1])
        cursor.execute("SELECT CONNECTION_ID()")
        holder_id = cursor.fetchone()[0]
    process = _sink_process(env_for(server, home, QEASY_MYSQL_DSN=dsn), day)

    def blocked_sink():
        with connect() as conn, conn.cursor() as cursor:
            cursor.execute("SELECT trx_mysql_thread_id, trx_rows_modified FROM information_schema.innodb_trx "
                           "WHERE trx_state = 'LOCK WAIT' AND trx_mysql_thread_id != %s", [holder_id])
            found = cursor.fetchone()
        if not found and process.poll() is not None:
            raise AssertionError(f"the sink ended instead of blocking: {process.communicate()}")
        return found

    try:
        thread, modified = _wait_for(blocked_sink, "the sink to block on the held row")
        assert modified > 0  # it had written part of the day in its transaction
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        holder.rollback()
        holder.close()

    def sink_gone():
        with connect() as conn, conn.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM information_schema.innodb_trx "
                           "WHERE trx_mysql_thread_id = %s", [thread])
            return cursor.fetchone()[0] == 0

    _wait_for(sink_gone, "the killed sink's transaction to be rolled back")
    assert checksum(connect) == before and all_mysql(connect) == rows_before  # never half

    # A re-run then brings the day fully up to date (the gone row deleted, the others restored).
    rerun = run_job(chain.defs, "main", chain.instance, day, day, assets=[SINK])
    assert rerun.success
    step = next(step for step in rerun.steps if step.asset == SINK)
    assert step.metadata["rows_deleted"] == 1
    assert checksum(connect) == first and all_mysql(connect) == rows_first


def test_without_a_dsn_there_is_no_sink_and_a_bad_dsn_fails_at_start_up(tmp_path) -> None:
    env = {"QEASY_HOME": str(tmp_path / "home")}
    defs = build_definitions(load_settings(env))
    assert SINK not in {key.to_user_string() for key in defs.resolve_all_asset_keys()}
    assert "mysql" not in defs.resources
    with_dsn = build_definitions(load_settings(env | {"QEASY_MYSQL_DSN": "mysql://u:p@127.0.0.1/qeasy"}))
    assert SINK in {key.to_user_string() for key in with_dsn.resolve_all_asset_keys()}
    assert "p@" not in repr(load_settings(env | {"QEASY_MYSQL_DSN": "mysql://u:p@127.0.0.1/qeasy"}))

    secret = "s3cret-Pw"
    for dsn in (f"postgres://u:{secret}@host/db", f"mysql://u:{secret}@host", f"mysql://u:{secret}@host:x/db",
                f"mysql://u:{secret}@host/a/b", f"mysql://:{secret}@host/db", "mysql:///db"):
        with pytest.raises(SettingsError) as error:
            load_settings(env | {"QEASY_MYSQL_DSN": dsn})
        assert "QEASY_MYSQL_DSN" in str(error.value) and secret not in str(error.value), dsn
    # `qeasy run` refuses to start: one line naming the variable, exit 2, the password nowhere.
    err = _one_line(_qeasy_run(tmp_path / "home", QEASY_MYSQL_DSN=f"mysql://u:{secret}@host:port/db"))
    assert "QEASY_MYSQL_DSN" in err and secret not in err
