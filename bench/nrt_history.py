"""Near-real-time cost against history: how long an `nrt` run takes with 1, 10 and 30 days already
loaded (2,000 orders/hour) and today at the peak profile (50,000 orders/hour).

Set-up, not timed. One merchant seen through two sandbox configs that differ only in volume and
profile (same seed, SKU count and epoch, so the same catalog, stock and shops): the history days
come from the 2,000/hour config, today from the peak one. Both are rendered in-process as the ODS
assets would stage them (the columns of `ods_frame`, the latest version of every record modified
on the day, as of today 00:00 for the history and as of MORNING for today; one API-health row per
dataset and day), then the real assets load DWD, the dimensions, DWS and ADS (`run_job` of
`shops` for dim_shop and of `main` with every asset but the ODS pulls, in a process of their own).
The peak config serves in its own process (`qeasy sandbox`, clock pinned at MORNING, limits raised
together with qeasy's budget): from there on every change reaches qeasy over HTTP.

Today's peak window also holds edits of orders created on earlier days (confirmations, late
cancellations, after-sales). Ids are per creation day, so some of them name history orders: they
arrive as late edits of history records, and their metric days are recomputed as in production.

Timed, per history size in a fresh process: one unmeasured `nrt` run (it reads from the newest
staged change minus the 2-minute overlap), then `--runs` times: advance the sandbox clock by 15 s
(the sensor's cadence) and run the real `nrt` job in-process (`qeasy.runner.run_job`, as the tests
do; the daemon also starts a process per run, 2-3 s not counted here). Prints the median per size,
30 days over 1 day (aim <= 1.5x), the steps' medians and the warehouse refresh's functions.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

from common import add_json_option, median, render_ods, wrap_timed, write_json

HISTORY_ORDERS_PER_HOUR = 2_000.0
PEAK_ORDERS_PER_HOUR = 50_000.0
MORNING_HOUR = 18  # today is staged up to 18:00 (about 900k orders at peak); nrt pulls the rest
TICK_SECONDS = 15  # the near_real_time sensor's cadence
HISTORIES = (1, 10, 30)
RATE = (1_000, 60_000)  # calls per second and per minute: the sandbox's limits and qeasy's budget
HISTORY_DATASETS = ("sales_out", "after_sale", "inventory", "sku")  # what DWD and dim_sku read
TODAY_DATASETS = (*HISTORY_DATASETS, "unique_code", "shop")  # and what nrt pulls for today
AIM_RATIO = 1.5
RUN_ID = "bench-nrt-history"


def beijing_today() -> date:
    from qeasy.erp.times import BEIJING

    return datetime.now(BEIJING).date()


def morning(today: date) -> str:
    return f"{today} {MORNING_HOUR:02}:00:00"


def child(*args: object) -> None:
    subprocess.run([sys.executable, __file__, *map(str, args)], check=True)


# ---- rendering the ODS parts (not timed) -----------------------------------------------------------
def _merchant(peak: bool, clock: str):
    from qeasy.sandbox.clock import SimClock
    from qeasy.sandbox.config import SandboxConfig
    from qeasy.sandbox.merchant import Merchant

    config = SandboxConfig(profile="peak" if peak else "daily", clock=clock,
                           orders_per_hour=PEAK_ORDERS_PER_HOUR if peak else HISTORY_ORDERS_PER_HOUR)
    return Merchant(config, SimClock(config.clock))


def _render_day(merchant, datasets: tuple[str, ...], day: int, now: int, out: Path) -> None:
    """One day's ODS parts into the folder `out` (written whole or not at all)."""

    from qeasy.erp.times import day_start_ms

    end = min(now, day_start_ms(day + 1)) - 1
    keys = {d: merchant.shops() if d == "shop" else merchant.window(d, day_start_ms(day), end, now)
            for d in datasets}
    partial = out.with_suffix(".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    render_ods(merchant, keys, day, now, partial, RUN_ID)
    (partial / "records.json").write_text(json.dumps({d: len(k) for d, k in keys.items()}))
    partial.rename(out)


def _parts(cache: Path, today: date, days: int) -> list[tuple[date, Path]]:
    history = [today - timedelta(days=k) for k in range(days, 0, -1)]
    today_part = cache / f"today-{today}-{MORNING_HOUR}h"
    return [*((day, cache / f"day-{day}") for day in history), (today, today_part)]


def render(cache: Path, today: date, days: int) -> None:
    """Render what `cache` lacks of the `days` history days before `today` and of today's morning."""
    from qeasy.erp.times import day_of_date, parse_bj

    started = time.monotonic()
    history = peak = None
    for day, out in _parts(cache, today, days):
        if out.exists():
            continue
        if day < today:
            history = history or _merchant(False, f"{today} 00:00:00")
            _render_day(history, HISTORY_DATASETS, day_of_date(day), parse_bj(f"{today} 00:00:00"), out)
        else:
            peak = _merchant(True, morning(today))
            _render_day(peak, TODAY_DATASETS, day_of_date(day), parse_bj(morning(today)), out)
        counts = json.loads((out / "records.json").read_text())
        print(f"  rendered {day}: {', '.join(f'{d} {n:,}' for d, n in counts.items())} "
              f"({time.monotonic() - started:.0f} s so far)", flush=True)


# ---- a home: staging built from the parts, then loaded by the real assets (not timed) ---------------
def build_staging(path: Path, cache: Path, today: date, days: int) -> dict[str, int]:
    """The DuckDB staging file of `days` history days and today's morning; returns records per dataset."""
    import duckdb

    from qeasy.datasets import ENDPOINTS
    from qeasy.erp.client import CallStats
    from qeasy.erp.times import day_of_date
    from qeasy.ingest.pull import DayPull
    from qeasy.ingest.staging import ODS_TABLE, SCHEMA, api_calls

    parts = _parts(cache, today, days)
    totals: dict[str, int] = defaultdict(int)
    with duckdb.connect(str(path)) as conn:
        conn.execute(SCHEMA)
        for dataset in TODAY_DATASETS:
            conn.execute(ODS_TABLE.format(name=dataset))
            files = [str(f) for _, part in parts for f in sorted(part.glob(f"{dataset}-*.parquet"))]
            if files:
                conn.execute(f"INSERT INTO ods.{dataset} SELECT * FROM read_parquet(?)", [files])
        for day, part in parts:
            for dataset, records in json.loads((part / "records.json").read_text()).items():
                totals[dataset] += records
                # The API-health row a pull leaves: the DWD assets refuse days never ingested.
                pull = DayPull(day_of_date(day), [], 0, CallStats(), records, records, [])
                calls = api_calls(ENDPOINTS[dataset], [pull], RUN_ID, datetime.now())
                conn.register("calls", calls.with_columns(rows=records).to_arrow())
                conn.execute("INSERT INTO ops.api_calls SELECT * FROM calls")
                conn.unregister("calls")
    return dict(totals)


def env(home: Path, url: str) -> dict[str, str]:
    """qeasy's settings for `home` against the sandbox at `url`, with the raised budget."""
    from qeasy.sandbox.config import SandboxConfig

    config = SandboxConfig()
    return {"QEASY_HOME": str(home), "JST_BASE_URL": url, "JST_APP_KEY": config.app_key,
            "JST_APP_SECRET": config.app_secret, "JST_ACCESS_TOKEN": config.access_token,
            "QEASY_RATE_PER_SECOND": str(RATE[0]), "QEASY_RATE_PER_MINUTE": str(RATE[1])}


def _quiet() -> None:
    """Dagster's preview/beta warnings off, as qeasy_assets.definitions does (before importing assets)."""
    import dagster as dg

    warnings.filterwarnings("ignore", category=dg.PreviewWarning)
    warnings.filterwarnings("ignore", category=dg.BetaWarning)


def _definitions(home: Path, url: str):
    import dagster as dg

    _quiet()
    from qeasy.settings import load_settings
    from qeasy_assets.definitions import build_definitions

    return build_definitions(load_settings(env(home, url))), dg.DagsterInstance.ephemeral()


def load(home: Path, url: str, today: date, days: int) -> None:
    """DWD, dimensions, DWS and ADS of everything staged, by the real assets (no ODS pull)."""
    from qeasy.runner import run_job

    defs, instance = _definitions(home, url)
    downstream = [key.to_user_string() for key in defs.resolve_all_asset_keys()
                  if not key.to_user_string().startswith("ods_")]
    shops = run_job(defs, "shops", instance, assets=["dim_shop"])
    if not shops.success:
        raise RuntimeError(f"dim_shop: {shops.failure}")
    report = run_job(defs, "main", instance, today - timedelta(days=days), today,
                     assets=[name for name in downstream if name != "dim_shop"])
    if not report.success:
        raise RuntimeError(f"loading the history: {report.failure}")


def prepare_home(home: Path, cache: Path, url: str, today: date, days: int) -> dict[str, int]:
    """A home holding `days` history days and today's morning, staged and loaded (see the docstring);
    the sandbox at `url` must serve the peak config (dim_sku looks SKUs up)."""
    child("--render", cache, "--today", today, "--days", days)
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    started = time.monotonic()
    records = build_staging(home / "staging.duckdb", cache, today, days)
    child("--load", home, "--url", url, "--today", today, "--days", days)
    print(f"  home with {days} history day(s) loaded in {time.monotonic() - started:.0f} s: "
          f"{', '.join(f'{d} {n:,}' for d, n in records.items())} records staged", flush=True)
    return records


def warm(url: str, today: date) -> None:
    """Make the sandbox build its peak day buckets now, not inside a timed call (minutes at peak)."""
    import httpx

    started = time.monotonic()
    for dataset in ("sales_out", "after_sale", "unique_code"):
        httpx.post(url + "/__sandbox/truth", timeout=1800, json={
            "dataset": dataset, "begin": f"{today} 00:00:00", "end": f"{today} 23:59:59", "count_only": True,
        }).raise_for_status()
    print(f"  sandbox warmed up in {time.monotonic() - started:.0f} s", flush=True)


# ---- the timed runs, in a fresh process per history size -------------------------------------------
class Timer:
    """Seconds spent in wrapped module functions, wherever they are called from."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    def wrap(self, module, name: str, label: str | None = None) -> None:
        def done(args: tuple, started: float) -> None:
            self.seconds[label or name] += time.perf_counter() - started

        wrap_timed(module, name, done)

    def take(self) -> dict[str, float]:
        taken, self.seconds = dict(self.seconds), defaultdict(float)
        return taken


def _step_seconds(instance, run_id: str) -> dict[str, float]:
    """Each step's duration, from the run's event log."""
    begun, seconds = {}, {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type_value == "STEP_START":
            begun[event.step_key] = entry.timestamp
        elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE") and event.step_key in begun:
            seconds[event.step_key] = entry.timestamp - begun[event.step_key]
    return seconds


def measure(home: Path, url: str, today: date, runs: int, out: Path) -> None:
    _quiet()
    import httpx

    import qeasy.warehouse.refresh as refresh_module
    import qeasy_assets.warehouse.assets as warehouse_assets
    from qeasy.runner import run_job

    defs, instance = _definitions(home, url)
    timer = Timer()
    for name in ("changes", "loaded_days", "found_skus", "publish_fact", "publish_inventory",
                 "publish_inventory_daily", "publish_metrics", "written", "forget_changes"):
        timer.wrap(refresh_module, name)
    timer.wrap(refresh_module, "_published_ids")
    timer.wrap(warehouse_assets, "refresh", "refresh (total)")
    timer.wrap(warehouse_assets, "evaluate", "warehouse checks")
    timer.wrap(warehouse_assets, "glance", "warehouse glance metadata")

    def nrt() -> dict:
        started = time.perf_counter()
        report = run_job(defs, "nrt", instance, today, today)
        seconds = time.perf_counter() - started
        if not report.success:
            raise RuntimeError(f"nrt run failed: {report.failure}")
        metadata = {step.asset: step.metadata for step in report.steps}
        run = instance.get_runs(limit=1)[0]
        return {"seconds": seconds, "steps": _step_seconds(instance, run.run_id), "refresh": timer.take(),
                "rows": {name: m.get("rows") for name, m in metadata.items()},
                "days_rewritten": {name: m["days_rewritten"] for name, m in metadata.items()
                                   if "days_rewritten" in m}}

    first = nrt()
    print(f"    first nrt run (from the staged morning): {first['seconds']:.1f} s", flush=True)
    results = []
    for n in range(runs):
        httpx.post(url + "/__sandbox/clock", json={"advance_seconds": TICK_SECONDS}).raise_for_status()
        results.append(nrt())
        print(f"    run {n + 1}: {results[-1]['seconds']:.1f} s", flush=True)
    out.write_text(json.dumps({"first": first, "runs": results}))


# ---- the report --------------------------------------------------------------------------------------
def _medians(results: list[dict], key: str) -> dict[str, float]:
    names = {name for r in results for name in r[key]}
    return {name: median([r[key].get(name, 0.0) for r in results]) for name in sorted(names)}


def summarise(days: int, records: dict[str, int], measured: dict) -> dict:
    runs = measured["runs"]
    return {"days": days, "records_staged": records, "median": median([r["seconds"] for r in runs]),
            "runs": [round(r["seconds"], 2) for r in runs], "first": round(measured["first"]["seconds"], 1),
            "steps": _medians(runs, "steps"), "refresh": _medians(runs, "refresh"),
            "rows": runs[len(runs) // 2]["rows"], "days_rewritten": runs[len(runs) // 2]["days_rewritten"]}


def report(sizes: list[dict]) -> dict:
    print(f"\n  {'history':>8} {'median s':>9}  runs (s)")
    for s in sizes:
        print(f"  {s['days']:>5} d {s['median']:9.2f}  {', '.join(f'{x:.1f}' for x in s['runs'])}")
    names = sorted({n for s in sizes for n in s["steps"]}, key=lambda n: -sizes[-1]["steps"].get(n, 0))
    head = "".join(f"{s['days']:>7} d" for s in sizes)
    print(f"\n  median seconds per step{' ' * 30}{head}")
    for name in names:
        print(f"  {name:<53}" + "".join(f"{s['steps'].get(name, 0):9.2f}" for s in sizes))
    print(f"\n  inside the warehouse step{' ' * 28}{head}")
    for name in sorted(sizes[-1]["refresh"], key=lambda n: -sizes[-1]["refresh"][n]):
        print(f"  {name:<53}" + "".join(f"{s['refresh'].get(name, 0):9.2f}" for s in sizes))
    print(f"\n  metric days rewritten per run{' ' * 24}{head}")
    for name in sizes[-1]["days_rewritten"]:
        print(f"  {name:<53}" + "".join(f"{s['days_rewritten'].get(name, 0):9}" for s in sizes))
    print(f"  rows written per run{' ' * 33}{head}")
    for name in sizes[-1]["rows"]:
        print(f"  {name:<53}" + "".join(f"{s['rows'].get(name) or 0:9,}" for s in sizes))
    if len(sizes) < 2:  # nothing to compare
        return {"ratio": None, "aim_ratio": AIM_RATIO}
    ratio = sizes[-1]["median"] / sizes[0]["median"]
    verdict = "met" if ratio <= AIM_RATIO else "MISSED"
    print(f"\nverdict: {sizes[-1]['days']} days of history {sizes[-1]['median']:.1f} s against "
          f"{sizes[0]['days']} day {sizes[0]['median']:.1f} s per nrt run: {ratio:.2f}x "
          f"(aim <= {AIM_RATIO}x: {verdict})")
    return {"ratio": ratio, "aim_ratio": AIM_RATIO}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed nrt runs per history size (median)")
    parser.add_argument("--histories", default=",".join(map(str, HISTORIES)),
                        help="history sizes in days, comma-separated (the first and last are compared)")
    parser.add_argument("--workdir", type=Path, help="keep the rendered ODS here and reuse it on later runs "
                        "(default: a temporary directory, removed afterwards)")
    for hidden in ("--render", "--load", "--measure", "--url", "--today", "--days", "--out"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    add_json_option(parser)
    args = parser.parse_args()
    if args.render:
        return render(Path(args.render), date.fromisoformat(args.today), int(args.days))
    if args.load:
        return load(Path(args.load), args.url, date.fromisoformat(args.today), int(args.days))
    if args.measure:
        return measure(Path(args.measure), args.url, date.fromisoformat(args.today), args.runs,
                       Path(args.out))

    import httpx

    from qeasy.sandbox.process import SandboxProcess

    histories = sorted(int(n) for n in args.histories.split(","))
    today = beijing_today()
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="qeasy-nrt-history-"))).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"nrt cost against history: today {today} at {PEAK_ORDERS_PER_HOUR:,.0f} orders/hour (peak), "
          f"staged up to {MORNING_HOUR}:00; history {', '.join(map(str, histories))} day(s) at "
          f"{HISTORY_ORDERS_PER_HOUR:,.0f} orders/hour; {args.runs} runs each after {TICK_SECONDS} s; "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}", flush=True)
    started = time.monotonic()
    try:
        child("--render", workdir / "ods", "--today", today, "--days", max(histories))
        sizes = []
        with SandboxProcess(clock=morning(today), orders_per_hour=PEAK_ORDERS_PER_HOUR, profile="peak",
                            per_second=RATE[0], per_minute=RATE[1]) as sandbox:
            warm(sandbox.url, today)
            for days in histories:
                print(f"history {days} day(s):", flush=True)
                httpx.post(sandbox.url + "/__sandbox/clock", json={"pin": morning(today)}).raise_for_status()
                home = workdir / f"home-{days}"
                records = prepare_home(home, workdir / "ods", sandbox.url, today, days)
                out = home / "nrt.json"
                child("--measure", home, "--url", sandbox.url, "--today", today, "--runs", args.runs,
                      "--out", out)
                sizes.append(summarise(days, records, json.loads(out.read_text())))
                shutil.rmtree(home, ignore_errors=True)
        verdict = report(sizes)
        print(f"  ({(time.monotonic() - started) / 60:.1f} minutes in all; load average now "
              f"{os.getloadavg()[0]:.1f})")
        write_json(args.json, {"today": today, "sizes": sizes, **verdict,
                               "tick_seconds": TICK_SECONDS, "runs_per_size": args.runs})
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
