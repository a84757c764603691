"""Cleansing rules of warehouse.md on hand-made payloads: every malformed kind flagged and
quarantined with a reason, nothing dropped silently, nothing raised."""

import json
from datetime import date

import duckdb
import pytest

from qeasy.cleanse.cleanse import cleanse, extract_all
from qeasy.cleanse.labels import load_labels
from qeasy.cleanse.quality import dwd_schema, failures
from qeasy.datasets import SHAPES
from qeasy.ingest.staging import ODS_TABLE, SCHEMA

DAY = date(2026, 11, 3)


def _cleanse(dataset: str, payloads: list[str]):
    conn = duckdb.connect()
    conn.execute(SCHEMA)
    conn.execute(ODS_TABLE.format(name=dataset))
    for n, payload in enumerate(payloads):
        conn.execute(f"INSERT INTO ods.{dataset} (partition_day, record_key, version, payload) "
                     "VALUES (?, ?, 1, ?)", [DAY, f"r{n}", payload])
    shape = SHAPES[dataset]
    return cleanse(extract_all(conn, shape, [DAY]), shape, load_labels(None).get(dataset, {}))


def _order(**changes) -> dict:
    line = {"ioi_id": 11, "sku_id": "SK1", "qty": 2, "sale_price": "9.50", "sale_amount": 19.0,
            "is_gift": False}
    order = {"io_id": 1, "o_id": 2, "shop_id": "16800001", "status": "Confirmed",
             "io_date": "2026-11-03 10:00:00", "modified": "2026-11-03 10:00:00.517", "pay_amount": "19.00",
             "ts": 5, "items": [line]}
    items = changes.pop("items", None)
    return order | changes | ({"items": items} if items is not None else {})


@pytest.mark.parametrize(("dataset", "record", "reason"), [
    ("sales_out", _order(items=[{"ioi_id": 11, "sku_id": "SK1", "qty": -3}]), "line 11: qty < 0 (-3)"),
    ("sales_out", _order(status="Splitting"), "unknown status 'Splitting'"),
    ("sales_out", _order(pay_amount="N/A"), "unparseable pay_amount 'N/A'"),
    ("sales_out", _order(io_date="0000-00-00 00:00:00"), "unparseable io_date '0000-00-00 00:00:00'"),
    ("sales_out", _order(items=[{"ioi_id": 11, "qty": 1}]), "line 11: missing sku_id"),
    ("sales_out", _order(items=[{"ioi_id": 11, "sku_id": "SK1", "qty": "two"}]),
     "line 11: unparseable qty 'two'"),
    ("after_sale", {"as_id": 7, "status": "Confirmed", "refund": "N/A", "ts": 1,
                    "items": [{"asi_id": 71, "sku_id": "SK1", "qty": -1}]}, "line 71: qty < 0 (-1)"),
    ("after_sale", {"as_id": 7, "status": "Processing", "refund": 5, "ts": 1, "items": []},
     "unknown status 'Processing'"),
    ("after_sale", {"as_id": 7, "status": "Confirmed", "refund": "N/A", "ts": 1, "items": []},
     "unparseable refund 'N/A'"),
    ("inventory", {"sku_id": "SK1", "qty": -4, "min_qty": 3, "modified": "2026-11-03 09:00:00", "ts": 9},
     "qty < 0 (-4)"),
    ("inventory", {"sku_id": "SK1", "qty": 4, "modified": "yesterday", "ts": 9},
     "unparseable modified 'yesterday'"),
])
def test_a_malformed_value_flags_the_row_and_quarantines_a_reason(dataset, record, reason) -> None:
    result = _cleanse(dataset, [json.dumps(record)])
    assert result.rows.height >= 1 and result.rows["is_anomaly"].max() == 1
    on_row = reason.split(": ", 1)[1] if reason.startswith("line ") else reason  # the row is the line
    assert any(on_row in text for text in result.rows["anomaly_reason"])
    assert reason in result.quarantine["reason"].to_list()
    assert json.loads(result.quarantine["raw"][0]) == record  # the raw JSON, as staged
    assert not failures(dwd_schema(SHAPES[dataset]), result.rows).height  # still the DWD contract


@pytest.mark.parametrize(("payload", "reason"), [
    (json.dumps(_order(io_id=None)), "missing io_id"),
    ("{not json", "payload is not valid JSON"),
    ("[1, 2]", "missing io_id"),
])
def test_a_row_without_its_key_is_quarantined_not_dropped(payload, reason) -> None:
    result = _cleanse("sales_out", [payload, json.dumps(_order(io_id=2))])
    assert result.rows["io_id"].to_list() == [2]
    assert reason in result.quarantine["reason"].to_list()
    assert result.not_kept() == (1, 0)  # one record only in quarantine, none unaccounted


def test_a_version_whose_lines_all_lack_their_id_keeps_its_header() -> None:
    cancelled = _order(status="Cancelled", items=[{"sku_id": "SK1", "qty": 1}])
    result = _cleanse("sales_out", [json.dumps(cancelled)])
    row = result.rows.row(0, named=True)
    assert result.rows.height == 1
    assert (row["io_id"], row["ioi_id"], row["status"], row["qty"]) == (1, 0, "Cancelled", None)
    assert row["is_anomaly"] == 1 and "missing ioi_id" in row["anomaly_reason"]
    assert "line ?: missing ioi_id" in result.quarantine["reason"].to_list()


def test_clean_values_are_typed_and_labelled() -> None:
    result = _cleanse("sales_out", [json.dumps(_order())])
    row = result.rows.row(0, named=True)
    assert (row["shop_id"], row["qty"], str(row["sale_price"])) == (16800001, 2, "9.50")
    assert row["status_label"] == "已出库"
    assert row["modified"].microsecond == 517_000 and row["biz_date"] == DAY
    assert (row["is_anomaly"], row["anomaly_reason"]) == (0, "") and not result.quarantine.height


def test_an_order_without_lines_keeps_its_header() -> None:
    record = {"as_id": 7, "status": "Confirmed", "refund": "12.5", "ts": 1, "good_status": "SELLER_RECEIVED",
              "items": []}
    result = _cleanse("after_sale", [json.dumps(record)])
    assert result.rows.select("as_id", "asi_id", "status_label").row(0) == (7, 0, "已退款")


def test_the_schema_check_catches_duplicate_line_keys() -> None:
    twice = _order(items=[{"ioi_id": 11, "sku_id": "SK1", "qty": 1},
                          {"ioi_id": 11, "sku_id": "SK2", "qty": 2}])
    result = _cleanse("sales_out", [json.dumps(twice)])
    cases = failures(dwd_schema(SHAPES["sales_out"]), result.rows)
    assert cases.height and "uniqueness" in cases["check"][0]


def test_status_labels_are_configurable(tmp_path) -> None:
    path = tmp_path / "labels.json"
    path.write_text(json.dumps({"sales_out": {"Splitting": "拆分中"}}), encoding="utf-8")
    labels = load_labels(str(path))["sales_out"]
    assert labels["Splitting"] == "拆分中" and labels["Confirmed"] == "已出库"
    with pytest.raises(ValueError, match="QEASY_STATUS_LABELS"):
        load_labels(str(tmp_path / "missing.json"))
