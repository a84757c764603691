"""The latest-version rule when a re-run day loses a record's newest version: the version that
is latest again comes back, in its own month, whatever month the lost one was in."""

import json
from datetime import date

import duckdb

from qeasy.cleanse.dwd import cleanse_days
from qeasy.cleanse.labels import load_labels
from qeasy.cleanse.quality import dwd_schema
from qeasy.datasets import SHAPES
from qeasy.ingest.staging import ODS_TABLE, SCHEMA
from qeasy.warehouse.clickhouse import session
from qeasy.warehouse.refresh import refresh


def _after_sale(ts: int, status: str, modified: str) -> dict:
    return {"as_id": 7, "status": status, "modified": modified, "confirm_date": "", "refund": 5, "shop_id": 1,
            "ts": ts, "items": [{"asi_id": 71, "sku_id": "SK1", "qty": 1}]}


def _load(conn, client, day: date, records: list[dict]) -> None:
    """Stage `records` as the day's after-sales (replacing what was staged), cleanse and publish."""
    conn.execute(SCHEMA)
    conn.execute(ODS_TABLE.format(name="after_sale"))
    conn.execute("DELETE FROM ods.after_sale WHERE partition_day = ?", [day])
    for record in records:
        conn.execute("INSERT INTO ods.after_sale (partition_day, record_key, version, payload) "
                     "VALUES (?, '7', ?, ?)", [day, record["ts"], json.dumps(record)])
    shape = SHAPES["after_sale"]
    for _ in cleanse_days(conn, shape, [day], load_labels(None)["after_sale"], dwd_schema(shape)):
        pass
    refresh(conn, client)


def test_a_rerun_day_that_lost_the_newest_version_brings_the_previous_one_back(tmp_path) -> None:
    jan, feb = date(2026, 1, 30), date(2026, 2, 2)
    with duckdb.connect(str(tmp_path / "staging.duckdb")) as conn, \
            session(f"chdb://{tmp_path / 'ch'}", "qeasy") as client:
        def published() -> list[tuple]:
            return client.query("SELECT as_id, ts, biz_date, status FROM v_dws_after_sale").result_rows

        _load(conn, client, jan, [_after_sale(1, "WaitConfirm", "2026-01-30 12:00:00")])
        _load(conn, client, feb, [_after_sale(2, "Confirmed", "2026-02-02 12:00:00")])
        assert published() == [(7, 2, feb, "Confirmed")]
        _load(conn, client, feb, [])  # re-read after the record moved on to a day not loaded yet
        assert published() == [(7, 1, jan, "WaitConfirm")]
