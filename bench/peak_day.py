"""A peak day from DWD through ADS into embedded ClickHouse: lines/s and peak RSS.

One Beijing day of the sandbox merchant's peak profile (50,000 orders/hour for 24 hours, clock
pinned at the end of the day) is staged in DuckDB as the ODS assets would leave it: sales-out,
after-sale and inventory rows with the columns `qeasy.ingest.staging.ods_frame` writes, rendered
in-process by the merchant (the latest version of every record modified that day; HTTP would
take many minutes and is measured by ingest_rate.py), plus every SKU and shop and the API-health
rows a pull leaves. The dimensions are published to ClickHouse in a process of their own. None of
that is timed.

Timed, in a fresh process, is what the DWD assets and the warehouse asset run, with their
resources (DuckDBResource, ClickHouseResource on `chdb://`): for each fact dataset
`cleanse(extract(...))`, `store(...)`, the quarantine upsert and the DWD checks (pandera contract,
records accounted for), then `refresh(conn, client)` and the warehouse checks. The warehouse holds
only the dimensions, so the refresh publishes every staged record (its rebuild path) and computes
every metric of the day. `refresh` runs unchanged; its DWS and ADS steps are timed by wrapping the
functions it calls (publish_fact, publish_inventory, publish_inventory_daily, publish_metrics, and
inside DWS `insert` and `upsert`). Lines are the DWD rows of sales-out and after-sale; peak RSS is
that process's `ru_maxrss`.
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

from common import add_json_option, render_ods, wrap_timed, write_json

DAY = date(2026, 11, 18)
ORDERS_PER_HOUR = 50_000
FACTS = ("sales_out", "after_sale", "inventory")
LINES = ("sales_out", "after_sale")
AIM_LINES_PER_SECOND = 500_000
AIM_RSS_MIB = 2048


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# ---- prepare (not timed) -------------------------------------------------------------------------
def _merchant():
    from qeasy.erp.times import day_of_date, day_start_ms
    from qeasy.sandbox.clock import SimClock
    from qeasy.sandbox.config import SandboxConfig
    from qeasy.sandbox.merchant import Merchant

    config = SandboxConfig(profile="peak", orders_per_hour=ORDERS_PER_HOUR,
                           clock=f"{DAY + timedelta(days=1)} 00:00:00")
    day = day_of_date(DAY)
    return Merchant(config, SimClock(config.clock)), day, day_start_ms(day), day_start_ms(day + 1)


def stage(path: Path) -> None:
    """Write the ODS staging of the peak day to the DuckDB file `path`."""

    import numpy as np

    started = time.monotonic()
    merchant, day, begin, now = _merchant()
    keys = {dataset: merchant.window(dataset, begin, now - 1, now) for dataset in FACTS}
    keys["sku"] = np.array([k for k in range(merchant.catalog.size)
                            if merchant.modified("sku", k, now) is not None], dtype=np.int64)
    keys["shop"] = merchant.shops()
    print(f"  merchant: {', '.join(f'{d} {len(k):,}' for d, k in keys.items())} records "
          f"({time.monotonic() - started:.0f} s)", flush=True)
    parts = Path(tempfile.mkdtemp(prefix="parts-", dir=path.parent))
    try:
        render_ods(merchant, keys, day, now, parts, "bench-peak-day")
        import duckdb

        from qeasy.datasets import ENDPOINTS
        from qeasy.erp.client import CallStats
        from qeasy.ingest.pull import DayPull
        from qeasy.ingest.staging import ODS_TABLE, SCHEMA, api_calls

        partial = path.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        with duckdb.connect(str(partial)) as conn:
            conn.execute(SCHEMA)
            for dataset, all_keys in keys.items():
                conn.execute(ODS_TABLE.format(name=dataset))
                conn.execute(f"INSERT INTO ods.{dataset} SELECT * FROM read_parquet(?)",
                             [str(parts / f"{dataset}-*.parquet")])
                # The API-health row a pull leaves: the DWD assets refuse days never ingested.
                pull = DayPull(day, [], 0, CallStats(), len(all_keys), len(all_keys), [])
                calls = api_calls(ENDPOINTS[dataset], [pull], "bench-peak-day", datetime.now())
                conn.register("calls", calls.with_columns(rows=len(all_keys)).to_arrow())
                conn.execute("INSERT INTO ops.api_calls SELECT * FROM calls")
                conn.unregister("calls")
        partial.rename(path)
    finally:
        shutil.rmtree(parts, ignore_errors=True)
    print(f"  staged in {time.monotonic() - started:.0f} s: {path}", flush=True)


def dims(run: Path) -> None:
    """dim_sku and dim_shop from the staged SKUs and shops, as the dimension assets publish them."""
    import duckdb

    from qeasy.cleanse.cleanse import cleanse, extract_all
    from qeasy.cleanse.labels import load_labels
    from qeasy.datasets import SHAPES
    from qeasy.warehouse.clickhouse import session
    from qeasy.warehouse.dims import publish_shops, publish_skus
    from qeasy.warehouse.quarantine import publish_quarantine

    labels = load_labels(None)
    with duckdb.connect(str(run / "staging.duckdb")) as conn:
        skus = cleanse(extract_all(conn, SHAPES["sku"], [DAY]), SHAPES["sku"], labels["sku"])
        shops = cleanse(extract_all(conn, SHAPES["shop"], None), SHAPES["shop"], {})
    with session(f"chdb://{run / 'ch'}", "qeasy") as client:
        publish_skus(client, skus.rows, "window", labels["sku"])
        publish_shops(client, shops.rows)
        publish_quarantine(client, skus.quarantine)
        publish_quarantine(client, shops.quarantine)


# ---- the timed transform, in its own process -------------------------------------------------------
class Clock:
    """Seconds and the highest RSS per phase (sampled every 10 ms, since ru_maxrss only ever grows).
    `wrap` times a module's function wherever it is called from; a phase that encloses wrapped ones
    is charged its whole time, and only the memory peak seen outside them."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.peak: dict[str, float] = defaultdict(float)  # MiB
        self._page_mib = os.sysconf("SC_PAGE_SIZE") / 2**20
        self._high = self._rss()
        threading.Thread(target=self._sample, daemon=True).start()

    def _rss(self) -> float:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * self._page_mib

    def _sample(self) -> None:
        while True:
            self._high = max(self._high, self._rss())
            time.sleep(0.01)

    def add(self, phase: str, since: float) -> float:
        now, rss = time.perf_counter(), self._rss()
        self.seconds[phase] += now - since
        self.peak[phase] = max(self.peak[phase], self._high, rss)
        self._high = rss
        return now

    def wrap(self, module, name: str, phase) -> None:
        wrap_timed(module, name, lambda args, started: self.add(phase(*args) if callable(phase) else phase,
                                                                 started))


