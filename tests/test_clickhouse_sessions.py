"""ClickHouse sessions: embedded paths shared by processes, nesting, redaction, migrations."""

import json
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from qeasy.warehouse.clickhouse import WarehouseError, redact, session
from qeasy.warehouse.declared import statements as declared_statements
from qeasy.warehouse.publish import insert
from qeasy.warehouse.schema import MIGRATIONS
from resources.clickhouse import ClickHouseResource
from tests.clickhouse_writer import batch

ROOT = Path(__file__).parents[1]
WRITERS, ROUNDS, BATCH = 4, 12, 50


def resource(path: Path) -> ClickHouseResource:
    return ClickHouseResource(dsn=f"chdb://{path}", database="qeasy")


def run_ids(client) -> list[str]:
    return [row[0] for row in client.query("SELECT run_id FROM ops_api_calls").result_rows]


def test_four_processes_writing_to_one_embedded_path_lose_nothing_and_none_fails(tmp_path) -> None:
    """The acceptance point: writers take turns on one chdb path through the resource's sessions."""
    dsn = f"chdb://{tmp_path}/ch"
    writers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.clickhouse_writer", dsn, str(worker), str(ROUNDS), str(BATCH)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for worker in range(WRITERS)
    ]
    watchdog = threading.Timer(180, lambda: [writer.kill() for writer in writers])  # never hang the suite
    watchdog.start()
    try:
        for writer in writers:  # every writer has imported everything before any starts writing
            assert writer.stdout.readline().strip() == "ready", writer.communicate(timeout=30)
        for writer in writers:
            writer.stdin.write("go\n")
            writer.stdin.flush()
        outputs = [writer.communicate(timeout=150) for writer in writers]
    finally:
        watchdog.cancel()
        for writer in writers:
            if writer.poll() is None:
                writer.kill()
                writer.wait()
    assert [writer.returncode for writer in writers] == [0] * WRITERS, [err[-2000:] for _, err in outputs]
    reports = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    written = [run_id for report in reports for run_id in report["written"]]
    assert len(written) == len(set(written)) == WRITERS * ROUNDS * BATCH

    with resource(tmp_path / "ch").session() as client:
        stored = run_ids(client)  # ops_api_calls is a plain MergeTree: a duplicate would show
        migrations = client.query("SELECT version FROM _migrations ORDER BY version").result_rows
    missing, unexpected = set(written) - set(stored), set(stored) - set(written)
    assert not missing and not unexpected, (len(missing), sorted(missing)[:10], sorted(unexpected)[:10])
    assert len(stored) == len(written), "duplicated rows"
    assert migrations == [(version,) for version, _, _ in MIGRATIONS]  # each once

    # Sessions of different processes never overlapped, and the processes really took turns.
    held = sorted((start, end, report["worker"]) for report in reports for start, end in report["held"])
    pairs = list(zip(held, held[1:], strict=False))
    overlaps = [(a[2], b[2], a[1] - b[0]) for a, b in pairs if a[1] > b[0]]
    assert not overlaps, f"sessions of two processes overlapped (workers, ns): {overlaps}"
    turns = sum(a[2] != b[2] for a, b in pairs)
    assert turns >= WRITERS * 3, turns


def test_nested_sessions_on_one_path_share_a_client_and_see_each_others_writes(tmp_path) -> None:
    warehouse = resource(tmp_path / "ch")
    with warehouse.session() as outer:
        insert(outer, "ops_api_calls", batch(0, 0, 3))
        with warehouse.session() as inner, session(f"chdb://{tmp_path}/./ch", "qeasy") as same_path:
            assert inner is outer is same_path
            assert sorted(run_ids(inner)) == ["w0-r000-000", "w0-r000-001", "w0-r000-002"]
            insert(inner, "ops_api_calls", batch(1, 0, 2))
        assert len(run_ids(outer)) == 5  # the inner sessions closing left the outer one usable
    with warehouse.session() as again:
        assert len(run_ids(again)) == 5


def test_redact_masks_the_password_of_a_server_dsn() -> None:
    dsn = "http://user:s3cret@host:8123"
    assert redact(dsn) == "http://user:***@host:8123"
    message = f"connection to {dsn} refused; password s3cret was rejected"
    masked = redact(dsn, message)
    assert "s3cret" not in masked
    assert masked == "connection to http://user:***@host:8123 refused; password *** was rejected"
    assert redact("chdb:///data/ch") == "chdb:///data/ch"


def test_a_second_embedded_path_in_one_process_fails_naming_the_path(tmp_path) -> None:
    with resource(tmp_path / "one").session() as client:
        with pytest.raises(WarehouseError) as failure, resource(tmp_path / "two").session():
            pass
        assert str(tmp_path / "two") in str(failure.value)
        assert client.query("SELECT 1").result_rows == [(1,)]  # the open session is unharmed
    with resource(tmp_path / "two").session() as client:  # once the first path is closed, it opens
        assert client.query("SELECT 1").result_rows == [(1,)]


def test_migrations_are_recorded_once_and_create_the_contract(tmp_path) -> None:
    warehouse = resource(tmp_path / "ch")
    with warehouse.session():
        pass
    with warehouse.session() as client:
        migrations = client.query("SELECT version, description FROM _migrations ORDER BY version").result_rows
        objects = dict(
            client.query("SELECT name, engine FROM system.tables WHERE database = 'qeasy'").result_rows
        )
        view_rows = {
            name: client.query(f"SELECT count() FROM {name}").result_rows[0][0]
            for name in objects
            if name.startswith("v_")
        }
    assert migrations == [(version, description) for version, description, _ in MIGRATIONS]
    migrated = [statement for _, _, statements in MIGRATIONS for statement in statements]
    created = (re.search(r"CREATE \w+ IF NOT EXISTS (\w+)", statement)
               for statement in migrated + declared_statements())
    declared = {match.group(1) for match in created if match}  # ALTERs add columns, not objects
    assert declared <= set(objects)
    assert {"dws_sale_out", "dws_after_sale", "dim_sku", "dq_quarantine", "ops_api_calls"} <= declared
    views = {name for name in declared if name.startswith("v_")}
    assert {name.removeprefix("v_") for name in views} <= declared - views
    assert {"v_dws_sale_out", "v_dws_after_sale", "v_dq_quarantine"} <= views
    assert all(objects[name] == "View" for name in views)
    assert all(engine.endswith("MergeTree") for name, engine in objects.items() if name not in views)
    assert view_rows == dict.fromkeys(views, 0)
