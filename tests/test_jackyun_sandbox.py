"""The sandbox speaks 吉客云 (Jackyun) at /open/openapi/do over the same merchant, over real HTTP.

The signer below is written from other-erps.md, independently of the gateway's: the two agreeing on
the spec's vector and on every call is the point.
"""

import hashlib
import json
import time
from datetime import datetime

import httpx
import pytest

from qeasy.erp.times import BEIJING, parse_bj
from qeasy.sandbox.catalog import CO_ID

PATH = "/open/openapi/do"
SMALL = {"orders_per_hour": 20.0, "skus": 200, "jackyun_per_method_per_second": 10_000}
DAY = {"startModified": "2026-11-19 00:00:00", "endModified": "2026-11-20 00:00:00"}
EVER = {"begin": "2000-01-01 00:00:00", "end": "2026-11-20 12:00:00"}  # truth up to the pinned now
TRADES, RETURNS = "oms.trade.fullinfoget", "ass-business.returnchange.fullinfoget"
STOCK = "erp.stockquantity.get"
GOODS, CHANNELS, WAREHOUSES = "erp.storage.goodslist", "erp.sales.get", "erp.warehouse.get"
TRADE_STATUS = {"WaitConfirm": 4110, "Confirmed": 9090, "Delete": 5020, "Cancelled": 5010,
                "OuterConfirming": 4040}


def sign(form: dict[str, str], secret: str) -> str:
    """other-erps.md: sorted key+value of the signed non-empty fields, secret on both sides,
    lower-cased, MD5 hex."""
    body = "".join(k + v for k, v in sorted(form.items()) if k not in ("sign", "contextid", "token") and v)
    return hashlib.md5((secret + body + secret).lower().encode("utf-8")).hexdigest()


class Jackyun:
    """A minimal Jackyun caller: signs the form and posts it to the gateway."""

    def __init__(self, server, app_key: str | None = None, secret: str | None = None) -> None:
        self.app_key = app_key or server.config.app_key
        self.secret = secret or server.config.app_secret
        self.http = httpx.Client(base_url=server.url, timeout=30)

    def form(self, method: str, biz: dict | None = None, **fields: str) -> dict[str, str]:
        form = {"method": method, "appkey": self.app_key, "version": "v1.0", "contenttype": "json",
                "timestamp": datetime.now(BEIJING).strftime("%Y-%m-%d %H:%M:%S"),
                "bizcontent": json.dumps(biz or {}, ensure_ascii=False)} | fields
        form["sign"] = sign(form, self.secret)
        return form

    def post(self, form: dict[str, str]) -> dict:
        response = self.http.post(PATH, data=form)
        assert response.status_code == 200, response.text
        return response.json()

    def call(self, method: str, biz: dict | None = None, **fields: str) -> dict:
        return self.post(self.form(method, biz, **fields))

    def data(self, method: str, biz: dict | None = None) -> object:
        body = self.call(method, biz)
        assert body["code"] == 200, body
        return body["result"]["data"]


@pytest.fixture
def jackyun(make_sandbox):
    """Start a small sandbox (pinned clock, pacing out of the way) and a Jackyun caller for it."""

    def make(dirty: dict | None = None, **overrides):
        server, caller = make_sandbox(dirty=dirty, **(SMALL | overrides))
        client = Jackyun(server)
        opened.append(client)
        return server, caller, client

    opened: list[Jackyun] = []
    yield make
    for client in opened:
        client.http.close()


def error(body: dict) -> str:
    """The sub-code of a failure envelope (and check it is one)."""
    assert body["code"] == 0 and body["result"]["data"] is None and body["result"]["contextId"], body
    return body["subCode"]


def truth(caller, dataset: str, window: dict | None = None) -> list[dict]:
    return caller.admin("truth", {"dataset": dataset, **(window or {})})["rows"]


def bj_window(biz: dict, begin: str, end: str) -> dict:
    return {"begin": biz[begin], "end": biz[end]}


