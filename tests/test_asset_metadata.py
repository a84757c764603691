"""What the Dagster UI shows of each asset: layer, kinds, description, owners, column schemas that
match the tables really written, freshness policies, and materialisation metadata read at a glance."""

import os
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from qeasy.sandbox import SandboxConfig, SandboxServer
from qeasy.warehouse.clickhouse import session
from qeasy_assets.columns import COLUMN_SCHEMA, ods_columns, split_top_level
from qeasy_assets.definitions import defs
from tests.warehouse_helpers import Chain

LAYERS = {"ods", "dwd", "dim", "dws", "ads"}
DAY = date(2026, 11, 4)


def _nodes() -> list:
    return list(defs.resolve_asset_graph().asset_nodes)


def _names(schema: dg.TableSchema) -> list[str]:
    return [column.name for column in schema.columns]


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Iterator[tuple[Path, dict[str, dict]]]:
    """One small real run (the shop list, then one day through every asset) against a sandbox:
    its QEASY_HOME and each asset's materialisation metadata."""
    config = SandboxConfig(clock="2026-11-05 00:00:00", orders_per_hour=60.0, per_second=10_000,
                           per_minute=1_000_000)
    server = SandboxServer(config).start()
    try:
        home = tmp_path_factory.mktemp("metadata") / "home"
        chain = Chain(server, home)
        reports = [chain.shops(), chain.main(DAY)]
        assert all(report.success for report in reports), [report.failure for report in reports]
        yield home, {step.asset: step.metadata for report in reports for step in report.steps}
    finally:
        server.stop()


def test_every_asset_has_a_layer_kinds_a_description_and_owners() -> None:
    nodes = _nodes()
    assert {node.group_name for node in nodes} == LAYERS
    for node in nodes:
        name = node.key.to_user_string()
        assert node.group_name in LAYERS and name.startswith(f"{node.group_name}_"), name
        assert node.kinds and node.kinds <= {"api", "duckdb", "clickhouse", "polars"}, name
        assert node.description and "\n" not in node.description.strip(), name
        assert node.owners == ["team:data-platform"], name
    kinds = {node.key.to_user_string(): node.kinds for node in nodes}
    assert kinds["dwd_sales_out"] == {"polars", "duckdb"} and kinds["ads_shop_daily"] == {"clickhouse"}
    assert kinds["dim_sku"] == {"api", "polars", "clickhouse"}


def test_the_mysql_sink_is_an_asset_of_its_own_layer_only_with_a_dsn(tmp_path) -> None:
    from qeasy.settings import load_settings
    from qeasy_assets.definitions import build_definitions

    assert not [node for node in _nodes() if node.group_name == "sink"] or "QEASY_MYSQL_DSN" in os.environ
    env = {"QEASY_HOME": str(tmp_path / "home"), "QEASY_MYSQL_DSN": "mysql://u:pw@127.0.0.1:3306/qeasy"}
    with_sink = build_definitions(load_settings(env))
    (node,) = [node for node in with_sink.resolve_asset_graph().asset_nodes if node.group_name == "sink"]
    assert node.key.to_user_string() == "sink_mysql_unique_code_flow"
    assert node.kinds == {"clickhouse", "mysql"} and node.owners == ["team:data-platform"]
    assert node.description and "\n" not in node.description.strip()
    assert {key.to_user_string() for key in node.parent_keys} == {"dws_unique_code_flow"}


def test_freshness_policies_follow_the_refresh_cadence() -> None:
    policies = {node.key.to_user_string(): node.freshness_policy for node in _nodes()}
    minutes = dg.FreshnessPolicy.time_window(fail_window=timedelta(minutes=15),
                                             warn_window=timedelta(minutes=5))
    for name, policy in policies.items():
        if name.split("_")[0] in ("dwd", "dws", "ads") or name == "dim_sku":
            assert policy == minutes, name
    daily = policies["dim_shop"]
    assert daily.fail_window.to_timedelta() == timedelta(hours=26)
    assert daily.warn_window.to_timedelta() == timedelta(hours=25)


