"""A dataset added through one declaration only (tests/toy_dataset.py, named by QEASY_DATASETS, its
sandbox rows included) is ingested over real HTTP, cleansed, checked and published by `qeasy run`,
with its UI metadata and its table made from the declaration. The expectations come from the
declaration's own generator, not from qeasy's output."""

import json
import os
import re
import subprocess
import sys
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from qeasy.cleanse.fields import Field, Kind
from qeasy.cleanse.shapes import Shape
from qeasy.datasets import Dataset, Style, Wide, jackyun, load
from qeasy.erp.endpoints import Endpoint
from tests.toy_dataset import KEYLESS, ROWS_PER_DAY, STATUSES, rows
from tests.warehouse_helpers import query

ROOT = Path(__file__).resolve().parents[1]
DAYS = [date(2026, 11, 14), date(2026, 11, 15), date(2026, 11, 16), date(2026, 11, 17)]
# The first run reads three days with the clock half way through the third; the second, a week
# later, reads the third again and the fourth: receipts edited since move to their new day.
FIRST = (DAYS[:3], datetime(2026, 11, 16, 12, 0))
SECOND = (DAYS[2:], datetime(2026, 11, 21, 8, 0))
TOY = {"QEASY_DATASETS": "tests.toy_dataset", "PYTHONPATH": str(ROOT)}


def _environment(home: Path, **env: str) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("JST_", "QEASY_"))}
    return environment | {"QEASY_HOME": str(home)} | TOY | env


def _run(home: Path, days: list[date], clock: datetime) -> subprocess.CompletedProcess:
    env = _environment(home, QEASY_SANDBOX_ORDERS_PER_HOUR="20",
                       QEASY_SANDBOX_CLOCK=f"{clock:%Y-%m-%d %H:%M:%S}")
    return subprocess.run([sys.executable, "-m", "qeasy.cli", "run", "--start", str(days[0]),
                           "--end", str(days[-1])], cwd=home.parent, env=env, capture_output=True,
                          text=True, timeout=600)


def listed(days: list[date], clock: datetime) -> list[dict]:
    """What the days' windows list, as an API shows it at `clock`: each receipt once, as its newest
    version made by then, where that version's time is on one of the days (keyless ones included)."""
    newest: dict[object, dict] = {}
    day = DAYS[0] - timedelta(days=1)
    while day <= clock.date():
        for row in rows(day, 0):
            key = row["io_id"] if row["io_id"] is not None else ("keyless", row["modified"])
            if row["modified"] <= f"{clock:%Y-%m-%d %H:%M:%S}" and (
                    key not in newest or row["ts"] > newest[key]["ts"]):
                newest[key] = row
        day += timedelta(days=1)
    wanted = {str(day) for day in days}
    return [row for row in newest.values() if row["modified"][:10] in wanted]


def expected() -> dict[int, dict]:
    """The wide table after both runs: every receipt with a grain, in its newest version."""
    return {row["io_id"]: row for row in listed(DAYS, SECOND[1]) if row["io_id"] is not None}


@pytest.fixture(scope="module")
def toy_runs(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess, subprocess.CompletedProcess]:
    home = tmp_path_factory.mktemp("toy") / "home"
    first = _run(home, *FIRST)
    return home, first, _run(home, *SECOND) if first.returncode == 0 else first


