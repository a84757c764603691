"""One writer process for the embedded-ClickHouse concurrency test (tests/test_clickhouse_sessions.py).

`python -m tests.clickhouse_writer DSN WORKER ROUNDS BATCH` imports everything, prints `ready`, waits
for a line on stdin (so that all writers start together), then `ROUNDS` times opens a session
through the resource, inserts `BATCH` rows with unique run_ids into `ops_api_calls` and closes it.
Last it prints one JSON line: the run_ids written and when each session was held (monotonic ns).
"""

import json
import sys
import time
from datetime import datetime

import polars as pl

from qeasy.warehouse.publish import insert
from resources.clickhouse import ClickHouseResource

COUNTERS = ("pages", "calls", "throttled", "retries", "errors")


def batch(worker: int, round_: int, size: int) -> pl.DataFrame:
    ids = [f"w{worker}-r{round_:03d}-{i:03d}" for i in range(size)]
    return pl.DataFrame(
        {
            "run_id": ids,
            "dataset": [f"worker{worker}"] * size,
            **{name: pl.Series([round_] * size, dtype=pl.UInt32) for name in COUNTERS},
            "rows": pl.Series(range(size), dtype=pl.UInt64),
            "recorded_at": [datetime(2026, 11, 20, 12, 0, round_ % 60)] * size,
        }
    )


def main(dsn: str, worker: int, rounds: int, size: int) -> None:
    resource = ClickHouseResource(dsn=dsn, database="qeasy")
    print("ready", flush=True)
    sys.stdin.readline()
    written: list[str] = []
    held: list[tuple[int, int]] = []
    for round_ in range(rounds):
        frame = batch(worker, round_, size)
        with resource.session() as client:
            entered = time.monotonic_ns()
            insert(client, "ops_api_calls", frame)
            held.append((entered, time.monotonic_ns()))
        written.extend(frame["run_id"].to_list())
    print(json.dumps({"worker": worker, "written": written, "held": held}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
