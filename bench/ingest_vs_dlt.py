"""Ingest against dlt: qeasy's puller and dlt's REST API source on the same day, limits and faults.

The sandbox runs in its own process with its clock pinned, answers every call after 200 ms, enforces
the benchmark's call budget and drifts pages (a row already served is modified while a client pages
through a window, so later rows move up a page). Each round runs, one after the other:

- qeasy: `Puller(client, endpoint).pull([day])` through a fresh `CallBudget` of the same limits,
  then `staging.store` into a DuckDB file (what the ODS asset does);
- dlt, as its docs set it up (`bench/dlt_pipeline.py` in the bench venv `.venv-bench`): one
  `rest_api` resource for the day, page-number paging, incremental on `modified`, its retries;
- dlt in parallel: the same, the day cut into 8 windows extracted by dlt's 5 extract workers.

Before each run the sandbox's rate-limit spans and statistics are reset; after it, the ground truth
(`/__sandbox/truth`: the latest version of every record modified that day, as the sandbox has it
at the end of the run) is compared with what the tool stored. Rows are the truth's records, so
rows/s is the same numerator for every tool in a round. Figures are medians over the rounds;
ratios are taken within a round.
"""

import argparse
import json
import os
import subprocess
import tempfile
import time
from datetime import date
from pathlib import Path

import duckdb
import httpx
from common import add_json_option, median, write_json

from qeasy.datasets import ENDPOINTS
from qeasy.erp.budget import CallBudget
from qeasy.erp.client import ErpClient
from qeasy.erp.times import date_of_day, day_of_date
from qeasy.ingest.pull import Puller
from qeasy.ingest.staging import store
from qeasy.sandbox.config import SandboxConfig
from qeasy.sandbox.process import SandboxProcess

ROOT = Path(__file__).resolve().parent.parent
DLT_PYTHON = ROOT / ".venv-bench" / "bin" / "python"
CLOCK = "2026-11-21 12:00:00"
DAY = day_of_date(date(2026, 11, 18))
BEGIN, END = f"{date_of_day(DAY)} 00:00:00", f"{date_of_day(DAY + 1)} 00:00:00"
ENDPOINT = ENDPOINTS["sales_out"]


def truth(url: str) -> dict[str, int]:
    """io_id -> ts of every record whose latest version was modified on the day."""
    body = httpx.post(url + "/__sandbox/truth", json={"dataset": "sales_out", "begin": BEGIN, "end": END},
                      timeout=120).json()
    # The window's end is inclusive; a record modified at 00:00:00 of the next day is that day's.
    return {str(r["io_id"]): int(r["ts"]) for r in body["rows"] if str(r["modified"]) < END}


def run_qeasy(url: str, limits: dict, work: Path) -> dict:
    config = SandboxConfig()
    budget = CallBudget(work / "budget", config.app_key, limits["per_second"], limits["per_minute"])
    client = ErpClient(url, config.app_key, config.app_secret, config.access_token, budget)
    started = time.monotonic()
    pulls = Puller(client, ENDPOINT).pull([DAY])
    pulled = time.monotonic() - started
    with duckdb.connect(str(work / "qeasy.duckdb")) as conn:
        store(conn, ENDPOINT, pulls, "bench")
        seconds = time.monotonic() - started
        rows = conn.execute("SELECT record_key, version FROM ods.sales_out").fetchall()
    client.close()
    return {"seconds": seconds, "extract_seconds": pulled, "stored": {str(k): int(v) for k, v in rows},
            "dead_letters": sum(len(p.dead) for p in pulls)}


def run_dlt(url: str, slices: int, work: Path) -> dict:
    config = SandboxConfig()
    env = os.environ | {"JST_APP_KEY": config.app_key, "JST_APP_SECRET": config.app_secret,
                        "JST_ACCESS_TOKEN": config.access_token}
    out = work / "dlt.json"
    started = time.monotonic()
    done = subprocess.run([str(DLT_PYTHON), str(ROOT / "bench" / "dlt_pipeline.py"), "--base-url", url,
                           "--begin", BEGIN, "--end", END, "--slices", str(slices), "--workdir", str(work),
                           "--out", str(out)], env=env, capture_output=True, text=True)
    wall = time.monotonic() - started
    if done.returncode != 0:
        # A pipeline that gave up (e.g. retries exhausted) stored nothing: count it, show why.
        print(f"    dlt failed (exit {done.returncode}): {done.stderr.strip().splitlines()[-1:]}", flush=True)
        return {"seconds": wall, "extract_seconds": wall, "process_seconds": wall, "stored": {},
                "failed": True}
    summary = json.loads(out.read_text())
    stored: dict[str, int] = {}
    for io_id, ts in summary["rows"]:
        if io_id is not None:
            stored[str(io_id)] = max(stored.get(str(io_id), -1), int(ts) if ts is not None else -1)
    return {"seconds": summary["seconds"], "extract_seconds": summary["steps"].get("extract"),
            "process_seconds": wall, "steps": summary["steps"], "stored": stored,
            "dlt_version": summary["dlt_version"], "stored_rows": len(summary["rows"])}


def compare(result: dict, expected: dict[str, int]) -> dict:
    stored = result.pop("stored")
    missed = [k for k in expected if k not in stored]
    stale = [k for k in expected if k in stored and stored[k] < expected[k]]
    extra = [k for k in stored if k not in expected]
    rows = len(expected)
    delivered = 0 if result.get("failed") else rows  # a failed pipeline delivered nothing
    return result | {"rows": rows, "stored": len(stored), "missed": len(missed), "stale": len(stale),
                     "extra": len(extra), "rows_per_s": delivered / result["seconds"],
                     "extract_rows_per_s": delivered / (result["extract_seconds"] or result["seconds"])}


