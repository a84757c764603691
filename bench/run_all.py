"""`make bench`: every benchmark in turn, each in its own process, then a summary table printed and
written to bench/RESULTS.md with the date, the machine and the exact command.

Each benchmark prints its own details as it runs and leaves its figures as JSON; this script only
collects them. Comparisons are ratios measured within one benchmark run (these machines are noisy).
"""

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
COMMAND = "make bench"


def _machine() -> str:
    def field(path: str, name: str) -> str:
        return next((line.split(":", 1)[1].strip() for line in Path(path).read_text().splitlines()
                     if line.startswith(name)), "?")

    memory = int(field("/proc/meminfo", "MemTotal").split()[0]) / 1024 / 1024
    return (f"{platform.system()} {platform.release()}, {os.cpu_count()} cores "
            f"({field('/proc/cpuinfo', 'model name')}), {memory:.0f} GiB, Python {platform.python_version()}")


def _run(script: str, *args: str, python: str = sys.executable) -> tuple[dict | list | None, float]:
    """Run one benchmark, its output shown as it goes; its JSON figures and wall time."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        started = time.monotonic()
        done = subprocess.run([python, str(BENCH / script), *args, "--json", out.name], cwd=BENCH.parent)
        elapsed = time.monotonic() - started
        text = Path(out.name).read_text()
    if done.returncode != 0 or not text:
        print(f"!! {script} failed (exit {done.returncode})", flush=True)
        return None, elapsed
    return json.loads(text), elapsed


def _ingest(figures: list) -> list[str]:
    lines = ["| budget | dataset | data | rows | seconds | rows/s | of the limit | rows/call | 199/200 | "
             "fractions of all runs |", "|---|---|---|---|---|---|---|---|---|---|"]
    for f in figures:
        lines.append(f"| {f['budget']} | {f['dataset']} | {f['data']} | {f['rows']:,} | {f['seconds']:.1f} | "
                     f"{f['rows_per_s']:,.1f} | **{f['fraction']:.2f}** | {f['rows_per_call']:.1f} | "
                     f"{f['throttled_total']} | {', '.join(map(str, f['fractions']))} |")
    return lines


def _dlt(f: dict) -> list[str]:
    setup = f["setup"]
    lines = [f"Sales-out {setup['day']} at {setup['orders_per_hour']:,.0f} orders/h, "
             f"budget {setup['budget']}, latency {setup['latency_ms']:.0f} ms, "
             f"page drift {setup['page_drift']}, dlt {setup['dlt_version']}, "
             f"medians of {setup['runs']} rounds.", "",
             "| tool | rows | seconds | rows/s | 199/200 | rows missed | qeasy's rows/s over it |",
             "|---|---|---|---|---|---|---|"]
    for name, t in f["tools"].items():
        ratio = f"**{f['qeasy_over'][name]:.2f}**" if name in f["qeasy_over"] else ""
        lines.append(f"| {name} | {t['rows']:,.0f} | {t['seconds']:.1f} | {t['rows_per_s']:,.0f} | "
                     f"{t['throttled']:.0f} | {t['missed']:.0f} | {ratio} |")
    return lines


def _peak(f: dict) -> list[str]:
    aims, rate, rss = f["aims"], f["lines_per_s"], f["peak_rss_mib"]
    runs = ", ".join(f"{r['lines_per_s']:,} lines/s / {r['peak_rss_mib']:,} MiB" for r in f["runs"])
    return [f"{f['lines']:,} lines (one day at 50,000 orders/hour) DWD -> DWS -> ADS in "
            f"**{f['seconds']:.1f} s = {rate:,.0f} lines/s** (aim >= {aims['lines_per_s']:,}: "
            f"{_verdict(rate >= aims['lines_per_s'])}), peak RSS **{rss:,.0f} MiB** "
            f"(aim < {aims['peak_rss_mib']:,}: {_verdict(rss < aims['peak_rss_mib'])}); runs: {runs}; "
            f"failed checks: {', '.join(f['failed_checks']) or 'none'}."]


def _freshness(f: dict) -> list[str]:
    samples = ", ".join(map(str, f["samples"]))
    setup = (f"{f['history_days']} days loaded (2,000 orders/hour), today at {f['orders_per_hour']:,.0f} "
             f"orders/hour from 18:00, clock +{f['advance_seconds']:.0f} s per change. "
             if f.get("history_days") else "")
    return [f"{setup}ERP change -> metric in ClickHouse: "
            f"**median {f['median']:.1f} s, p95 {f['p95']:.1f} s** "
            f"(aim <= 60 s: {_verdict(f['p95'] <= 60)}; stretch <= 15 s: {_verdict(f['p95'] <= 15)}); "
            f"samples {samples} s; {f['runs']} nrt runs, median {f['run_median']:.1f} s each; "
            f"the first (today whole) {f['first_run']:.0f} s after a cold start."]


def _nrt_history(f: dict) -> list[str]:
    sizes = f["sizes"]
    lines = [f"Today ({f['today']}) at 50,000 orders/hour staged up to 18:00, history at 2,000 orders/hour; "
             f"each run after the sandbox clock moved {f['tick_seconds']} s; {f['runs_per_size']} runs per "
             "size, in-process `nrt` job.", "",
             "| history | nrt run, median | runs (s) | ODS steps | DWD steps | warehouse step | "
             "ADS days rewritten |",
             "|---|---|---|---|---|---|---|"]
    for s in sizes:
        steps = s["steps"]
        ods = sum(v for k, v in steps.items() if k.startswith("ods_"))
        dwd = sum(v for k, v in steps.items() if k.startswith("dwd_"))
        ads = sum(s["days_rewritten"].get(t, 0) for t in ("ads_shop_daily", "ads_sku_after_sale_7d",
                                                          "ads_inventory_turnover"))
        lines.append(f"| {s['days']} days | **{s['median']:.1f} s** | {', '.join(map(str, s['runs']))} | "
                     f"{ods:.1f} s | {dwd:.1f} s | {steps.get('warehouse', 0):.1f} s | {ads} |")
    if f["ratio"] is not None:
        lines += ["", f"{sizes[-1]['days']} days over {sizes[0]['days']}: **{f['ratio']:.2f}x** "
                  f"(aim <= {f['aim_ratio']}x: {_verdict(f['ratio'] <= f['aim_ratio'])})."]
    return lines


def _screens(f: dict) -> list[str]:
    lines = [f"30 history days at 2,000 orders/hour and today ({f['today']}) at 50,000 orders/hour up "
             f"to 18:00 ({f['lines']:,} sales-out lines, {f['today_lines']:,} of them today); every query "
             f"of a screen per request, on an open session; latest complete day {f['day']}.", "",
             "| screen | user | p50 | p99 |", "|---|---|---|---|"]
    lines += [f"| {s['screen']} {s['title']} | {s['user']} | {s['p50_ms']:.1f} ms | "
              f"**{s['p99_ms']:.1f} ms** |" for s in f["screens"]]
    worst = max(f["screens"], key=lambda s: s["p99_ms"])
    return [*lines, "", f"Worst p99 {worst['p99_ms']:.1f} ms, screen {worst['screen']} ({worst['user']}) "
            f"(aim <= {f['aim_p99_ms']:.0f} ms: {_verdict(f['met'])}; the reference case's BI: 380 ms). "
            f"On the embedded warehouse every request also opens and closes a session: "
            f"{f['session_open_ms']:.0f} ms."]


def _orchestration(f: dict) -> list[str]:
    pairs = zip(f["runs"]["backfill"], f["runs"]["warm"], strict=True)
    runs = ", ".join(f"{b:.1f}/{w:.1f}" for b, w in pairs)
    return [f"{f['days']}-day backfill of every day-partitioned asset ({f['orders_per_hour']:.0f} "
            f"orders/hour): Dagster CLI backfill (a process per step) **{f['backfill_s']:.1f} s** against "
            f"the same work in one warm process **{f['warm_s']:.1f} s**: ratio **{f['ratio']:.2f}** "
            f"(runs {runs} s)."]


def _capacity(figures: dict) -> list[str]:
    lines = ["| request | requests/s (median) | runs | non-zero codes |", "|---|---|---|---|"]
    for name, f in figures.items():
        lines.append(f"| {name} | **{f['requests_per_s']:,.0f}** | {', '.join(map(str, f['runs']))} | "
                     f"{f['failed']} |")
    return lines


def _calls(figures: list) -> list[str]:
    lines = ["2026-11-11..20 (a week plus three days) and a re-run, real limits (5/s, 100/min), faults and "
             "page drift. Calls = the sandbox's count of calls answered in full; bound = "
             "`qeasy.sandbox.bound.fewest_calls`; failed calls are those faults cost, each retried.", "",
             "| orders/h | run | calls | bound | calls / bound | failed, retried | 199/200 | seconds |",
             "|---|---|---|---|---|---|---|---|"]
    for f in figures:
        lines.append(f"| {f['orders_per_hour']:g} | {f['run']} | {f['calls']:,} | {f['bound']:,} | "
                     f"**{f['ratio']:.2f}x** | {f['failed']} | {f['throttled']} | {f['seconds']:.0f} |")
    worst = max(f["ratio"] for f in figures)
    return [*lines, "", f"Worst ratio {worst:.2f}x (aim <= 1.2x: {_verdict(worst <= 1.2)})."]


def _verdict(met: bool) -> str:
    return "met" if met else "**missed**"


# Title, script, renderer, arguments ({work}: a folder shared by the benchmarks of one `make bench`,
# so that the freshness variant reuses the ODS nrt_history rendered).
BENCHMARKS = [
    ("Sandbox capacity", "sandbox_capacity.py", _capacity, []),
    ("Ingest against the physical limit", "ingest_rate.py", _ingest, []),
    ("Ingest against dlt", "ingest_vs_dlt.py", _dlt, []),
    ("Calls per run against the fewest needed", "ingest_calls.py", _calls, []),
    ("Peak day transform", "peak_day.py", _peak, []),
    ("Freshness", "freshness.py", _freshness, []),
    ("Near-real-time cost against history", "nrt_history.py", _nrt_history,
     ["--histories", "1,10,30", "--runs", "3", "--workdir", "{work}"]),
    ("Freshness, 30 days loaded, today at peak", "freshness.py", _freshness,
     ["--history", "30", "--samples", "4", "--workdir", "{work}"]),
    ("Screen queries, 30 days loaded, today at peak", "screens.py", _screens,
     ["--runs", "50", "--workdir", "{work}"]),
    ("Orchestration overhead", "orchestration.py", _orchestration, []),
]


def main() -> None:
    started, when = time.monotonic(), datetime.now().astimezone()
    sections, timings = [], []
    with tempfile.TemporaryDirectory(prefix="qeasy-bench-") as work:
        for title, script, render, args in BENCHMARKS:
            print(f"\n=== {title} ({script}) ===", flush=True)
            figures, seconds = _run(script, *(arg.format(work=work) for arg in args))
            timings.append((title, seconds, figures is not None))
            body = render(figures) if figures is not None else ["**It failed in this run**; see its output."]
            shown = " ".join(arg for arg in args if arg != "{work}" and arg != "--workdir")
            sections += [f"## {title} (`bench/{script}{' ' + shown if shown else ''}`)", "", *body, ""]
    total = time.monotonic() - started
    header = [
        "# Benchmark results", "",
        f"Measured {when:%Y-%m-%d %H:%M %Z} on {_machine()}, with `{COMMAND}` "
        f"({total / 60:.1f} minutes in all). What each benchmark does and why: [README.md](README.md). "
        "Figures are medians of several runs; every comparison is a ratio measured within one run.", "",
        "| benchmark | wall time | |", "|---|---|---|",
        *[f"| {t} | {s:.0f} s | {'ok' if ok else 'FAILED'} |" for t, s, ok in timings], "",
    ]
    (BENCH / "RESULTS.md").write_text("\n".join(header + sections))
    print("\n" + "\n".join(header + sections))
    if not all(ok for _, _, ok in timings):
        sys.exit(1)


if __name__ == "__main__":
    main()
