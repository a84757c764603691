"""The 吉客云 declarations land on the same DWD contract: one sandbox merchant read through both
protocols (the 吉客云 gateway with page drift on) cleanses into the same rows, column for column,
except the columns 吉客云 has no field for and the row version (its own time, not Jushuitan's `ts`)."""

from datetime import date, timedelta

import duckdb
import polars as pl
import pytest

from qeasy.cleanse.cleanse import cleanse, extract_all
from qeasy.cleanse.labels import load_labels
from qeasy.datasets import jackyun, jushuitan
from qeasy.erp.budget import CallBudget
from qeasy.erp.client import ErpClient
from qeasy.erp.jackyun.client import JackyunClient
from qeasy.erp.jackyun.pacing import MethodBudgets, Pacing
from qeasy.erp.times import day_of_date
from qeasy.ingest.pull import Puller
from qeasy.ingest.staging import store
from qeasy.sandbox import SandboxConfig, SandboxServer

DAY = date(2026, 11, 19)
ONTO = {d.name: d for d in jushuitan.DATASETS}
PAIRS = [(d, ONTO[d.name]) for d in jackyun.DATASETS if d.name in ONTO]  # allocations are 吉客云's own


@pytest.fixture(scope="module")
def server():
    config = SandboxConfig(clock="2026-11-20 12:00:00", epoch="2026-11-10", skus=200, orders_per_hour=150.0,
                           per_second=200, per_minute=12_000, jackyun_per_method_per_second=200,
                           jackyun_after_sale_window_days=1)
    with SandboxServer(config) as running:
        yield running


def _cleansed(client, dataset, tmp_path, name: str):
    pulls = Puller(client, dataset.endpoint, concurrency=4).pull([day_of_date(DAY)])
    assert all(not pull.dead for pull in pulls)
    with duckdb.connect(str(tmp_path / f"{name}.duckdb")) as conn:
        store(conn, dataset.endpoint, pulls, "test")
        raw = extract_all(conn, dataset.shape, None)
    return cleanse(raw, dataset.shape, load_labels(None).get(dataset.name, {}))


@pytest.mark.parametrize(("ours", "theirs"), PAIRS, ids=[d.name for d, _ in PAIRS])
def test_both_protocols_cleanse_into_the_same_dwd_rows(server, tmp_path, ours, theirs) -> None:
    config = server.config
    jst = ErpClient(server.url, config.app_key, config.app_secret, config.access_token,
                    CallBudget(tmp_path, config.app_key, 200, 12_000))
    jky = JackyunClient(server.url + "/open/openapi/do", config.app_key, config.app_secret,
                        MethodBudgets(tmp_path, config.app_key, Pacing(per_second=200)))
    expected = _cleansed(jst, theirs, tmp_path, "jst").rows
    server.admin("POST", "faults", {"page_drift": 0.3})
    try:
        got = _cleansed(jky, ours, tmp_path, "jky").rows
    finally:
        server.admin("POST", "faults", {"page_drift": 0.0})
    if ours.name in ("sales_out", "after_sale"):  # many pages: rows already served were modified
        assert server.merchant._touches[ours.name], "the walk should have drifted"
    if ours.name == "inventory":  # 吉客云 lists every SKU's current stock: the day's are those modified then
        got = got.filter(pl.col("biz_date") == DAY)
    # Columns 吉客云 fills from no field, the version (the modification time, not Jushuitan's ts), and
    # the reasons (they name each ERP's own fields) are left out; the flags must agree.
    unfilled = {f.out for f in ours.shape.fields if f.name == f.out} | {"ts", "anomaly_reason",
                                                                         "partition_day"}
    if ours.name == "sku":  # 吉客云 knows a SKU blocked or not: 备用 reads as 启用
        unfilled.add("enabled")
        blocked = expected.sort("sku_id")["enabled"].replace({0: 1})
        assert got.sort("sku_id")["enabled"].to_list() == blocked.to_list()
    columns = [c for c in expected.columns if c not in unfilled]
    key = list(theirs.shape.key)
    assert expected.height > 0
    got, expected = got.select(columns).sort(key), expected.select(columns).sort(key)
    if "status_label" in columns:  # a status neither ERP's vocabulary knows reads differently, flagged
        got, expected = (frame.with_columns(status=pl.when(pl.col("status_label").is_not_null())
                                            .then(pl.col("status"))) for frame in (got, expected))
    assert got.height == expected.height
    differ = [c for c in columns if not got[c].equals(expected[c])]
    assert differ == [], got.filter(got[differ[0]] != expected[differ[0]]).head(3) if differ else ""


class _Recording(JackyunClient):
    """The real client, noting the business parameters of every call."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.sent: list[dict] = []

    def call(self, path, biz, stats):
        self.sent.append(dict(biz))
        return super().call(path, biz, stats)


def test_orders_of_windows_older_than_three_months_are_asked_from_the_archive(server, tmp_path) -> None:
    config = server.config
    client = _Recording(server.url + "/open/openapi/do", config.app_key, config.app_secret,
                        MethodBudgets(tmp_path, config.app_key, Pacing(per_second=200)))
    puller = Puller(client, jackyun.SALES_OUT.endpoint)
    puller.pull([day_of_date(DAY)])
    assert client.sent and all("isTableSwitch" not in biz for biz in client.sent)
    client.sent.clear()
    puller.pull([day_of_date(date.today() - timedelta(days=120))])
    assert client.sent and all(biz["isTableSwitch"] == 2 for biz in client.sent)
