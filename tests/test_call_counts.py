"""Every ERP call a run makes is counted where people look: step metadata (what `qeasy run`'s summary
prints) and `ops_api_calls`, lookups of SKUs by id included, equal to the ERP's own count."""

from datetime import date

import dagster as dg
import httpx

from qeasy.runner import run_job
from qeasy.settings import load_settings
from qeasy_assets.definitions import build_definitions
from tests.ingest_helpers import env_for
from tests.warehouse_helpers import query


def test_steps_and_ops_api_calls_count_every_call_the_sandbox_answered(make_sandbox, tmp_path) -> None:
    server, _ = make_sandbox(clock="2026-11-21 06:00:00", orders_per_hour=60.0, skus=600, per_second=100,
                             per_minute=6000, faults={"http_5xx": 0.03})
    home = tmp_path / "home"
    defs = build_definitions(load_settings(env_for(server, home)))
    httpx.post(f"{server.url}/__sandbox/stats/reset", timeout=10)
    with dg.DagsterInstance.ephemeral() as instance:
        reports = [run_job(defs, "shops", instance),
                   run_job(defs, "main", instance, date(2026, 11, 18), date(2026, 11, 20))]
    assert all(report.success for report in reports), [r.failure for r in reports]
    answered = httpx.get(f"{server.url}/__sandbox/stats", timeout=10).json()
    erp_calls = sum(path["calls"] for path in answered.values())
    steps = {step.asset: step.metadata.get("calls", 0) for report in reports for step in report.steps}
    assert steps["dim_sku"] > 0, "the run looked no SKU up: the test proves nothing"
    assert sum(steps.values()) == erp_calls, steps
    recorded = query(home, "SELECT dataset, sum(calls) AS calls FROM ops_api_calls GROUP BY dataset")
    assert recorded["calls"].sum() == erp_calls
    lookups = query(home, "SELECT sum(calls) AS calls FROM ops_api_calls WHERE window_begin IS NULL "
                          "AND dataset = 'sku'")["calls"][0]
    assert lookups == steps["dim_sku"]