def transform(run: Path) -> None:
    import dagster as dg

    warnings.filterwarnings("ignore", category=dg.PreviewWarning)  # as qeasy_assets.definitions does
    warnings.filterwarnings("ignore", category=dg.BetaWarning)

    import polars as pl
    from dagster_duckdb import DuckDBResource

    import qeasy.warehouse.dws as dws
    import qeasy.warehouse.refresh as refresh_module
    from qeasy.cleanse.dwd import cleanse_days, unstaged_days
    from qeasy.cleanse.labels import load_labels
    from qeasy.cleanse.quality import dwd_schema
    from qeasy.datasets import SHAPES
    from qeasy.warehouse.quarantine import publish_quarantine
    from qeasy_assets.dwd.checks import results
    from qeasy_assets.warehouse.checks import evaluate
    from resources.clickhouse import ClickHouseResource

    staging = DuckDBResource(database=str(run / "staging.duckdb"))
    warehouse = ClickHouseResource(dsn=f"chdb://{run / 'ch'}", database="qeasy")
    labels = load_labels(None)
    schemas = {dataset: dwd_schema(SHAPES[dataset]) for dataset in FACTS}  # built at import by the assets
    clock = Clock()
    # refresh imported these by name: wrap them where it calls them. The inner steps of publish_fact
    # (dws's own names) are timed too, shown under it and not added again.
    clock.wrap(refresh_module, "publish_fact", lambda conn, client, dims, fact, *_: f"dws: {fact.table}")
    clock.wrap(refresh_module, "publish_inventory", "dws: dws_inventory")
    clock.wrap(refresh_module, "publish_inventory_daily", "dws: dws_inventory_daily")
    clock.wrap(refresh_module, "publish_metrics", lambda client, metric, *_: f"ads: {metric.table}")
    clock.wrap(refresh_module, "written", "refresh: row counts")
    clock.wrap(dws, "insert", "inner: insert into the staging copy (clickhouse-connect)")
    clock.wrap(dws, "upsert", "inner: upsert (staging copy, INSERT ... SELECT with FINAL)")
    figures: dict[str, dict] = {}
    baseline = peak_rss_mib()
    clock.add("imports", time.perf_counter())  # the peaks of the phases begin here
    load, cpu = os.getloadavg()[0], cpu_seconds()

    started = time.perf_counter()
    for dataset in FACTS:  # the DWD assets, one 1-day chunk each, batch by batch as they run
        shape = SHAPES[dataset]
        t = time.perf_counter()
        totals = {"records": 0, "rows": 0, "anomalies": 0, "only": 0, "lost": 0}
        quarantined, failed = 0, set()
        with staging.get_connection() as conn, warehouse.session() as client:
            if unstaged_days(conn, dataset, [DAY]):
                raise RuntimeError(f"ods_{dataset} was never materialised for {DAY}")
            for result, broken in cleanse_days(conn, shape, [DAY], labels.get(dataset, {}), schemas[dataset]):
                publish_quarantine(client, result.quarantine)
                only, lost = result.not_kept()
                batch = {"records": result.records.height, "rows": result.rows.height,
                         "anomalies": int(result.rows["is_anomaly"].sum()), "only": only, "lost": lost}
                totals = {key: totals[key] + value for key, value in batch.items()}
                quarantined += result.quarantine.height
                checks = results(broken, batch, result.quarantine, 0.05)
                failed |= {c.check_name for c in checks if not c.passed}
        clock.add(f"dwd: {dataset} (extract, cleanse, store, quarantine, checks)", t)
        figures[dataset] = totals | {"quarantined": quarantined, "failed": sorted(failed)}
    dwd_done = time.perf_counter()
    with staging.get_connection() as conn, warehouse.session() as client:  # the warehouse asset
        refreshed = refresh_module.refresh(conn, client)
        t = clock.add("refresh: total", dwd_done)
        checks = evaluate(client, refreshed)
    clock.add("warehouse checks", t)  # and closing both sessions
    finished = time.perf_counter()
    (run / "result.json").write_text(json.dumps({
        "seconds": clock.seconds, "phase_peak": clock.peak, "load": [load, os.getloadavg()[0]],
        "baseline_rss": baseline, "peak_rss": peak_rss_mib(), "cpu_seconds": cpu_seconds() - cpu,
        "dwd_seconds": dwd_done - started, "warehouse_seconds": finished - dwd_done,
        "total_seconds": finished - started, "figures": figures, "written": refreshed.written,
        "records": refreshed.records, "days": {k: [str(d) for d in v] for k, v in refreshed.days.items()},
        "failed_checks": [f"{c.asset_key.to_user_string()}.{c.check_name}" for c in checks if not c.passed],
        "polars_threads": pl.thread_pool_size(),
    }))


