"""The schema for a ClickHouse server and for a cluster: every rendered statement parses with the
engine's own parser (embedded), names the expected engines, and the embedded path is unchanged."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from qeasy.settings import SettingsError, load_settings
from qeasy.warehouse.cluster import ClusterError, check_topology, on_cluster
from qeasy.warehouse.migrate import schema_statements
from qeasy.warehouse.schema import MIGRATIONS

ROOT = Path(__file__).parents[1]
CLUSTER = "qeasy_cluster"
FACTS_AND_METRICS = ("dws_sale_out", "dws_after_sale", "dws_inventory", "dws_inventory_daily",
                     "dws_unique_code_flow",
                     "ads_shop_daily", "ads_sku_after_sale_7d", "ads_inventory_turnover", "ads_sales_hourly",
                     "ads_region_daily", "ads_finance_daily", "ads_inventory_overview", "ads_replenishment",
                     "ads_sku_shop_daily",
                     "ads_pipeline_health_hourly", "ads_sales_forecast")
# The tables a new warehouse ends with, and their engines, written out by hand.
SERVER_ENGINES = {
    **dict.fromkeys(FACTS_AND_METRICS, "ReplacingMergeTree"),
    "dim_sku": "ReplacingMergeTree", "dim_shop": "ReplacingMergeTree", "dq_quarantine": "ReplacingMergeTree",
    "ops_alerts": "ReplacingMergeTree", "ops_pushes": "ReplacingMergeTree",
    "_migrations": "ReplacingMergeTree",
    "_refresh_state": "ReplacingMergeTree", "_published_days": "ReplacingMergeTree",
    "ops_api_calls": "MergeTree", "_pending_days": "MergeTree",
}
VIEWS = {f"v_{table}" for table in (*FACTS_AND_METRICS, "dim_sku", "dim_shop", "dq_quarantine")}


def formatted(client, statement: str) -> str:
    """The statement as ClickHouse's parser prints it back (a syntax error raises)."""
    return client.query("SELECT formatQuerySingleLine({q:String})",
                        parameters={"q": statement}).result_rows[0][0]


def final_tables(statements: list[str]) -> dict[str, str]:
    """Replays CREATE ... IF NOT EXISTS / DROP ... IF EXISTS: table or view -> its engine ("View")."""
    tables: dict[str, str] = {}
    for statement in statements:
        if match := re.match(r"CREATE TABLE IF NOT EXISTS (\w+) .*?ENGINE = (\w+)", statement, re.S):
            tables.setdefault(match.group(1), match.group(2))
        elif match := re.match(r"CREATE VIEW IF NOT EXISTS (\w+) ", statement):
            tables.setdefault(match.group(1), "View")
        elif match := re.match(r"DROP (?:TABLE|VIEW) IF EXISTS (\w+)", statement):
            tables.pop(match.group(1), None)
    return tables


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from qeasy.warehouse.clickhouse import session

    with session(f"chdb://{tmp_path_factory.mktemp('ddl') / 'ch'}", "qeasy") as client:
        yield client


def test_server_statements_parse_and_create_the_embedded_schema(client) -> None:
    """The printed server DDL is what the embedded path runs: applied to an empty database, it makes
    the same tables with the same columns and engines as qeasy's own migration."""
    statements = schema_statements("printed")
    for statement in statements:
        formatted(client, statement)
    tables = final_tables(statements)
    assert {name: engine for name, engine in tables.items() if engine != "View"} == SERVER_ENGINES
    assert {name for name, engine in tables.items() if engine == "View"} == VIEWS
    for statement in statements:
        client.command(statement)
    client.database = "qeasy"

    def shape(database: str) -> list:
        return client.query("SELECT table, name, type FROM system.columns WHERE database = {d:String} "
                            "ORDER BY table, position", parameters={"d": database}).result_rows

    def engines(database: str) -> dict:
        return dict(client.query("SELECT name, engine FROM system.tables WHERE database = {d:String}",
                                 parameters={"d": database}).result_rows)

    assert shape("printed") == shape("qeasy")
    assert engines("printed") == engines("qeasy") == {**SERVER_ENGINES, **dict.fromkeys(VIEWS, "View")}
    versions = client.query("SELECT version FROM printed._migrations ORDER BY version").result_rows
    assert [row[0] for row in versions] == [version for version, _, _ in MIGRATIONS]


