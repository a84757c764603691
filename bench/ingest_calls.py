"""Calls per run against the fewest a correct client needs, at the real API's limits.

A week plus three days (2026-11-11..20) of every dataset, then the same range again (a re-run),
through the `ingest` and `shops` jobs, against a sandbox in its own process with the real limits
(5 calls/s, 100 calls/min), faults and page drift. The bound is `qeasy.sandbox.bound.fewest_calls`
(full pages at the largest page size over the longest windows the API allows), from the sandbox's
ground truth after each run. Calls are the sandbox's own count of calls answered in full; the calls
that faults cost, which every client repeats, are shown apart. Prints calls, bound, ratio per
dataset, and the 199/200 answers (throttles beyond the injected bursts would mean the budget
let too many calls through).
"""

import argparse
import tempfile
import time
from datetime import date
from pathlib import Path

import dagster as dg
import httpx
from common import add_json_option, write_json

from qeasy.datasets import ENDPOINTS
from qeasy.erp.times import day_of_date
from qeasy.runner import run_job
from qeasy.sandbox.bound import fewest_calls
from qeasy.sandbox.config import SandboxConfig
from qeasy.sandbox.process import SandboxProcess
from qeasy.settings import load_settings

FIRST, LAST = date(2026, 11, 11), date(2026, 11, 20)
CLOCK = "2026-11-21 12:00:00"
LIMITS = (5, 100)  # the real API's: calls per second, per minute
FAULTS = {"http_5xx": 0.05, "malformed_json": 0.02, "burst": 0.01, "burst_length": 4, "page_drift": 0.2}


def one_run(url: str, home: Path) -> dict:
    """Both jobs over the range once; the sandbox's call statistics per dataset, and the bound."""
    from qeasy_assets.definitions import build_definitions

    config = SandboxConfig()
    env = {"QEASY_HOME": str(home), "JST_BASE_URL": url, "JST_APP_KEY": config.app_key,
           "JST_APP_SECRET": config.app_secret, "JST_ACCESS_TOKEN": config.access_token,
           "QEASY_RATE_PER_SECOND": str(LIMITS[0]), "QEASY_RATE_PER_MINUTE": str(LIMITS[1])}
    defs = build_definitions(load_settings(env))
    httpx.post(f"{url}/__sandbox/stats/reset", timeout=10)
    started = time.monotonic()
    with dg.DagsterInstance.ephemeral() as instance:
        for job, days in (("ingest", (FIRST, LAST)), ("shops", ())):
            report = run_job(defs, job, instance, *days)
            if not report.success:
                raise RuntimeError(f"the {job} run failed: {report.failure}")
    seconds = time.monotonic() - started
    stats = httpx.get(f"{url}/__sandbox/stats", timeout=10).json()
    bound = fewest_calls(url, day_of_date(FIRST), day_of_date(LAST))
    datasets = {}
    for e in ENDPOINTS.values():
        s = stats.get(e.path, {"calls": 0, "ok": 0, "throttled": 0})
        datasets[e.dataset] = {"calls": s["ok"], "bound": bound[e.dataset], "failed": s["calls"] - s["ok"],
                               "throttled": s["throttled"]}
    return {"seconds": seconds, "datasets": datasets,
            "calls": sum(d["calls"] for d in datasets.values()),
            "bound": sum(d["bound"] for d in datasets.values()),
            "failed": sum(d["failed"] for d in datasets.values()),
            "throttled": sum(d["throttled"] for d in datasets.values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders-per-hour", type=float, nargs="+", default=[5.0, 60.0])
    add_json_option(parser)
    args = parser.parse_args()
    figures = []
    for rate in args.orders_per_hour:
        print(f"{FIRST}..{LAST} at {rate:g} orders/hour, limits {LIMITS[0]}/s {LIMITS[1]}/min, "
              f"faults {FAULTS}", flush=True)
        with SandboxProcess(clock=CLOCK, orders_per_hour=rate, per_second=LIMITS[0],
                            per_minute=LIMITS[1]) as sandbox:
            httpx.post(f"{sandbox.url}/__sandbox/faults", json=FAULTS, timeout=10).raise_for_status()
            home = Path(tempfile.mkdtemp(prefix="qeasy-calls-"))
            for name in ("run", "re-run"):
                run = one_run(sandbox.url, home)
                for dataset, d in run["datasets"].items():
                    print(f"  {name:6} {dataset:12} {d['calls']:5} calls, bound {d['bound']:5} "
                          f"({d['calls'] / d['bound']:.2f}x), {d['failed']} failed", flush=True)
                print(f"  {name:6} all: {run['calls']} calls for a bound of {run['bound']} "
                      f"(**{run['calls'] / run['bound']:.2f}x**), {run['failed']} failed calls retried "
                      f"({run['throttled']} answered 199/200), {run['seconds']:.0f} s", flush=True)
                figures.append({"orders_per_hour": rate, "run": name, **run,
                                "ratio": run["calls"] / run["bound"]})
    write_json(args.json, figures)


if __name__ == "__main__":
    main()
