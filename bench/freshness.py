"""Freshness: a change made in the ERP until the metric in ClickHouse reflects it, with the
near-real-time pull running as in production (the Dagster daemon, its `near_real_time` sensor,
`nrt` runs in their own processes, embedded ClickHouse).

The sandbox runs in its own process with its clock pinned at noon of today (Beijing), 2,000
orders/hour. Once the first `nrt` run has taken today whole, each sample waits a random 0-15 s
(so changes land anywhere in the run cycle), advances the sandbox clock by five minutes (new
orders, status moves), and times until today's totals in `v_ads_shop_daily` change. Prints each
sample, the median and p95, and the duration of the `nrt` runs meanwhile.

With `--history DAYS` the home starts with that many days loaded before today (2,000 orders/hour)
and today at the peak profile (50,000 orders/hour) staged up to 18:00, built as bench/nrt_history.py
builds it; the sandbox then serves the peak profile from 18:00 with the budget raised as there.
"""

import argparse
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import dagster as dg
import httpx
from common import add_json_option, write_json
from nrt_history import PEAK_ORDERS_PER_HOUR, RATE, morning, prepare_home, warm

from qeasy.erp.times import BEIJING
from qeasy.runner import dagster_home
from qeasy.sandbox.config import SandboxConfig
from qeasy.sandbox.process import SandboxProcess
from qeasy.warehouse.clickhouse import session

ROOT = Path(__file__).resolve().parent.parent
TOTALS = ("SELECT sum(out_orders), sum(out_qty), sum(refund_orders) FROM v_ads_shop_daily "
          "WHERE stat_date = {day:Date}")


def totals(home: Path, day: str) -> tuple:
    with session(f"chdb://{home / 'clickhouse'}", "qeasy") as client:
        return tuple(client.query(TOTALS, parameters={"day": day}).result_rows[0])


def nrt_runs(instance: dg.DagsterInstance, status: dg.DagsterRunStatus) -> list[dg.RunRecord]:
    return list(instance.get_run_records(dg.RunsFilter(job_name="nrt", statuses=[status])))


def measure(samples: int, orders_per_hour: float, rate: tuple[int, int], advance: float, history: int = 0,
            cache: Path = Path()) -> dict:
    """Freshness samples; with `history` > 0 from a home with that many days loaded and today at peak."""
    today = datetime.now(BEIJING).date()
    home = Path(tempfile.mkdtemp(prefix="qeasy-freshness-"))
    config = SandboxConfig()
    options = {"clock": f"{today} 12:00:00", "orders_per_hour": orders_per_hour}
    if history:
        options = {"clock": morning(today), "orders_per_hour": PEAK_ORDERS_PER_HOUR, "profile": "peak"}
    with SandboxProcess(per_second=rate[0], per_minute=rate[1], **options) as sandbox:
        if history:
            warm(sandbox.url, today)
            prepare_home(home, cache, sandbox.url, today, history)
        env = os.environ | {
            "QEASY_HOME": str(home), "JST_BASE_URL": sandbox.url, "JST_APP_KEY": config.app_key,
            "JST_APP_SECRET": config.app_secret, "JST_ACCESS_TOKEN": config.access_token,
            "QEASY_RATE_PER_SECOND": str(rate[0]), "QEASY_RATE_PER_MINUTE": str(rate[1]),
            "DAGSTER_HOME": str(dagster_home(home)),
        }
        os.environ["DAGSTER_HOME"] = env["DAGSTER_HOME"]
        daemon = subprocess.Popen([str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w",
                                   "workspace.yaml"], cwd=ROOT, env=env, start_new_session=True,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            instance = dg.DagsterInstance.get()
            started = time.monotonic()
            while not nrt_runs(instance, dg.DagsterRunStatus.SUCCESS):
                if time.monotonic() - started > 600 or daemon.poll() is not None:
                    raise RuntimeError("no near-real-time run succeeded within 10 minutes")
                time.sleep(2)
            first = time.monotonic() - started
            print(f"  first nrt run (today whole) done {first:.0f} s after start")
            seconds = []
            for n in range(samples):
                time.sleep(random.uniform(0, 15))
                before = totals(home, today)
                step = {"advance_seconds": advance}
                httpx.post(sandbox.url + "/__sandbox/clock", json=step).raise_for_status()
                changed = time.monotonic()
                while totals(home, today) == before:
                    if time.monotonic() - changed > 300:
                        raise RuntimeError("the metric did not change within 5 minutes")
                    time.sleep(0.5)
                seconds.append(time.monotonic() - changed)
                print(f"  sample {n + 1}: {seconds[-1]:5.1f} s")
            runs = [r for r in nrt_runs(instance, dg.DagsterRunStatus.SUCCESS) if r.end_time and r.start_time]
            durations = sorted(r.end_time - r.start_time for r in runs)
        finally:
            os.killpg(daemon.pid, signal.SIGTERM)
            daemon.wait(timeout=60)
    ordered = sorted(seconds)
    return {"median": statistics.median(ordered), "p95": ordered[max(0, round(0.95 * len(ordered)) - 1)],
            "samples": [round(x, 1) for x in seconds], "runs": len(durations),
            "run_median": statistics.median(durations) if durations else None, "first_run": first,
            "history_days": history, "advance_seconds": advance,
            "orders_per_hour": PEAK_ORDERS_PER_HOUR if history else orders_per_hour}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=6)
    parser.add_argument("--orders-per-hour", type=float, default=2000.0)
    parser.add_argument("--advance-seconds", type=float, default=300.0, help="clock step per sample")
    parser.add_argument("--history", type=int, default=0, help="days loaded before today; > 0 also puts "
                        "today at the peak profile (50,000 orders/hour) staged up to 18:00")
    parser.add_argument("--workdir", type=Path, help="with --history: keep the rendered ODS here and reuse "
                        "it (bench/nrt_history.py's --workdir/ods)")
    add_json_option(parser)
    args = parser.parse_args()
    rate = RATE if args.history else (40, 2400)
    what = (f"{args.history} days loaded, today at {PEAK_ORDERS_PER_HOUR:,.0f} orders/hour from 18:00"
            if args.history else f"{args.orders_per_hour:.0f} orders/hour")
    print(f"Freshness: ERP change -> metric in ClickHouse, near-real-time sensor running "
          f"({args.samples} samples, {what}, clock +{args.advance_seconds:.0f} s per sample, "
          f"budget {rate[0]}/s {rate[1]}/min)")
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="qeasy-freshness-ods-"))).resolve()
    try:
        result = measure(args.samples, args.orders_per_hour, rate, args.advance_seconds, args.history,
                         workdir / "ods")
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"  median {result['median']:.1f} s, p95 {result['p95']:.1f} s over {len(result['samples'])} "
          f"changes; nrt runs: {result['runs']}, median duration {result['run_median'] or 0:.1f} s")
    write_json(args.json, result)


if __name__ == "__main__":
    main()