# ---- protocol --------------------------------------------------------------------------------
def test_signature_vector_and_the_gateway_agrees(make_sandbox) -> None:
    vector = {"appkey": "12345", "method": "erp.warehouse.get", "version": "v1.0", "contenttype": "json",
              "timestamp": "2026-05-10 12:00:00", "bizcontent": '{"pageIndex":0,"pageSize":50}'}
    assert sign(vector, "test_secret") == "7a07abfda4428774e72467879f52ce44"
    server, _ = make_sandbox(app_key="12345", app_secret="test_secret")
    client = Jackyun(server)
    # The vector's sign is accepted: what fails is its 2026-05-10 timestamp, checked after the sign.
    body = client.post(vector | {"sign": "7a07abfda4428774e72467879f52ce44"})
    assert error(body) == "0050030002" and "timestamp" in body["msg"]
    body = client.post(vector | {"sign": "71fe9b65448ba750b90eb461a53575a2"})  # not lower-cased
    assert error(body) == "0858030801"
    client.http.close()


def test_wrong_secret_and_unknown_appkey(jackyun) -> None:
    server, _, client = jackyun()
    assert error(Jackyun(server, secret="wrong").call(WAREHOUSES)) == "0858030801"
    assert error(Jackyun(server, app_key="nobody").call(WAREHOUSES)) == "0858030802"
    assert client.call(WAREHOUSES)["code"] == 200


@pytest.mark.parametrize("name", ["app_key", "biz_content", "format", "v"])
def test_rejected_field_names(jackyun, name: str) -> None:
    _, _, client = jackyun()
    body = client.call(WAREHOUSES, **{name: "1"})
    assert error(body) == "0050030002" and name in body["msg"]


def test_versions_content_type_and_timestamp(jackyun) -> None:
    _, _, client = jackyun()
    assert client.call(WAREHOUSES, version="1.0")["code"] == 200
    assert error(client.call(WAREHOUSES, version="2.0")) == "0050030002"
    assert error(client.call(WAREHOUSES, contenttype="xml")) == "0050030002"
    stale = datetime.fromtimestamp(time.time() - 3600, BEIJING).strftime("%Y-%m-%d %H:%M:%S")
    body = client.call(WAREHOUSES, timestamp=stale)
    assert error(body) == "0050030002" and "timestamp is off" in body["msg"]
    assert error(client.call(WAREHOUSES, timestamp=str(int(time.time())))) == "0050030002"


def test_unsubscribed_and_unknown_methods(jackyun) -> None:
    _, _, client = jackyun(jackyun_methods=(WAREHOUSES,))
    assert client.call(WAREHOUSES)["code"] == 200
    for method in (CHANNELS, "erp.no.such.method"):
        body = client.call(method)
        assert error(body) == "0130020310" and body["msg"] == "未查询到应用或应用未订阅此API"


def test_pacing_per_method_then_success_after_a_second(jackyun) -> None:
    _, _, client = jackyun(jackyun_per_method_per_second=3)
    started = time.monotonic()
    bodies = [client.call(WAREHOUSES) for _ in range(4)]
    assert time.monotonic() - started < 1, "too slow to test a per-second limit"
    assert [b["code"] for b in bodies[:3]] == [200] * 3
    assert error(bodies[3]) == "0859999999"
    assert client.call(CHANNELS)["code"] == 200  # the limit is per method
    time.sleep(1.05)
    assert client.call(WAREHOUSES)["code"] == 200


def test_faults_are_shared_with_the_admin_route_and_stats_count_methods(jackyun) -> None:
    _, caller, client = jackyun()
    caller.admin("faults", {"burst": 1.0, "burst_length": 2})
    assert [error(client.call(WAREHOUSES)) for _ in range(2)] == ["0859999999"] * 2
    caller.admin("faults", {"burst": 0.0, "http_5xx": 1.0})
    assert client.http.post(PATH, data=client.form(WAREHOUSES)).status_code in (500, 502, 503)
    caller.admin("faults", {"http_5xx": 0.0})
    assert client.call(WAREHOUSES)["code"] == 200
    stats = caller.admin("stats")["erp.warehouse.get"]
    assert stats["calls"] == 4 and stats["throttled"] == 2 and stats["errors"] == 1 and stats["ok"] == 1
    assert caller.post("shop").json()["code"] == 0  # the Jushuitan side answers as before


