"""Ingest rate against the physical limit of the ERP's call budget.

The physical limit is the most rows the budget allows in the time the pull took: the most calls
the sliding 1-second and 60-second spans admit in that time, each a full page. The sandbox runs
in its own process and answers every call after 200 ms (latency fault); qeasy's puller (the code
the ODS assets run) reads whole days through the shared budget. Prints rows/s, the fraction of
the limit, and the 199/200 answers.
"""

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from common import add_json_option, write_json

from qeasy.datasets import ENDPOINTS
from qeasy.erp.budget import CallBudget
from qeasy.erp.client import ErpClient
from qeasy.erp.times import date_of_day, day_of_date
from qeasy.ingest.pull import Puller
from qeasy.sandbox.config import SandboxConfig
from qeasy.sandbox.process import SandboxProcess

CLOCK = "2026-11-21 12:00:00"
DAY = day_of_date(__import__("datetime").date(2026, 11, 18))


def physical_calls(seconds: float, per_second: int, per_minute: int) -> float:
    """The most calls a sliding-window budget admits in `seconds`, starting from rest."""
    minutes, rest = divmod(seconds, 60)
    return minutes * per_minute + min(per_minute, per_second * rest)


@dataclass(frozen=True)
class Case:
    per_second: int
    per_minute: int
    dataset: str
    orders_per_hour: float
    days: int
    skus: int = 2000


def run_once(case: Case, url: str) -> dict:
    """One pull of the case's days through qeasy's puller and a fresh budget: its figures."""
    endpoint, config = ENDPOINTS[case.dataset], SandboxConfig()
    with tempfile.TemporaryDirectory() as state:
        budget = CallBudget(Path(state), config.app_key, case.per_second, case.per_minute)
        client = ErpClient(url, config.app_key, config.app_secret, config.access_token, budget)
        httpx.post(url + "/__sandbox/stats/reset")
        started = time.monotonic()
        pulls = Puller(client, endpoint).pull(list(range(DAY - case.days + 1, DAY + 1)))
        elapsed = time.monotonic() - started
        client.close()
    stats = httpx.get(url + "/__sandbox/stats").json()
    rows, calls = sum(len(p.rows) for p in pulls), sum(p.stats.calls for p in pulls)
    limit = physical_calls(elapsed, case.per_second, case.per_minute) * endpoint.page_size_max / elapsed
    return {"rows": rows, "seconds": elapsed, "rows_per_s": rows / elapsed, "limit_rows_per_s": limit,
            "fraction": rows / elapsed / limit, "calls": calls, "rows_per_call": rows / max(calls, 1),
            "throttled": sum(s["throttled"] for s in stats.values())}


def run_case(case: Case, runs: int, latency_ms: float = 200) -> dict:
    """The case `runs` times against one sandbox: the run with the median fraction, and every run's."""
    with SandboxProcess(clock=CLOCK, orders_per_hour=case.orders_per_hour, per_second=case.per_second,
                        per_minute=case.per_minute, skus=case.skus) as sandbox:
        httpx.post(sandbox.url + "/__sandbox/faults", json={"latency_ms": latency_ms})
        limits = {"per_second": case.per_second, "per_minute": case.per_minute}
        # Warm-up without calls: the sandbox generates the days' data on first use.
        first, last = date_of_day(DAY - case.days + 1), date_of_day(DAY + 1)
        httpx.post(sandbox.url + "/__sandbox/truth", json={"dataset": case.dataset, "count_only": True,
                                                           "begin": f"{first} 00:00:00",
                                                           "end": f"{last} 00:00:00"}).raise_for_status()
        results = []
        for _ in range(runs):
            httpx.post(sandbox.url + "/__sandbox/limits", json=limits)  # every run starts from rest
            results.append(run_once(case, sandbox.url))
    ordered = sorted(results, key=lambda r: r["fraction"])
    middle = ordered[len(ordered) // 2]
    return {"budget": f"{case.per_second}/s, {case.per_minute}/min", "dataset": case.dataset,
            "data": f"{case.days} day(s) at {case.orders_per_hour:,.0f} orders/h, {case.skus:,} SKUs",
            **middle, "fractions": [round(r["fraction"], 3) for r in results],
            "throttled_total": sum(r["throttled"] for r in results)}


CASES = [
    # The real API's limits. Each pull stays under 100 calls: a longer one would spend most of its
    # time waiting out the minute, which measures the clock, not the puller.
    Case(5, 100, "sales_out", 150, 1),
    Case(5, 100, "after_sale", 500, 7),
    Case(5, 100, "inventory", 500, 7, skus=8000),
    # Raised limits, as an ISV account or the embedded sandbox allows.
    Case(20, 1200, "sales_out", 600, 1),
    Case(20, 1200, "after_sale", 2000, 7),
    Case(20, 1200, "inventory", 2000, 7, skus=20000),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    add_json_option(parser)
    args = parser.parse_args()
    print(f"Ingest against the physical limit (sandbox latency 200 ms, median of {args.runs} runs)")
    print(f"  {'budget':<16}{'dataset':<12}{'rows':>8}{'s':>7}{'rows/s':>9}{'of limit':>10}{'rows/call':>10}"
          f"{'199/200':>8}  runs")
    figures = []
    for case in CASES:
        f = run_case(case, args.runs)
        figures.append(f)
        print(f"  {f['budget']:<16}{f['dataset']:<12}{f['rows']:>8,}{f['seconds']:>7.1f}"
              f"{f['rows_per_s']:>9.1f}{f['fraction']:>10.2f}{f['rows_per_call']:>10.1f}"
              f"{f['throttled_total']:>8}  {f['fractions']}", flush=True)
    write_json(args.json, figures)


if __name__ == "__main__":
    main()
