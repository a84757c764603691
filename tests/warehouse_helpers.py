"""Helpers for warehouse tests: whole-chain runs against a sandbox, ClickHouse reads, checksums."""

from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl
import polars.selectors as cs
from polars.testing import assert_frame_equal

from qeasy.runner import RunReport, run_job
from qeasy.sandbox import SandboxServer
from qeasy.settings import load_settings
from qeasy.warehouse.clickhouse import session
from qeasy.warehouse.health import TABLE as HEALTH
from qeasy.warehouse.summary import TABLES
from qeasy_assets.definitions import build_definitions
from tests.ingest_helpers import env_for, truth
from tests.warehouse_oracle import oracle_ads

# Every contract table but the API health, whose calls differ from run to run.
CONTRACT = [table for table in TABLES if table != HEALTH]


class Chain:
    """Runs of the shops and main jobs for one sandbox and one QEASY_HOME, in this process."""

    def __init__(self, server: SandboxServer, home: Path, **extra: str) -> None:
        self.home = home
        self.defs = build_definitions(load_settings(env_for(server, home, **extra)))
        self.instance = dg.DagsterInstance.ephemeral()

    def shops(self) -> RunReport:
        return run_job(self.defs, "shops", self.instance)

    def main(self, first: date, last: date | None = None) -> RunReport:
        return run_job(self.defs, "main", self.instance, first, last or first)


def query(home: Path, sql: str, **parameters) -> pl.DataFrame:
    with session(f"chdb://{home / 'clickhouse'}", "qeasy") as client:
        return client.query_df_arrow(sql, parameters=parameters, dataframe_library="polars")


def assert_ads_equal(home: Path, expected: dict[str, pl.DataFrame]) -> None:
    """Every ADS table as readers see it equals the oracle's frame, row for row (and is not empty)."""
    for table, frame in expected.items():
        got = query(home, f"SELECT {', '.join(frame.columns)} FROM v_{table} ORDER BY ALL")
        # The oracles write money as floats and times as naive Beijing wall-clock times.
        got = got.with_columns(pl.col(pl.Decimal).cast(pl.Float64),
                               cs.datetime(time_zone="*").dt.replace_time_zone(None))
        assert got.height == frame.height > 0, table
        assert_frame_equal(got, frame, check_dtypes=False, abs_tol=0.005)


def checksums(home: Path) -> dict[str, tuple[int, int]]:
    """(rows, order-independent hash of every column) of every contract table as readers see it."""
    with session(f"chdb://{home / 'clickhouse'}", "qeasy") as client:
        return {table: tuple(client.query(f"SELECT count(), sum(cityHash64(*)) FROM v_{table}")
                             .result_rows[0]) for table in CONTRACT}


def duplicate_a_line_id(home: Path) -> tuple[str, dict]:
    """An ERP bug in staging: one sales-out record's second line takes its first line's id.
    Returns the record key and the corrupted record."""
    import json

    import duckdb

    with duckdb.connect(str(home / "staging.duckdb")) as conn:
        key, payload = conn.execute("SELECT record_key, payload FROM ods.sales_out "
                                    "WHERE json_array_length(payload->'items') >= 2 LIMIT 1").fetchone()
        record = json.loads(payload)
        record["items"][1]["ioi_id"] = record["items"][0]["ioi_id"]
        conn.execute("UPDATE ods.sales_out SET payload = ? WHERE record_key = ?", [json.dumps(record), key])
    return key, record


def downstream_of_ods(defs: dg.Definitions) -> list[str]:
    """Every asset but the ODS pulls: re-runs the chain on what is staged."""
    names = (key.to_user_string() for key in defs.resolve_all_asset_keys())
    return [name for name in names if not name.startswith("ods_")]


def window(server: SandboxServer, dataset: str, begin: str, end: str) -> list[dict]:
    """The sandbox's latest version of every record of `dataset` modified in [begin, end]."""
    return list(truth(server, dataset, begin, end).values())


def assert_ads_match(server: SandboxServer, home: Path, days: list[date], end: str,
                     seen_inventory: list[dict]) -> None:
    """Every ADS row equals the independent oracle's over `days` (ingested), with the ERP's truth
    up to `end` and the inventory versions the runs saw."""
    begin = f"{days[0]} 00:00:00"
    assert_ads_equal(home, oracle_ads(window(server, "sales_out", begin, end),
                                      window(server, "after_sale", begin, end), seen_inventory, days))


def found_skus(server: SandboxServer, caller, home: Path, until: str) -> tuple[list[dict], list[str]]:
    """The ERP's SKU records of the SKUs qeasy has found so far, and those of them window queries
    and the ground truth leave out (hidden: read by id from the sandbox)."""
    known = set(query(home, "SELECT sku_id FROM v_dim_sku")["sku_id"])
    skus = [record for record in window(server, "sku", "2000-01-01 00:00:00", until)
            if record["sku_id"] in known]
    hidden = sorted(known - {record["sku_id"] for record in skus})
    for start in range(0, len(hidden), 20):
        skus += caller.data("sku", {"sku_ids": ",".join(hidden[start:start + 20])})["datas"]
    return skus, hidden


def recorded_calls(home: Path) -> list[dict]:
    """API health as the pulls recorded it (the screens' oracle aggregates it), as naive Beijing times."""
    calls = query(home, "SELECT dataset, toTimeZone(recorded_at, 'Asia/Shanghai') AS recorded_at, calls, "
                        "errors, throttled, retries, rows, latency_p95_ms FROM ops_api_calls")
    return calls.with_columns(pl.col("recorded_at").dt.replace_time_zone(None)).to_dicts()