def test_parameter_errors_name_the_parameter(jackyun) -> None:
    _, _, client = jackyun()
    body = client.call(TRADES, DAY)
    assert error(body) == "0040139996"  # no fields
    week = {"startModified": "2026-11-10 00:00:00", "endModified": "2026-11-18 00:00:00", "fields": "tradeNo"}
    assert "startModified" in client.call(TRADES, week)["msg"]
    assert error(client.call(TRADES, {"fields": "tradeNo"})) == "0050030002"  # no window
    backwards = {"startModified": DAY["endModified"], "endModified": DAY["startModified"], "fields": "x"}
    assert error(client.call(TRADES, backwards)) == "0050030002"
    body = client.call(TRADES, DAY | {"fields": "tradeNo", "pageSize": 201})
    assert error(body) == "0050030002" and "pageSize" in body["msg"]
    body = client.call(TRADES, DAY | {"fields": "tradeNo", "scrollId": "not-a-token"})
    assert error(body) == "0050030002" and "scrollId" in body["msg"]
    two_days = {"startModified": "2026-11-18 00:00:00", "endModified": "2026-11-20 00:00:00"}
    assert "startModified" in client.call(RETURNS, two_days)["msg"]
    body = client.call(RETURNS, DAY | {"pageIndex": -1})
    assert error(body) == "0050030002" and "pageIndex" in body["msg"]
    assert "pageIndex" in client.call(STOCK, {"pageIndex": 1})["msg"]
    assert "pageIndex" in client.call(GOODS, {"maxSkuId": 0, "pageIndex": 1})["msg"]
    assert error(client.call(GOODS, {})) == "0050030002"
    month = {"startDateModifiedSku": "2026-10-01 00:00:00", "endDateModifiedSku": "2026-11-01 00:00:00"}
    assert "startDateModifiedSku" in client.call(GOODS, month)["msg"]
    assert error(client.call(CHANNELS, {"pageSize": 0})) == "0050030002"
    assert error(client.call(CHANNELS, bizcontent="[]")) == "0050030002"


# ---- methods paged to the end equal the truth ------------------------------------------------
def walk_trades(client: Jackyun, window: dict, size: int = 50) -> list[dict]:
    """Every trade of a window by scrollId, in the order served (repeats included)."""
    rows, scroll = [], ""
    while True:
        data = client.data(TRADES, window | {"fields": "tradeId,goodsDetail.barcode", "pageSize": size,
                                             "scrollId": scroll})
        rows += data["trades"]
        scroll = data["scrollId"]
        if len(data["trades"]) < size:
            return rows


def expected_trade_fields(row: dict) -> dict:
    return {"tradeId": row["io_id"], "tradeNo": f"JY{row['o_id']}", "sourceTradeNo": row["so_id"],
            "tradeStatus": TRADE_STATUS.get(row["status"], 1999), "shopId": row["shop_id"],
            "warehouseId": row["wms_co_id"], "consignTime": row["io_date"], "gmtModified": row["modified"],
            "payment": row["pay_amount"], "receivedTotal": row["paid_amount"], "postFee": row["freight"],
            "state": row["receiver_state"],
            "barcodes": [item["sku_id"] for item in row["items"]],
            "counts": [item["qty"] for item in row["items"]],
            "gifts": [int(item["is_gift"]) for item in row["items"]]}


def trade_fields(trade: dict) -> dict:
    picked = {key: trade[key] for key in ("tradeId", "tradeNo", "sourceTradeNo", "tradeStatus", "shopId",
                                          "warehouseId", "consignTime", "gmtModified", "payment",
                                          "receivedTotal", "postFee", "state")}
    details = trade["goodsDetail"]
    return picked | {"barcodes": [d["barcode"] for d in details], "counts": [d["sellCount"] for d in details],
                     "gifts": [d["isGift"] for d in details]}


def test_trades_by_scroll_id_equal_the_truth(jackyun) -> None:
    _, caller, client = jackyun(dirty={"numeric_strings": 0.2, "unknown_status": 0.05})
    served = walk_trades(client, DAY)
    canonical = truth(caller, "sales_out", bj_window(DAY, "startModified", "endModified"))
    assert len(canonical) > 200 and len(served) == len({t["tradeId"] for t in served})
    by_id = {row["io_id"]: row for row in canonical}
    assert {t["tradeId"] for t in served} == set(by_id)
    assert [trade_fields(t) for t in served] == [expected_trade_fields(by_id[t["tradeId"]]) for t in served]
    assert {t["tradeType"] for t in served} == {1}
    assert 1999 in {t["tradeStatus"] for t in served}  # an unknown status keeps a code of its own


