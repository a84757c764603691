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
from pathlib import Path

import httpx

from qeasy.erp.budget import CallBudget
from qeasy.erp.client import ErpClient
from qeasy.erp.endpoints import ENDPOINTS
from qeasy.erp.times import day_of_date
from qeasy.ingest.pull import Puller
from qeasy.sandbox.config import SandboxConfig
from qeasy.sandbox.process import SandboxProcess

CLOCK = "2026-11-21 12:00:00"
DAY = day_of_date(__import__("datetime").date(2026, 11, 18))


def physical_calls(seconds: float, per_second: int, per_minute: int) -> float:
    """The most calls a sliding-window budget admits in `seconds`, starting from rest."""
    minutes, rest = divmod(seconds, 60)
    return minutes * per_minute + min(per_minute, per_second * rest)


def run_case(per_second: int, per_minute: int, orders_per_hour: float, datasets: list[str],
             latency_ms: float, days: int) -> None:
    with SandboxProcess(clock=CLOCK, orders_per_hour=orders_per_hour, per_second=per_second,
                        per_minute=per_minute) as sandbox:
        url = sandbox.url
        httpx.post(url + "/__sandbox/faults", json={"latency_ms": latency_ms})
        config = SandboxConfig()
        print(f"\nbudget {per_second}/s {per_minute}/min, sandbox latency {latency_ms:.0f} ms, "
              f"{orders_per_hour:.0f} orders/hour, {days} day(s) per dataset")
        for dataset in datasets:
            endpoint = ENDPOINTS[dataset]
            with tempfile.TemporaryDirectory() as state:
                budget = CallBudget(Path(state), config.app_key, per_second, per_minute)
                client = ErpClient(url, config.app_key, config.app_secret, config.access_token, budget)
                httpx.post(url + "/__sandbox/stats/reset")
                started = time.monotonic()
                pulls = Puller(client, endpoint).pull(list(range(DAY - days + 1, DAY + 1)))
                elapsed = time.monotonic() - started
                client.close()
            stats = httpx.get(url + "/__sandbox/stats").json()
            throttled = sum(s["throttled"] for s in stats.values())
            rows = sum(len(p.rows) for p in pulls)
            calls = sum(p.stats.calls for p in pulls)
            limit = physical_calls(elapsed, per_second, per_minute) * endpoint.page_size_max / elapsed
            print(f"  {dataset:<11} {rows:>7,} rows in {elapsed:6.1f} s = {rows / elapsed:7.1f} rows/s"
                  f" = {rows / elapsed / limit:5.2f} of the limit ({limit:.0f} rows/s); calls {calls},"
                  f" rows/call {rows / max(calls, 1):.1f}, 199/200 answers {throttled}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the raised-limit case")
    args = parser.parse_args()
    run_case(20, 1200, 2000, ["sales_out"], 200, days=1)
    run_case(20, 1200, 2000, ["after_sale", "inventory"], 200, days=7)
    if not args.quick:
        # The real API's limits: the per-minute span binds; a day at 500 orders/hour is ~250 calls.
        run_case(5, 100, 500, ["sales_out"], 200, days=1)


if __name__ == "__main__":
    main()
