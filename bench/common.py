"""What every benchmark shares: medians over runs and the JSON figures `bench/run_all.py` collects."""

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", type=Path, help="also write the figures as JSON to this file")


def write_json(path: Path | None, figures: object) -> None:
    if path is not None:
        path.write_text(json.dumps(figures, indent=1, ensure_ascii=False, default=str))


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def wrap_timed(module: object, name: str, done: Callable[[tuple, float], None]) -> None:
    """Replace `module.name` by a version that calls `done(args, started)` when each call ends."""
    original = getattr(module, name)

    def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            done(args, started)

    setattr(module, name, timed)


CHUNK = 25_000  # records rendered per parquet file


def _render_part(merchant, dataset: str, keys, day: int, now: int, out: Path, worker: int,
                 run_id: str) -> None:
    """Render `keys` of `dataset` as ODS rows into parquet files (a forked worker)."""
    from qeasy.datasets import ENDPOINTS
    from qeasy.erp.client import CallStats
    from qeasy.ingest.pull import DayPull
    from qeasy.ingest.staging import ods_frame

    for n, first in enumerate(range(0, len(keys), CHUNK)):
        rows = [merchant.render(dataset, int(k), now) for k in keys[first:first + CHUNK]]
        pull = DayPull(day, rows, 0, CallStats(), len(rows), len(rows), [])
        frame = ods_frame(ENDPOINTS[dataset], [pull], run_id)
        frame.write_parquet(out / f"{dataset}-{worker}-{n:05}.parquet")


def render_ods(merchant, keys: dict, day: int, now: int, out: Path, run_id: str) -> None:
    """The ODS rows of `keys` (dataset -> record keys) as the merchant shows them at `now`, as parquet
    files in `out`, rendered by one forked worker per core (they share the merchant's day buckets)."""
    import multiprocessing
    import os

    import numpy as np

    fork = multiprocessing.get_context("fork")
    for dataset, all_keys in keys.items():
        procs = [fork.Process(target=_render_part, args=(merchant, dataset, share, day, now, out, w, run_id))
                 for w, share in enumerate(np.array_split(all_keys, os.cpu_count() or 1))]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join()
            if proc.exitcode:
                raise RuntimeError(f"rendering {dataset} failed in a worker")
