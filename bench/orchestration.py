"""Orchestration overhead: a 30-day backfill of every day-partitioned asset through Dagster's CLI
(`dagster asset materialize --partition-range`, one run under the single-run backfill policy, the
default multiprocess executor: a process per step), against the same work in one warm process
(`execute_in_process`, in-process executor, imports done). Same sandbox, fresh QEASY_HOME each
time; the shop list is loaded beforehand, untimed. Prints wall times, their medians and the ratio.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
from common import add_json_option, write_json

from qeasy.runner import run_job
from qeasy.sandbox.config import SandboxConfig
from qeasy.sandbox.process import SandboxProcess
from qeasy.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent
LAST = date(2026, 11, 18)
CLOCK = "2026-11-19 06:00:00"
RATE = (10_000, 1_000_000)  # the ERP's budget is not what is measured here


def _env(url: str, home: Path) -> dict[str, str]:
    config = SandboxConfig()
    return {"QEASY_HOME": str(home), "JST_BASE_URL": url, "JST_APP_KEY": config.app_key,
            "JST_APP_SECRET": config.app_secret, "JST_ACCESS_TOKEN": config.access_token,
            "QEASY_RATE_PER_SECOND": str(RATE[0]), "QEASY_RATE_PER_MINUTE": str(RATE[1]),
            "DAGSTER_HOME": str(home / "dagster")}


def _prepared(url: str) -> tuple[Path, dict[str, str], dg.Definitions, dg.DagsterInstance]:
    """A fresh home with the shop list loaded, its definitions and instance."""
    from qeasy_assets.definitions import build_definitions

    home = Path(tempfile.mkdtemp(prefix="qeasy-orchestration-"))
    (home / "dagster").mkdir()
    (home / "dagster" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = _env(url, home)
    defs = build_definitions(load_settings(env))
    instance = dg.DagsterInstance.from_config(env["DAGSTER_HOME"])
    assert run_job(defs, "shops", instance).success
    return home, env, defs, instance


def through_dagster(url: str, first: date) -> float:
    home, env, defs, _ = _prepared(url)
    keys = [k.to_user_string() for k in defs.resolve_job_def("main").asset_layer.executable_asset_keys]
    command = [str(Path(sys.executable).parent / "dagster"), "asset", "materialize", "-m",
               "qeasy_assets.definitions", "--select", ",".join(sorted(keys)),
               "--partition-range", f"{first}...{LAST}"]
    started = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, env=os.environ | env, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"the backfill failed: {done.stderr[-2000:]}")
    return elapsed


def in_warm_process(url: str, first: date) -> float:
    _, _, defs, instance = _prepared(url)  # the shop-list run has imported and warmed everything
    started = time.monotonic()
    report = run_job(defs, "main", instance, first, LAST)  # execute_in_process: one process
    elapsed = time.monotonic() - started
    if not report.success:
        raise RuntimeError(f"the warm run failed: {report.failure}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--orders-per-hour", type=float, default=60.0)
    add_json_option(parser)
    args = parser.parse_args()
    first = LAST - timedelta(days=args.days - 1)
    print(f"Orchestration overhead: {args.days}-day backfill ({first}..{LAST}) of every day-partitioned "
          f"asset, {args.orders_per_hour:.0f} orders/hour, {args.runs} run(s) each")
    with SandboxProcess(clock=CLOCK, orders_per_hour=args.orders_per_hour, per_second=RATE[0],
                        per_minute=RATE[1]) as sandbox:
        dagster_s, warm_s = [], []
        for n in range(args.runs):
            dagster_s.append(through_dagster(sandbox.url, first))
            warm_s.append(in_warm_process(sandbox.url, first))
            print(f"  run {n + 1}: dagster CLI backfill {dagster_s[-1]:6.1f} s, "
                  f"warm process {warm_s[-1]:6.1f} s")
    d, w = statistics.median(dagster_s), statistics.median(warm_s)
    print(f"  median: backfill {d:.1f} s, warm process {w:.1f} s, ratio {d / w:.2f}")
    write_json(args.json, {"days": args.days, "orders_per_hour": args.orders_per_hour, "backfill_s": d,
                           "warm_s": w, "ratio": d / w, "runs": {"backfill": dagster_s, "warm": warm_s}})


if __name__ == "__main__":
    main()