# ---- the report ------------------------------------------------------------------------------------
def child(*args: str) -> None:
    subprocess.run([sys.executable, __file__, *args], check=True)


def report(result: dict) -> None:
    sec, peaks, figures = result["seconds"], result["phase_peak"], result["figures"]
    lines = sum(figures[d]["rows"] for d in LINES)
    print("  dataset        records   DWD rows  anomalous  quarantine  failed checks")
    for dataset, f in figures.items():
        print(f"  {dataset:<11} {f['records']:>10,} {f['rows']:>10,} {f['anomalies']:>10,} "
              f"{f['quarantined']:>11,}  {', '.join(f['failed']) or 'none'}")
    print("  rows written: " + ", ".join(f"{t} {n:,}" for t, n in result["written"].items()))
    print("  records republished: " + ", ".join(f"{d} {n:,}" for d, n in result["records"].items()))
    print(f"  failed warehouse checks: {', '.join(result['failed_checks']) or 'none'}")

    def leaves(prefix: str) -> list[tuple[str, float, float | None]]:
        return [("  " + name.removeprefix(prefix), sec[name], peaks[name]) for name in sec
                if name.startswith(prefix)]

    dwd, dws, ads, inner = leaves("dwd: "), leaves("dws: "), leaves("ads: "), leaves("inner: ")
    inside = sum(s for _, s, _ in dws + ads) + sec["refresh: row counts"]
    other = ("refresh: other (state, change log, published ids, dims)", sec["refresh: total"] - inside,
             peaks["refresh: total"])  # what refresh spent outside the wrapped steps

    def whole(name: str, parts: list) -> tuple[str, float, float]:
        return name, sum(s for _, s, _ in parts), max(p for _, _, p in parts)

    table = [whole("DWD", dwd), *dwd, whole("DWS", dws), *dws,
             *((f"  {name.strip()} (of DWS)", s, p) for name, s, p in inner), whole("ADS", ads), *ads,
             other, ("refresh: row counts", sec["refresh: row counts"], peaks["refresh: row counts"]),
             ("warehouse checks", sec["warehouse checks"], peaks["warehouse checks"]),
             ("total", result["total_seconds"], result["peak_rss"])]
    print(f"\n  {'phase':<62} {'seconds':>8} {'share':>6} {'lines/s':>12} {'RSS MiB':>10}")
    for name, seconds, grew in table:
        rate = f"{lines / seconds:12,.0f}" if seconds > 0 else f"{'-':>12}"
        shown = f"{grew:10,.0f}" if grew is not None else f"{'':>10}"
        print(f"  {name:<62} {seconds:8.2f} {seconds / result['total_seconds']:6.1%} {rate} {shown}")
    rate, peak = lines / result["total_seconds"], result["peak_rss"]
    print(f"  RSS MiB: the highest sampled in each phase; peak RSS (ru_maxrss) {peak:,.0f} MiB, "
          f"{result['baseline_rss']:,.0f} MiB after the imports")
    print(f"  CPU {result['cpu_seconds']:.1f} s in {result['total_seconds']:.1f} s wall "
          f"({os.cpu_count()} cores, polars threads {result['polars_threads']}); "
          f"load average before/after {result['load'][0]:.1f}/{result['load'][1]:.1f}")
    print(f"\nverdict: {lines:,} lines in {result['total_seconds']:.1f} s = {rate:,.0f} lines/s "
          f"(aim >= {AIM_LINES_PER_SECOND:,}: {'met' if rate >= AIM_LINES_PER_SECOND else 'MISSED'}); "
          f"peak RSS {peak:,.0f} MiB (aim < {AIM_RSS_MIB:,}: {'met' if peak < AIM_RSS_MIB else 'MISSED'})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, help="keep the staged day here and reuse it on later runs "
                        "(default: a temporary directory, removed afterwards)")
    parser.add_argument("--stage", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--dims", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--transform", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--runs", type=int, default=2, help="timed transforms of the staged day (median)")
    add_json_option(parser)
    args = parser.parse_args()
    if args.stage:
        return stage(args.stage)
    if args.dims:
        return dims(args.dims)
    if args.transform:
        return transform(args.transform)

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="qeasy-peak-day-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        ods = workdir.resolve() / f"ods-{DAY}-{ORDERS_PER_HOUR}-peak.duckdb"
        print(f"peak day {DAY}: {ORDERS_PER_HOUR:,} orders/hour for 24 hours (sandbox profile 'peak'), "
              f"{os.cpu_count()} cores")
        if not ods.exists():
            print("staging ODS (not timed) ...", flush=True)
            child("--stage", str(ods))
        else:
            print(f"reusing staged ODS {ods}")
        results = []
        for n in range(args.runs):
            run = workdir.resolve() / "run"
            shutil.rmtree(run, ignore_errors=True)
            run.mkdir()
            shutil.copyfile(ods, run / "staging.duckdb")
            child("--dims", str(run))
            print(f"DWD -> DWS -> ADS in a fresh process (timed, run {n + 1} of {args.runs}) ...", flush=True)
            child("--transform", str(run))
            results.append(json.loads((run / "result.json").read_text()))
            shutil.rmtree(run, ignore_errors=True)
        results.sort(key=lambda r: r["total_seconds"])
        middle = results[(len(results) - 1) // 2]  # the median run (the faster of two)
        report(middle)
        lines = sum(middle["figures"][d]["rows"] for d in LINES)
        runs = [f"{lines / r['total_seconds']:,.0f} lines/s, {r['peak_rss']:,.0f} MiB" for r in results]
        print(f"  runs: {'; '.join(runs)}")
        write_json(args.json, {
            "lines": lines, "seconds": middle["total_seconds"],
            "lines_per_s": lines / middle["total_seconds"],
            "peak_rss_mib": middle["peak_rss"], "failed_checks": middle["failed_checks"],
            "written": middle["written"], "phases": {k: round(v, 2) for k, v in middle["seconds"].items()},
            "runs": [{"lines_per_s": round(lines / r["total_seconds"]), "peak_rss_mib": round(r["peak_rss"])}
                     for r in results],
            "aims": {"lines_per_s": AIM_LINES_PER_SECOND, "peak_rss_mib": AIM_RSS_MIB}})
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
