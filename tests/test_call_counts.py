"""Every ERP call a run makes is counted where people look: step metadata, `qeasy run`'s summary and
`ops_api_calls`, lookups of SKUs by id included, equal to the ERP's own count."""

import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import dagster as dg
import httpx

from qeasy.runner import run_job
from qeasy.settings import load_settings
from qeasy_assets.definitions import build_definitions
from tests.ingest_helpers import env_for
from tests.warehouse_helpers import query

ROOT = Path(__file__).resolve().parents[1]


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


def test_qeasy_runs_summary_adds_up_to_the_sandboxs_count(make_sandbox, tmp_path) -> None:
    server, _ = make_sandbox(clock="2026-11-21 06:00:00", orders_per_hour=40.0, skus=600, per_second=100,
                             per_minute=6000)
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("JST_", "QEASY_"))}
    environment |= env_for(server, tmp_path / "home")
    httpx.post(f"{server.url}/__sandbox/stats/reset", timeout=10)
    done = subprocess.run([sys.executable, "-m", "qeasy.cli", "run", "--start", "2026-11-19", "--end",
                           "2026-11-20"], cwd=ROOT, env=environment, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    answered = httpx.get(f"{server.url}/__sandbox/stats", timeout=10).json()
    checked = int(re.search(r"credentials accepted \(\d+ shops; (\d+) calls?\)", done.stdout)[1])
    table = done.stdout.split("  asset  ", 1)[1].split("  warehouse (ClickHouse)")[0].splitlines()[1:]
    calls = {line.split()[0]: int(line.split()[2]) for line in table}
    assert calls["dim_sku"] > 0, "the run looked no SKU up: the test proves nothing"
    assert checked + sum(calls.values()) == sum(path["calls"] for path in answered.values()), calls