def test_cluster_statements_parse_and_replicate_every_table(client) -> None:
    statements = schema_statements("qeasy", CLUSTER)
    for statement in statements:
        text = formatted(client, statement)
        if not text.startswith(("INSERT", "USE")):
            assert f"ON CLUSTER {CLUSTER}" in text, text
        if text.startswith("DROP"):
            assert text.endswith(" SYNC"), text  # the ZooKeeper path is free before it is reused
        if match := re.search(r"ENGINE = Replicated\w+\('([^']*)', '([^']*)'", text):
            assert match.groups() == (f"/clickhouse/tables/{{shard}}/qeasy/{text.split()[5]}", "{replica}")
    expected = {name: f"Replicated{engine}" for name, engine in SERVER_ENGINES.items()}
    expected |= {f"{table}_all": "Distributed" for table in (*FACTS_AND_METRICS, "dim_sku", "dim_shop",
                                                            "dq_quarantine")}
    tables = final_tables(statements)
    assert {name: engine for name, engine in tables.items() if engine != "View"} == expected
    assert {name for name, engine in tables.items() if engine == "View"} == VIEWS
    # Readers go through the Distributed companions; the versions keep their arguments.
    for statement in statements:
        if statement.startswith("CREATE VIEW"):
            assert re.findall(r"FROM (\w+)", statement) and all(
                name.endswith("_all") for name in re.findall(r"FROM (\w+)", statement)), statement
        if match := re.match(r"CREATE TABLE IF NOT EXISTS (\w+)_all .* ENGINE = Distributed\((.*)\)",
                             statement):
            assert match.group(2) == f"{CLUSTER}, qeasy, {match.group(1)}"
    sale_out = next(s for s in statements if s.startswith("CREATE TABLE IF NOT EXISTS dws_sale_out ON")
                    and "publish_version UInt64" in s)
    assert "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/qeasy/dws_sale_out', '{replica}', " \
           "publish_version, is_deleted)" in sale_out
    alter = f"ALTER TABLE ops_alerts ON CLUSTER {CLUSTER} ADD COLUMN IF NOT EXISTS alert"
    assert any(statement.startswith(alter) for statement in statements)


def test_an_unknown_statement_form_fails_loudly_instead_of_skipping_the_cluster() -> None:
    with pytest.raises(ClusterError, match="no cluster form known"):
        on_cluster("RENAME TABLE a TO b", "qeasy", CLUSTER)
    with pytest.raises(ClusterError, match="engine Memory"):
        on_cluster("CREATE TABLE IF NOT EXISTS t (a Int64) ENGINE = Memory", "qeasy", CLUSTER)


def test_a_cluster_the_server_does_not_define_is_refused(client) -> None:
    """The embedded engine defines no cluster: the same query a server answers finds none."""
    with pytest.raises(ClusterError, match=f"defines no cluster '{CLUSTER}'"):
        check_topology(client, CLUSTER)


def test_the_cluster_setting_needs_a_server(tmp_path) -> None:
    with pytest.raises(SettingsError, match="QEASY_CLICKHOUSE_CLUSTER needs QEASY_CLICKHOUSE_DSN"):
        load_settings({"QEASY_HOME": str(tmp_path), "QEASY_CLICKHOUSE_CLUSTER": CLUSTER})
    with pytest.raises(SettingsError, match="plain identifier"):
        load_settings({"QEASY_HOME": str(tmp_path), "QEASY_CLICKHOUSE_DSN": "http://ch:8123",
                       "QEASY_CLICKHOUSE_CLUSTER": "a; DROP"})
    settings = load_settings({"QEASY_HOME": str(tmp_path), "QEASY_CLICKHOUSE_DSN": "http://ch:8123",
                              "QEASY_CLICKHOUSE_CLUSTER": CLUSTER})
    assert settings.clickhouse_cluster == CLUSTER


def test_qeasy_schema_prints_the_cluster_ddl(tmp_path) -> None:
    env = {"PATH": "/usr/bin:/bin", "QEASY_HOME": str(tmp_path)}
    printed = subprocess.run([sys.executable, "-m", "qeasy.cli", "schema", "--cluster", CLUSTER], cwd=ROOT,
                             env=env, capture_output=True, text=True, timeout=120, check=True).stdout
    assert printed.count(";\n") == len(schema_statements("qeasy", CLUSTER))
    assert printed.startswith(f"CREATE DATABASE IF NOT EXISTS qeasy ON CLUSTER {CLUSTER};")