def test_scroll_walk_loses_nothing_under_page_drift(jackyun) -> None:
    _, caller, client = jackyun()
    # The window ends at the pinned now: a row modified during the walk stays in it.
    window = {"startModified": "2026-11-19 12:00:00", "endModified": "2026-11-20 12:00:00"}
    span = bj_window(window, "startModified", "endModified")
    before = {row["io_id"] for row in truth(caller, "sales_out", span)}
    caller.admin("faults", {"page_drift": 0.3})
    served = walk_trades(client, window, size=40)
    caller.admin("faults", {"page_drift": 0.0})
    after = {row["io_id"]: row for row in truth(caller, "sales_out", span)}
    assert {t["tradeId"] for t in served} == before == set(after)
    assert len(served) > len(before), "no row drifted: the test proves nothing"
    latest = {t["tradeId"]: t for t in served}  # a drifted row is served again with its new version
    assert all(latest[k]["gmtModified"] == row["modified"] for k, row in after.items())


def test_return_changes_by_page_index_equal_the_truth(jackyun) -> None:
    _, caller, client = jackyun(orders_per_hour=60.0, dirty={"duplicate_rows": 0.0})
    served, page = [], 0
    while True:
        rows = client.data(RETURNS, DAY | {"pageIndex": page, "pageSize": 20})["returnChangeList"]
        served += rows
        if len(rows) < 20:
            break
        page += 1
    assert page >= 2
    canonical = {row["as_id"]: row for row in truth(caller, "after_sale",
                                                     bj_window(DAY, "startModified", "endModified"))}
    assert [r["returnChangeId"] for r in served] == list(canonical)  # merchant.window's order
    status = {"WaitConfirm": "1", "Confirmed": "9", "Cancelled": "4", "Merged": "5"}
    for r in served:
        row = canonical[r["returnChangeId"]]
        assert r["returnChangeNo"] == f"SH{row['as_id']}" and r["tradeNo"] == f"JY{row['o_id']}"
        assert r["returnChangeStatus"] == status.get(row["status"], "99")
        assert (r["gmtModified"], r["auditTime"], r["returnChangeType"]) == \
            (row["modified"], row["confirm_date"], row["type"])
        assert r["returnChangePay"] == {"returnTotal": row["refund"], "payment": row["payment"],
                                        "postFee": row["freight"]}
        assert [(d["barcode"], d["returnCount"], d["receiveCount"], d["sellTotal"])
                for d in r["returnChangeGoodsDetail"]] == \
            [(i["sku_id"], i["qty"], i["r_qty"], i["amount"]) for i in row["items"]]


def test_duplicate_rows_repeat_the_previous_pages_last_row(jackyun) -> None:
    _, _, client = jackyun(orders_per_hour=60.0, dirty={"duplicate_rows": 1.0})
    first = client.data(RETURNS, DAY | {"pageIndex": 0, "pageSize": 10})["returnChangeList"]
    second = client.data(RETURNS, DAY | {"pageIndex": 1, "pageSize": 10})["returnChangeList"]
    assert len(second) == 11 and second[0] == first[-1]


def test_stock_is_a_string_and_the_max_quantity_id_walk_covers_every_sku_and_warehouse_once(jackyun) -> None:
    server, caller, client = jackyun()
    seen, after, unsorted = [], 0, False
    while True:
        data = client.data(STOCK, {"pageIndex": 0, "pageSize": 30, "maxQuantityId": after,
                                   "isNotQueryBatchStock": "1"})
        assert isinstance(data, str)
        rows = json.loads(data)["goodsStockQuantity"]
        seen += rows
        ids = [r["quantityId"] for r in rows]
        unsorted |= ids != sorted(ids)
        if len(rows) < 30:
            break
        after = max(ids)
    assert unsorted, "rows came sorted: a client taking the last id as the cursor would pass"
    ids = [r["quantityId"] for r in seen]
    assert len(ids) == len(set(ids)) and len({(r["skuBarcode"], r["warehouseId"]) for r in seen}) == len(ids)
    canonical = {row["sku_id"]: row for row in truth(caller, "inventory", EVER)}
    assert len(canonical) == server.config.skus
    by_sku: dict[str, list[dict]] = {}
    for r in seen:
        by_sku.setdefault(r["skuBarcode"], []).append(r)
    assert set(by_sku) == set(canonical) and {len(rows) for rows in by_sku.values()} == {1, 2}
    for sku, rows in by_sku.items():  # the warehouses' rows add up to the canonical (summed) row
        row = canonical[sku]
        assert sum(r["currentQuantity"] for r in rows) == row["qty"]
        assert sum(r["lockedQuantity"] for r in rows) == row["order_lock"]
        assert sum(r["useQuantity"] for r in rows) == row["qty"] - row["order_lock"]
        assert sum(r["defectiveQuanity"] for r in rows) == row["defective_qty"]
        assert {r["gmtModified"] for r in rows} == {row["modified"]}


