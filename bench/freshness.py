"""Freshness: a change made in the ERP until the metric in ClickHouse reflects it, with the
near-real-time pull running as in production (the Dagster daemon, its `near_real_time` sensor,
`nrt` runs in their own processes, embedded ClickHouse).

The sandbox runs in its own process with its clock pinned at noon of today (Beijing), 2,000
orders/hour. Once the first `nrt` run has taken today whole, each sample waits a random 0-15 s
(so changes land anywhere in the run cycle), advances the sandbox clock by five minutes (new
orders, status moves), and times until today's totals in `v_ads_shop_daily` change. Prints each
sample, the median and p95, and the duration of the `nrt` runs meanwhile.
"""

import argparse
import os
import random
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


def measure(samples: int, orders_per_hour: float, rate: tuple[int, int]) -> dict:
    today = datetime.now(BEIJING).date().isoformat()
    home = Path(tempfile.mkdtemp(prefix="qeasy-freshness-"))
    config = SandboxConfig()
    with SandboxProcess(clock=f"{today} 12:00:00", orders_per_hour=orders_per_hour, per_second=rate[0],
                        per_minute=rate[1]) as sandbox:
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
                httpx.post(sandbox.url + "/__sandbox/clock", json={"advance_seconds": 300}).raise_for_status()
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
            "run_median": statistics.median(durations) if durations else None, "first_run": first}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=6)
    parser.add_argument("--orders-per-hour", type=float, default=2000.0)
    add_json_option(parser)
    args = parser.parse_args()
    print(f"Freshness: ERP change -> metric in ClickHouse, near-real-time sensor running "
          f"({args.samples} samples, {args.orders_per_hour:.0f} orders/hour, budget 40/s 2400/min)")
    result = measure(args.samples, args.orders_per_hour, (40, 2400))
    print(f"  median {result['median']:.1f} s, p95 {result['p95']:.1f} s over {len(result['samples'])} "
          f"changes; nrt runs: {result['runs']}, median duration {result['run_median'] or 0:.1f} s")
    write_json(args.json, result)


if __name__ == "__main__":
    main()
