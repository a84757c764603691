"""Ingestion against the sandbox over real HTTP: no row lost or duplicated, faults and all."""

import os
import subprocess
import sys

import dagster as dg
import duckdb
import pytest
from dagster_duckdb import DuckDBResource

from qeasy.datasets import ENDPOINTS
from qeasy.erp.times import parse_bj
from qeasy.ingest.staging import open_dead_letters
from sensors.replay import replay_dead_letters
from tests.ingest_helpers import env_for, ingest, ingest_shops, staged, staged_latest, truth

FIRST, LAST = "2026-11-14", "2026-11-20"
RANGE = ("2026-11-14 00:00:00", "2026-11-21 00:00:00")
FAULTS = {"http_5xx": 0.05, "malformed_json": 0.02, "burst": 0.01, "burst_length": 4, "page_drift": 0.2}


@pytest.fixture
def faulty(make_sandbox):
    server, _ = make_sandbox(clock="2026-11-21 12:00:00", orders_per_hour=60.0, skus=600,
                             per_second=100, per_minute=6000, faults=FAULTS)
    return server


def test_a_faulty_week_equals_the_ground_truth(faulty, tmp_path) -> None:
    report = ingest(faulty, tmp_path, FIRST, LAST)
    assert report.success, report.failure
    assert ingest_shops(faulty, tmp_path).success
    assert staged_latest(tmp_path, "shop") == truth(faulty, "shop")
    now = faulty.clock.now_ms()
    for dataset in ENDPOINTS:
        if dataset == "shop":
            continue
        rows = staged(tmp_path, dataset)
        keys = [row[1] for row in rows]
        assert len(keys) == len(set(keys)), f"{dataset}: a record staged twice"
        got = staged_latest(tmp_path, dataset)
        expected = truth(faulty, dataset, *RANGE)
        assert expected, dataset
        missing = set(expected) - set(got)
        assert not missing, f"{dataset}: {len(missing)} records missed"
        assert all(got[key] == expected[key] for key in expected), f"{dataset}: stale versions"
        # Rows read before page drift moved them on: their latest version is now, outside the range.
        for key in set(got) - set(expected):
            moved = faulty.merchant.modified(dataset, _merchant_key(faulty, dataset, key), now)
            assert moved is not None and moved >= parse_bj(RANGE[1]), f"{dataset}: {key} is not in the ERP"
    step = {s.asset: s for s in report.steps}["ods_sales_out"]
    assert step.metadata["retries"] > 0 and step.metadata["dead_letters"] == 0
    assert step.checks == {"complete": True, "reconciled": True}


def test_reconciled_exists_where_the_api_counts_and_fails_when_its_count_disagrees(make_sandbox,
                                                                                   tmp_path) -> None:
    server, _ = make_sandbox(clock="2026-11-21 12:00:00", orders_per_hour=30.0, per_second=100,
                             per_minute=6000, faults={"stale_counts": 1.0})  # every count one too many
    report = ingest(server, tmp_path, "2026-11-18", "2026-11-18")
    assert report.success, report.failure  # a warning: the rows read are all there
    steps = {s.asset: s for s in report.steps}
    for dataset, endpoint in ENDPOINTS.items():
        if dataset == "shop":
            continue
        step = steps[f"ods_{dataset}"]
        if endpoint.has_counts:
            assert step.checks == {"complete": True, "reconciled": False}, dataset
            assert step.metadata["reconciliation"].endswith("differ"), dataset
        else:  # the unique-code flow reports no count: nothing to reconcile, so no such check
            assert step.checks == {"complete": True}, dataset
    assert staged_latest(tmp_path, "sales_out") == truth(server, "sales_out", "2026-11-18 00:00:00",
                                                         "2026-11-19 00:00:00")
    shops = ingest_shops(server, tmp_path)
    assert {s.asset: s.checks for s in shops.steps}["ods_shop"] == {"complete": True}


def _merchant_key(server, dataset: str, key: str) -> int:
    return server.merchant.catalog.sku_index(key) if dataset in ("sku", "inventory") else int(key)


def test_rematerialising_a_partition_leaves_the_same_rows(make_sandbox, tmp_path) -> None:
    server, _ = make_sandbox(clock="2026-11-21 12:00:00", orders_per_hour=60.0, per_second=100,
                             per_minute=6000)
    assert ingest(server, tmp_path, "2026-11-18", "2026-11-18").success
    first = staged(tmp_path, "sales_out")
    assert ingest(server, tmp_path, "2026-11-18", "2026-11-18").success
    assert staged(tmp_path, "sales_out") == first and first


def test_a_failing_window_becomes_a_dead_letter_and_replay_fetches_it(make_sandbox, tmp_path) -> None:
    server, caller = make_sandbox(clock="2026-11-21 12:00:00", orders_per_hour=30.0, per_second=100,
                                  per_minute=6000, faults={"http_5xx": 1.0})
    report = ingest(server, tmp_path, "2026-11-18", "2026-11-18", assets=["ods_after_sale"])
    assert not report.success and "complete" in report.failure  # the blocking check fails the run
    step = report.steps[0]
    assert step.metadata["dead_letters"] == 1 and step.checks["complete"] is False
    caller.admin("faults", {"http_5xx": 0.0})
    with duckdb.connect(str(tmp_path / "staging.duckdb")) as conn:
        assert [letter[:2] for letter in open_dead_letters(conn)] == [("after_sale", "2026-11-18")]
    # The daemon's replay sensor asks for the day again, under a key that never launches it twice.
    staging = DuckDBResource(database=str(tmp_path / "staging.duckdb"))
    requests = [replay_dead_letters(dg.build_sensor_context(resources={"staging": staging})) for _ in "ab"]
    assert [(r.job_name, r.partition_key) for r in requests[0]] == [("main", "2026-11-18")]
    assert requests[0][0].run_key == requests[1][0].run_key
    replay = subprocess.run([sys.executable, "-m", "qeasy.cli", "replay"], cwd=tmp_path, text=True,
                            env=os.environ | env_for(server, tmp_path), capture_output=True, timeout=300)
    assert replay.returncode == 0, replay.stderr
    assert "replaying main 2026-11-18" in replay.stdout
    with duckdb.connect(str(tmp_path / "staging.duckdb")) as conn:
        assert open_dead_letters(conn) == []
    assert set(staged_latest(tmp_path, "after_sale")) == set(
        truth(server, "after_sale", "2026-11-18 00:00:00", "2026-11-18 23:59:59.999"))
