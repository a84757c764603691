"""Monitoring: a real Prometheus server (Debian's package) scrapes `qeasy metrics` after a run, and
what it stores equals what qeasy recorded: calls and rows per dataset as in `ops_api_calls`, the run
in Dagster's history, the checks that failed."""

import json
import os
import re
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import dagster as dg
import httpx
import pytest

from qeasy.runner import dagster_home, run_job
from qeasy.sandbox.process import free_port
from qeasy.settings import load_settings
from qeasy_assets.definitions import build_definitions
from tests.dev_helpers import stop
from tests.ingest_helpers import env_for
from tests.warehouse_helpers import query

ROOT = Path(__file__).resolve().parents[1]
PROMETHEUS = Path("/usr/bin/prometheus")


def _prometheus_values(url: str, query_text: str) -> dict[tuple, float]:
    response = httpx.get(f"{url}/api/v1/query", params={"query": query_text}, timeout=10)
    response.raise_for_status()  # 503 with a text body while Prometheus is starting
    answer = response.json()
    assert answer["status"] == "success", answer
    return {tuple(sorted((k, v) for k, v in r["metric"].items() if k not in ("__name__", "instance", "job"))):
            float(r["value"][1]) for r in answer["data"]["result"]}


def _dashboard_expressions() -> list[str]:
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "qeasy-pipeline.json").read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def test_prometheus_scrapes_what_ops_api_calls_and_dagster_recorded(make_sandbox, tmp_path) -> None:
    if not PROMETHEUS.exists():
        pytest.fail("Debian's prometheus is needed; `make test` installs it")
    server, _ = make_sandbox(clock="2026-11-21 06:00:00", orders_per_hour=40.0, skus=600, per_second=100,
                             per_minute=6000, dirty={"negative_qty": 0.05})
    home = tmp_path / "home"
    env = env_for(server, home, QEASY_MAX_ANOMALY_RATE="0.001")  # the anomaly-rate warning fails
    defs = build_definitions(load_settings(env))
    with dg.DagsterInstance.from_config(str(dagster_home(home))) as instance:
        assert run_job(defs, "shops", instance).success
        assert run_job(defs, "main", instance, date(2026, 11, 19), date(2026, 11, 20)).success
    recorded = query(home, "SELECT dataset, sum(calls) AS calls, sum(rows) AS rows FROM ops_api_calls "
                           "GROUP BY dataset ORDER BY dataset")

    port, prometheus_port = free_port(), free_port()
    exporter_log = tmp_path / "exporter.log"
    with exporter_log.open("wb") as log:
        exporter = subprocess.Popen([sys.executable, "-m", "qeasy.cli", "metrics", "--port", str(port)],
                                    cwd=ROOT, env=os.environ | env | {"DAGSTER_HOME": str(home / "dagster")},
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    config = tmp_path / "prometheus.yml"
    # A scrape opens the embedded warehouse: give it the seconds a loaded machine needs.
    config.write_text("global:\n  scrape_interval: 5s\n  scrape_timeout: 5s\nscrape_configs:\n"
                      f"  - job_name: qeasy\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n")
    prometheus = subprocess.Popen([str(PROMETHEUS), f"--config.file={config}",
                                   f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                                   f"--web.listen-address=127.0.0.1:{prometheus_port}"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{prometheus_port}"
    try:
        calls: dict = {}
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert exporter.poll() is None, f"`qeasy metrics` exited: {exporter_log.read_text()[-2000:]}"
            try:
                calls = _prometheus_values(url, "qeasy_api_calls_total")
            except httpx.HTTPError:  # not listening yet, or not ready
                calls = {}
            if len(calls) == recorded.height:
                break
            time.sleep(1)
        assert calls == {(("dataset", d),): float(n) for d, n in zip(recorded["dataset"], recorded["calls"],
                                                                     strict=True)}
        rows = _prometheus_values(url, "qeasy_api_rows_total")
        assert rows == {(("dataset", d),): float(n) for d, n in zip(recorded["dataset"], recorded["rows"],
                                                                    strict=True)}
        runs = _prometheus_values(url, 'qeasy_runs{status="SUCCESS"}')
        assert runs[(("dagster_job", "main"), ("status", "SUCCESS"))] == 1
        assert runs[(("dagster_job", "shops"), ("status", "SUCCESS"))] == 1
        failed = _prometheus_values(url, "qeasy_check_failures_total")
        assert any(dict(labels)["check"] == "anomaly_rate" and dict(labels)["severity"] == "warn"
                   for labels in failed), failed
        lag = _prometheus_values(url, "qeasy_freshness_lag_seconds")
        assert len(lag) == recorded.height and all(0 <= seconds < 3600 for seconds in lag.values()), lag
        assert set(_prometheus_values(url, "qeasy_source_up").values()) == {1.0}
        # Every expression of the shipped Grafana dashboard is valid and has data to show.
        for expr in _dashboard_expressions():
            answer = httpx.get(f"{url}/api/v1/query", params={"query": expr}, timeout=10).json()
            assert answer["status"] == "success", (expr, answer)
            exposed = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
            assert all(name in exposed for name in re.findall(r"qeasy_[a-z_]+", expr)), expr
    finally:
        stop(prometheus)
        stop(exporter)
