"""Helpers for ingestion tests: settings pointing at a test sandbox, runs, and the staged rows."""

import json
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb

from qeasy.datasets import ENDPOINTS
from qeasy.ingest.rows import latest
from qeasy.runner import RunReport, run_job
from qeasy.sandbox import SandboxServer
from qeasy.settings import load_settings
from qeasy_assets.definitions import build_definitions


def env_for(server: SandboxServer, home: Path, **extra: str) -> dict[str, str]:
    config = server.config
    return {"QEASY_HOME": str(home), "JST_BASE_URL": server.url, "JST_APP_KEY": config.app_key,
            "JST_APP_SECRET": config.app_secret, "JST_ACCESS_TOKEN": config.access_token,
            "QEASY_RATE_PER_SECOND": str(config.per_second),
            "QEASY_RATE_PER_MINUTE": str(config.per_minute)} | extra


def ingest(server: SandboxServer, home: Path, first: str, last: str, assets: list[str] | None = None,
           **extra: str) -> RunReport:
    """Materialise the day-partitioned ODS assets (or some) for first..last, in this process."""
    defs = build_definitions(load_settings(env_for(server, home, **extra)))
    return run_job(defs, "ingest", dg.DagsterInstance.ephemeral(), date.fromisoformat(first),
                   date.fromisoformat(last), assets=assets)


def ingest_shops(server: SandboxServer, home: Path) -> RunReport:
    defs = build_definitions(load_settings(env_for(server, home)))
    return run_job(defs, "shops", dg.DagsterInstance.ephemeral())


def staged(home: Path, dataset: str) -> list[tuple]:
    """(partition_day, record_key, version, payload) of every staged row."""
    with duckdb.connect(str(home / "staging.duckdb"), read_only=True) as conn:
        return conn.execute(f"SELECT CAST(partition_day AS VARCHAR), record_key, version, payload "
                            f"FROM ods.{dataset} ORDER BY ALL").fetchall()


def staged_latest(home: Path, dataset: str) -> dict[str, dict]:
    return latest(ENDPOINTS[dataset], (json.loads(row[3]) for row in staged(home, dataset)))


def truth(server: SandboxServer, dataset: str, begin: str | None = None, end: str | None = None) -> dict:
    body = {"dataset": dataset} | ({"begin": begin, "end": end} if begin else {})
    rows = server.admin("POST", "truth", body)["rows"]
    return latest(ENDPOINTS[dataset], rows)
