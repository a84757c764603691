"""Ingestion as separate processes run it: the Dagster CLI, concurrent runs, a killed run, secrets."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from qeasy.datasets import ENDPOINTS
from tests.ingest_helpers import env_for, staged, staged_latest, truth

DATASETS = [name for name in ENDPOINTS if name != "shop"]


def materialize(env: dict[str, str], home: Path, assets: list[str], first: str, last: str,
                instance: str = "dagster", **popen) -> subprocess.Popen:
    """`dagster asset materialize` over a partition range, as a person or a scheduler runs it."""
    command = [sys.executable, "-m", "dagster", "asset", "materialize", "-m", "qeasy_assets.definitions",
               "--select", ",".join(assets), "--partition-range", f"{first}...{last}"]
    environment = os.environ | env | {"DAGSTER_HOME": str(home / instance)}
    (home / instance).mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(command, env=environment, cwd=Path(__file__).parents[1],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen)


def test_two_runs_together_stay_within_the_limits(make_sandbox, tmp_path) -> None:
    # The sandbox enforces exactly the budget qeasy is configured with: 5 calls/s.
    server, caller = make_sandbox(clock="2026-11-21 12:00:00", orders_per_hour=120.0, per_second=5,
                                  per_minute=1000)
    env = env_for(server, tmp_path)
    # Two Dagster instances (as two deployments would be), one ERP account and one QEASY_HOME.
    runs = [materialize(env, tmp_path, ["ods_sales_out"], "2026-11-17", "2026-11-17", instance="one"),
            materialize(env, tmp_path, ["ods_after_sale", "ods_sku", "ods_inventory"], "2026-11-15",
                        "2026-11-17", instance="two")]
    outputs = [run.communicate(timeout=600)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    stats = caller.admin("stats")
    assert sum(s["calls"] for s in stats.values()) > 40  # enough calls to have tripped 5/s
    assert sum(s["throttled"] for s in stats.values()) == 0, stats


def test_a_run_killed_mid_way_then_rerun_equals_the_ground_truth(make_sandbox, tmp_path) -> None:
    server, _ = make_sandbox(clock="2026-11-21 12:00:00", orders_per_hour=120.0, per_second=20,
                             per_minute=1200)
    env = env_for(server, tmp_path)
    run = materialize(env, tmp_path, ["ods_sales_out"], "2026-11-14", "2026-11-20", start_new_session=True)
    deadline = time.monotonic() + 120
    while server.api.stats[ENDPOINTS["sales_out"].path].calls < 60:  # well into the pull
        assert time.monotonic() < deadline and run.poll() is None, "the run ended before it could be killed"
        time.sleep(0.2)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    rerun = materialize(env, tmp_path, ["ods_sales_out"], "2026-11-14", "2026-11-20")
    output = rerun.communicate(timeout=600)[0]
    assert rerun.returncode == 0, output
    keys = [row[1] for row in staged(tmp_path, "sales_out")]
    assert len(keys) == len(set(keys))
    assert staged_latest(tmp_path, "sales_out") == truth(server, "sales_out", "2026-11-14 00:00:00",
                                                         "2026-11-21 00:00:00")


def test_all_datasets_backfill_with_the_default_executor(make_sandbox, tmp_path) -> None:
    """Every partitioned ODS asset over 30 days in one single-run backfill, steps in parallel
    processes (the multiprocess executor): DuckDB writes take turns, no lock error."""
    server, _ = make_sandbox(clock="2026-11-21 12:00:00", orders_per_hour=10.0, skus=300, per_second=200,
                             per_minute=12000)
    run = materialize(env_for(server, tmp_path), tmp_path, [f"ods_{d}" for d in DATASETS],
                      "2026-10-22", "2026-11-20")
    output = run.communicate(timeout=900)[0]
    assert run.returncode == 0, output[-3000:]
    assert "lock" not in output.lower()
    for dataset in DATASETS:
        days = {row[0] for row in staged(tmp_path, dataset)}
        assert days, dataset


def test_secrets_never_reach_logs_metadata_errors_or_dead_letters(make_sandbox, tmp_path) -> None:
    secret, token = "S3cret-qeasy-4f9c2e7a", "T0ken-qeasy-8b1d6c3f"
    server, caller = make_sandbox(clock="2026-11-21 12:00:00", orders_per_hour=20.0, per_second=100,
                                  per_minute=6000, app_secret=secret, access_token=token,
                                  faults={"http_5xx": 0.5, "malformed_json": 0.2})
    env = env_for(server, tmp_path)
    first = materialize(env, tmp_path, ["ods_after_sale", "ods_sku"], "2026-11-19", "2026-11-20")
    logs = first.communicate(timeout=600)[0]
    caller.admin("tokens/expire", {})  # now code 100: an exception path
    second = materialize(env, tmp_path, ["ods_sku"], "2026-11-19", "2026-11-19")
    logs += second.communicate(timeout=600)[0]
    assert second.returncode != 0 and "ERP error 100" in logs
    leaks = [path for path in tmp_path.rglob("*") if path.is_file()
             and (secret.encode() in path.read_bytes() or token.encode() in path.read_bytes())]
    assert not leaks, leaks  # event logs, compute logs, run storage, DuckDB (dead letters, metadata)
    assert secret not in logs and token not in logs


def test_a_wrong_secret_fails_the_run_in_seconds_naming_the_signature(make_sandbox, tmp_path) -> None:
    server, _ = make_sandbox(clock="2026-11-21 12:00:00", orders_per_hour=20.0)
    env = env_for(server, tmp_path, JST_APP_SECRET="not-the-secret")
    started = time.monotonic()
    run = materialize(env, tmp_path, ["ods_sales_out"], "2026-11-19", "2026-11-19")
    output = run.communicate(timeout=120)[0]
    assert run.returncode != 0
    assert "ERP error 10" in output and "signature" in output
    assert time.monotonic() - started < 60  # most of it is the CLI starting up
    assert "not-the-secret" not in output