TOOLS = {
    "qeasy": lambda url, limits, work: run_qeasy(url, limits, work),
    "dlt": lambda url, limits, work: run_dlt(url, 1, work),
    "dlt, 8 windows in parallel": lambda url, limits, work: run_dlt(url, 8, work),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--orders-per-hour", type=float, default=300)
    parser.add_argument("--per-second", type=int, default=20)
    parser.add_argument("--per-minute", type=int, default=1200)
    parser.add_argument("--latency-ms", type=float, default=200)
    parser.add_argument("--page-drift", type=float, default=0.1)
    add_json_option(parser)
    args = parser.parse_args()
    if not DLT_PYTHON.exists():
        raise SystemExit(f"{DLT_PYTHON} is missing: `make bench` creates the bench venv (python3 -m venv "
                         ".venv-bench && .venv-bench/bin/pip install -r bench/requirements-dlt.txt)")
    limits = {"per_second": args.per_second, "per_minute": args.per_minute}
    setup = {"dataset": "sales_out", "day": str(date_of_day(DAY)), "orders_per_hour": args.orders_per_hour,
             "budget": f"{args.per_second}/s, {args.per_minute}/min", "latency_ms": args.latency_ms,
             "page_drift": args.page_drift, "runs": args.runs}
    print(f"Ingest against dlt: sales-out {setup['day']} at {args.orders_per_hour:,.0f} orders/h, budget "
          f"{setup['budget']}, latency {args.latency_ms:.0f} ms, page drift {args.page_drift}, "
          f"{args.runs} rounds", flush=True)
    runs: dict[str, list[dict]] = {name: [] for name in TOOLS}
    with SandboxProcess(clock=CLOCK, orders_per_hour=args.orders_per_hour, per_second=args.per_second,
                        per_minute=args.per_minute) as sandbox:
        url = sandbox.url
        httpx.post(url + "/__sandbox/faults", json={"latency_ms": args.latency_ms,
                                                     "page_drift": args.page_drift})
        truth(url)  # warm-up without calls: the sandbox generates the day on first use
        print(f"  {'round':<6}{'tool':<28}{'truth':>7}{'stored':>7}{'s':>7}{'rows/s':>8}{'calls':>6}"
              f"{'199/200':>8}{'missed':>7}{'stale':>6}{'extra':>6}", flush=True)
        for round_no in range(1, args.runs + 1):
            for name, tool in TOOLS.items():
                httpx.post(url + "/__sandbox/limits", json=limits)  # every run starts from rest
                httpx.post(url + "/__sandbox/stats/reset")
                with tempfile.TemporaryDirectory() as work:
                    result = tool(url, limits, Path(work))
                stats = httpx.get(url + "/__sandbox/stats").json().get(ENDPOINT.path, {})
                r = compare(result, truth(url)) | {"calls": stats.get("calls", 0),
                                                   "throttled": stats.get("throttled", 0),
                                                   "errors": stats.get("errors", 0)}
                runs[name].append(r)
                print(f"  {round_no:<6}{name:<28}{r['rows']:>7,}{r['stored']:>7,}{r['seconds']:>7.1f}"
                      f"{r['rows_per_s']:>8.0f}{r['calls']:>6}{r['throttled']:>8}{r['missed']:>7}"
                      f"{r['stale']:>6}{r['extra']:>6}", flush=True)
    figures = summarize(setup, runs)
    print_summary(figures)
    write_json(args.json, figures)


def summarize(setup: dict, runs: dict[str, list[dict]]) -> dict:
    keys = ("rows", "stored", "seconds", "rows_per_s", "extract_rows_per_s", "calls", "throttled", "missed",
            "stale", "extra")
    tools = {}
    for name, results in runs.items():
        tools[name] = {k: median([r[k] for r in results]) for k in keys}
        tools[name]["process_seconds"] = median([r.get("process_seconds", r["seconds"]) for r in results])
        tools[name]["failed_runs"] = sum(bool(r.get("failed")) for r in results)
        tools[name]["runs"] = [{k: (round(r[k], 2) if isinstance(r[k], float) else r[k]) for k in keys}
                               for r in results]
    ratios = {name: median([q["rows_per_s"] / d["rows_per_s"] for q, d in zip(runs["qeasy"], results,
                                                                              strict=True)])
              for name, results in runs.items() if name != "qeasy"}
    version = next((r["dlt_version"] for rs in runs.values() for r in rs if "dlt_version" in r), None)
    return {"setup": setup | {"dlt_version": version}, "tools": tools, "qeasy_over": ratios}


def print_summary(figures: dict) -> None:
    print(f"\nMedians of {figures['setup']['runs']} rounds (dlt {figures['setup']['dlt_version']}):")
    print(f"  {'tool':<28}{'rows':>7}{'s':>7}{'rows/s':>8}{'extract rows/s':>15}{'199/200':>8}{'missed':>7}"
          f"{'stale':>6}{'extra':>6}{'qeasy/it':>9}")
    for name, f in figures["tools"].items():
        ratio = figures["qeasy_over"].get(name)
        print(f"  {name:<28}{f['rows']:>7,.0f}{f['seconds']:>7.1f}{f['rows_per_s']:>8.0f}"
              f"{f['extract_rows_per_s']:>15.0f}{f['throttled']:>8.0f}{f['missed']:>7.0f}{f['stale']:>6.0f}"
              f"{f['extra']:>6.0f}{'' if ratio is None else f'{ratio:.2f}':>9}")


if __name__ == "__main__":
    main()