def test_goods_success_sub_code_and_both_walks_equal_the_truth(jackyun) -> None:
    server, caller, client = jackyun({"hidden_sku": 0.05})
    body = client.call(GOODS, {"pageIndex": 0, "pageSize": 50, "maxSkuId": 0})
    assert (body["code"], body["subCode"], body["msg"]) == (200, "0030000004", "操作成功")
    by_cursor, after = [], 0
    while True:
        rows = client.data(GOODS, {"pageIndex": 0, "pageSize": 50, "maxSkuId": after})["goods"]
        by_cursor += rows
        if len(rows) < 50:
            break
        assert [r["skuId"] for r in rows] == sorted(r["skuId"] for r in rows)
        after = rows[-1]["skuId"]
    canonical = {row["sku_id"]: row for row in truth(caller, "sku", EVER)}
    # The catalogue walk is no window query: SKUs hidden from windows are walked too, and only they
    # are missing from the (window-based) truth.
    extra = [r["skuId"] for r in by_cursor if r["skuBarcode"] not in canonical]
    assert set(canonical) <= {r["skuBarcode"] for r in by_cursor} and extra
    assert all(server.merchant.catalog.hidden[sku_id - 1] for sku_id in extra)
    for r in by_cursor:
        if r["skuBarcode"] not in canonical:
            continue
        row = canonical[r["skuBarcode"]]
        assert (r["skuId"], r["goodsNo"]) == (row["autoid"], row["i_id"])
        assert r["skuIsBlockup"] == (1 if row["enabled"] == -1 else 0)
        assert (r["retailPrice"], r["cateName"]) == (row["cost_price"], row["category"])
        assert r["skuGmtCreate"] == parse_bj(row["created"])
        assert r["skuGmtModified"] == parse_bj(row["modified"])
    assert len({r["goodsId"] for r in by_cursor}) == len({r["goodsNo"] for r in by_cursor})
    month = {"startDateModifiedSku": "2026-10-21 12:00:00", "endDateModifiedSku": "2026-11-20 12:00:00"}
    by_window, page = [], 0
    while True:
        rows = client.data(GOODS, month | {"pageIndex": page, "pageSize": 20})["goods"]
        by_window += rows
        if len(rows) < 20:
            break
        page += 1
    in_window = truth(caller, "sku", bj_window(month, "startDateModifiedSku", "endDateModifiedSku"))
    assert len(in_window) > 20 and [r["skuBarcode"] for r in by_window] == [r["sku_id"] for r in in_window]


def test_channels_and_warehouses(jackyun) -> None:
    _, caller, client = jackyun()
    channels = [c for page in range(4)
                for c in client.data(CHANNELS, {"pageIndex": page, "pageSize": 3})["salesChannelInfo"]]
    shops = truth(caller, "shop")
    assert [(c["channelId"], c["channelCode"], c["channelName"], c["onlinePlatTypeName"], c["companyCode"])
            for c in channels] == \
        [(s["shop_id"], f"C{s['shop_id']}", s["shop_name"], s["shop_site"], s["co_id"]) for s in shops]
    warehouses = client.data(WAREHOUSES, {"pageIndex": 0, "pageSize": 50})["warehouseInfo"]
    ids = {w["warehouseId"] for w in warehouses}
    assert ids == {CO_ID, CO_ID + 1, CO_ID + 2} and all(w["warehouseName"] for w in warehouses)
    used = {row["wms_co_id"] for row in truth(caller, "sales_out", {"begin": DAY["startModified"],
                                                                     "end": DAY["endModified"]})}
    assert used <= ids