def test_every_layer_runs_it_with_its_checks(toy_runs) -> None:
    home, first, second = toy_runs
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    staged = len(listed(*FIRST))
    keyed = staged - len(FIRST[0])  # a keyless receipt a day, in quarantine only
    for line in (rf"ods_purchase_in: done in [\d.]+ s: {staged} rows, 3 partitions, checks 2/2 passed",
                 rf"dwd_purchase_in: done in [\d.]+ s: {keyed} rows, 3 partitions, checks 3/3 passed",
                 r"dws_purchase_in: [\d,]+ rows, 3 partitions, checks 1/1 passed",
                 r"ads_purchase_in_daily: [\d,]+ rows, 3 partitions"):
        assert re.search(line, first.stdout), line
    assert "FAILED" not in first.stdout + second.stdout
    with duckdb.connect(str(home / "staging.duckdb"), read_only=True) as conn:
        count = "SELECT count(*) FROM {} WHERE partition_day < ?"
        assert conn.execute(count.format("ods.purchase_in"), [DAYS[2]]).fetchone()[0] == \
            len(listed(DAYS[:2], FIRST[1]))
        assert conn.execute("SELECT count(*) FROM dwd.purchase_in").fetchone()[0] == len(expected())


def test_the_wide_table_holds_the_newest_version_of_every_receipt(toy_runs) -> None:
    home, _, second = toy_runs
    assert second.returncode == 0, second.stderr
    got = query(home, "SELECT io_id, qty, status, status_label, cost_price, is_anomaly, sku_missing, "
                      "biz_date, ts FROM v_dws_purchase_in")
    want = expected()
    assert sorted(got["io_id"]) == sorted(want)
    for row in got.iter_rows(named=True):
        source = want[row["io_id"]]
        assert (row["qty"], row["status"], row["ts"]) == (source["qty"], source["status"], source["ts"])
        assert row["status_label"] == STATUSES.get(source["status"])
        assert row["cost_price"] == Decimal(source["cost_price"])
        assert row["is_anomaly"] == int(source["qty"] < 0 or source["status"] not in STATUSES)
        assert row["sku_missing"] == 1  # no such SKU in dim_sku
        assert str(row["biz_date"]) == source["modified"][:10]
    edited = [row for row in want.values() if row["qty"] > 100]
    assert len(edited) == len(DAYS)  # each day's first receipt, shown in its later version


def test_its_metric_follows_the_late_edits(toy_runs) -> None:
    """The third day's first receipt, edited after the first run, moves to the fourth day."""
    home, _, second = toy_runs
    assert second.returncode == 0, second.stderr
    want: dict[str, list[int]] = {}
    for row in expected().values():
        day = want.setdefault(row["modified"][:10], [0, 0])
        day[0] += 1
        day[1] += row["qty"] if row["status"] == "Confirmed" and row["qty"] >= 0 else 0
    got = query(home, "SELECT toString(stat_date), receipts, received_qty FROM v_ads_purchase_in_daily")
    assert {day: [receipts, qty] for day, receipts, qty in got.iter_rows()} == want
    assert sorted(want) == [str(day) for day in DAYS]


def test_its_dirty_rows_are_flagged_or_quarantined_with_their_reason(toy_runs) -> None:
    home, _, second = toy_runs
    assert second.returncode == 0, second.stderr
    reasons = query(home, "SELECT reason FROM v_dq_quarantine WHERE dataset = 'purchase_in'")["reason"]
    assert KEYLESS < ROWS_PER_DAY
    assert reasons.str.contains("missing io_id").sum() == len(DAYS)  # receipt KEYLESS of each day
    assert reasons.str.contains("qty < 0").sum() == len(DAYS)
    assert reasons.str.contains("unknown status 'Lost'").sum() == len(DAYS)