def test_the_ddl_is_split_at_top_level_commas_only() -> None:
    body = "a Decimal(18, 2), b Nullable(DateTime64(3, 'Asia/Shanghai')), c String DEFAULT 'x, (y', d UInt8"
    assert split_top_level(body) == ["a Decimal(18, 2)", "b Nullable(DateTime64(3, 'Asia/Shanghai'))",
                                     "c String DEFAULT 'x, (y'", "d UInt8"]


def test_clickhouse_column_schemas_equal_the_migrated_tables(tmp_path) -> None:
    nodes = [node for node in _nodes() if node.group_name in ("dim", "dws", "ads")]
    assert len(nodes) == 18  # 2 dims, 5 wide tables, 11 metric tables
    with session(f"chdb://{tmp_path / 'clickhouse'}", "qeasy") as client:  # runs the migrations
        for node in nodes:
            schema = node.metadata[COLUMN_SCHEMA]
            described = client.query(f"DESCRIBE TABLE {node.key.to_user_string()}").result_rows
            assert [(c.name, c.type) for c in schema.columns] == [(row[0], row[1]) for row in described]
            for column in schema.columns:
                assert column.constraints.nullable == column.type.startswith("Nullable("), column.name


def test_staging_column_schemas_equal_the_tables_a_run_writes(run) -> None:
    home, _ = run
    schemas = {node.key.to_user_string(): node.metadata.get(COLUMN_SCHEMA) for node in _nodes()}
    with duckdb.connect(str(home / "staging.duckdb"), read_only=True) as conn:
        def columns(table: str) -> list[tuple[str, str]]:
            return [(row[0], row[1]) for row in conn.execute(f"DESCRIBE {table}").fetchall()]

        for dataset in ("sales_out", "after_sale", "inventory", "unique_code"):
            schema = schemas[f"dwd_{dataset}"]
            assert [(c.name, c.type) for c in schema.columns] == columns(f"dwd.{dataset}"), dataset
        ods = [(c.name, c.type) for c in ods_columns().columns]
        for dataset in ("sales_out", "after_sale", "inventory", "sku", "shop", "unique_code"):
            assert ods == columns(f"ods.{dataset}"), dataset
            wired = schemas[f"ods_{dataset}"]
            assert _names(wired) == [name for name, _ in ods], dataset


def test_materialisations_show_rows_anomalies_and_the_latest_metrics(run) -> None:
    _, metadata = run
    for dataset in ("sales_out", "after_sale", "inventory"):
        figures = metadata[f"dwd_{dataset}"]
        assert figures["rows"] > 0 and figures["anomalous_rows"] >= 0 and "anomaly_rate" in figures
    figures = metadata["dwd_sales_out"]
    assert figures["quarantine_entries"] > 0  # the sandbox's default dirt
    by_reason = figures["quarantine_by_reason"]
    assert by_reason.startswith("| reason | entries |") and "'" not in by_reason  # kinds, not raw values
    counts = [int(line.rsplit("|", 2)[1]) for line in by_reason.splitlines()[2:]]
    assert sum(counts) == figures["quarantine_entries"] or len(counts) == 10

    shops = metadata["ads_shop_daily"]
    assert shops["day"] == str(DAY) and shops["out_orders"] > 0 and 0 <= shops["after_sale_rate"] < 1
    assert shops["shops"].startswith(f"**{DAY}**") and "| shop | out orders |" in shops["shops"]
    with session(f"chdb://{run[0] / 'clickhouse'}", "qeasy") as client:
        names = [row[0] for row in client.query("SELECT shop_name FROM v_dim_shop").result_rows]
    assert any(f"| {name} (" in shops["shops"] for name in names)  # names a real shop

    skus = metadata["ads_sku_after_sale_7d"]["top_after_sale_rates"]
    assert skus.startswith(f"**{DAY}**") and "at least 20 out orders" in skus
    stock = metadata["ads_inventory_turnover"]
    assert stock["skus_at_zero_stock"] >= stock["stock_outs"] >= 0 and stock["skus_below_min"] >= 0
    for table in ("dws_sale_out", "ads_shop_daily"):
        assert metadata[table]["rows"] > 0 and metadata[table]["days_rewritten"] >= 1  # rows written
    assert metadata["ads_shop_daily"]["days"] == str(DAY)  # the one day ingested