def test_its_ui_metadata_and_tables_come_from_the_declarations(toy_runs) -> None:
    home, _, _ = toy_runs
    script = """
import json
from qeasy_assets.definitions import defs
graph = defs.resolve_asset_graph()
out = {}
for name in ("ods_purchase_in", "dwd_purchase_in", "dws_purchase_in", "ads_purchase_in_daily"):
    node = graph.get(__import__("dagster").AssetKey(name))
    schema = node.metadata.get("dagster/column_schema")
    out[name] = {"description": node.description, "checks": sorted(k.name for k in node.check_keys),
                 "columns": {c.name: c.description for c in schema.columns} if schema else {}}
print(json.dumps(out, ensure_ascii=False))
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=_environment(home),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assets = json.loads(done.stdout.strip().splitlines()[-1])
    assert assets["ods_purchase_in"]["description"].startswith("Purchase receipts (采购入库单)")
    assert assets["ods_purchase_in"]["checks"] == ["complete", "reconciled"]  # the API reports counts
    assert "typed and flagged" in assets["dwd_purchase_in"]["description"]
    assert assets["dws_purchase_in"]["checks"] == ["latest_version"]
    columns = assets["dws_purchase_in"]["columns"]
    assert columns["qty"] == "入库数量 quantity received" and "status_label" in columns
    assert {"io_id", "sku_name", "ts", "is_anomaly", "biz_date"} <= set(columns)
    assert assets["ads_purchase_in_daily"]["description"].startswith("Purchase receipts per day")
    assert list(assets["ads_purchase_in_daily"]["columns"]) == ["stat_date", "receipts", "received_qty",
                                                               "publish_version", "is_deleted"]
    comments = query(home, "SELECT table, name, comment FROM system.columns WHERE database = 'qeasy' "
                           "AND table IN ('dws_purchase_in', 'ads_purchase_in_daily')")
    comment = {(table, name): text for table, name, text in comments.iter_rows()}
    assert comment["dws_purchase_in", "qty"] == "入库数量 quantity received"
    assert comment["ads_purchase_in_daily", "received_qty"].startswith("入库数量")


def test_a_declaration_that_cannot_work_is_refused_naming_it() -> None:
    shape = Shape(header=(Field("io_id", Kind.ID), Field("modified", Kind.TIME)))
    endpoint = Endpoint(path="/open/x/query", rows_key="datas", page_size_default=10, page_size_max=10,
                        primary_key=("io_id",), window_days=7)
    with pytest.raises(ValueError, match="'x'.*biz_time"):
        Dataset(name="x", description="x", endpoint=endpoint, shape=shape, dwd="x",
                wide=Wide(table="dws_x", description="x", style=Style.GRAIN))
    with pytest.raises(ValueError, match="'x'.*`dwd`"):
        Dataset(name="x", description="x", endpoint=endpoint, shape=shape,
                wide=Wide(table="dws_x", description="x", style=Style.LINES))
    with pytest.raises(ValueError, match="QEASY_DATASETS: cannot import no_such_module"):
        load("no_such_module")
    with pytest.raises(ValueError, match="declared twice"):
        load("tests.toy_dataset, tests.toy_dataset")


REPLACING = """
from dataclasses import replace

from qeasy.datasets import jackyun

# A merchant whose 吉客云 after-sales may be read two days at a time: the UNCONFIRMED window, declared.
AFTER_SALE = replace(jackyun.AFTER_SALE, endpoint=replace(jackyun.AFTER_SALE.endpoint, window_days=2))
DATASETS = [AFTER_SALE]
REPLACES = {replaces}
"""


def test_a_module_replaces_the_built_in_declarations_it_names_and_no_others(tmp_path, monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    for name, replaces in (("replacing", ("after_sale",)), ("clashing", ()), ("wrong", ("sales_out",))):
        (tmp_path / f"{name}.py").write_text(REPLACING.format(replaces=replaces), encoding="utf-8")
    datasets = load("replacing", erp="jackyun")
    assert datasets["after_sale"].endpoint.window_days == 2
    assert list(datasets) == [d.name for d in jackyun.DATASETS]  # in its place, the others as they were
    assert datasets["sales_out"] is jackyun.SALES_OUT
    with pytest.raises(ValueError, match="'after_sale' is declared twice .*REPLACES"):
        load("clashing", erp="jackyun")
    with pytest.raises(ValueError, match="wrong REPLACES \\['sales_out'\\]: each must be a built-in dataset"):
        load("wrong", erp="jackyun")
    with pytest.raises(ValueError, match="replacing REPLACES \\['after_sale'\\]"):
        load("replacing, replacing", erp="jackyun")  # replaced once only
