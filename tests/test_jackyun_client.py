"""The 吉客云 protocol client: the signature vector of other-erps.md, the envelope rules, and calls
over real HTTP to the sandbox's 吉客云 gateway (wrong secret, throttling, pacing, daily quotas)."""

import time

import pytest

from qeasy.erp.client import CallStats, ErpConfigError, RetryPolicy
from qeasy.erp.jackyun.client import JackyunClient
from qeasy.erp.jackyun.envelope import read
from qeasy.erp.jackyun.pacing import MethodBudgets, Pacing, QuotaSpent
from qeasy.erp.jackyun.signing import sign, signed_form
from qeasy.erp.times import parse_bj
from qeasy.sandbox import SandboxConfig, SandboxServer

VECTOR = {"appkey": "12345", "method": "erp.warehouse.get", "version": "v1.0", "contenttype": "json",
          "timestamp": "2026-05-10 12:00:00", "bizcontent": '{"pageIndex":0,"pageSize":50}'}


def test_the_signature_vector_of_the_spec() -> None:
    assert sign(VECTOR, "test_secret") == "7a07abfda4428774e72467879f52ce44"
    # sign, contextid and token are sent but not signed; empty values are left out
    assert sign(VECTOR | {"sign": "x", "contextid": "c", "token": "t", "extra": ""},
                "test_secret") == "7a07abfda4428774e72467879f52ce44"
    form = signed_form("erp.warehouse.get", "12345", "test_secret", {"pageIndex": 0, "pageSize": 50},
                       timestamp_ms=parse_bj("2026-05-10 12:00:00"))
    assert form == VECTOR | {"sign": "7a07abfda4428774e72467879f52ce44"}
    assert "token" not in form
    assert signed_form("m", "k", "s", {}, timestamp_ms=0, token="isv")["token"] == "isv"


def test_success_needs_code_200_and_a_success_sub_code() -> None:
    def envelope(code, sub, data=None):
        return {"code": code, "msg": "m", "subCode": sub, "result": {"data": data, "contextId": "c"}}

    for sub in ("", "0", "0000000000", "00000000", "200", "0030000004", None):
        answer = read(envelope(200, sub, {"a": 1}))
        assert answer.ok and answer.data == {"a": 1}
    assert not read(envelope(200, "0858030801")).ok  # code 200 alone is no success
    failed = read(envelope(0, "0130020001"))
    assert (failed.ok, failed.sub_code, failed.msg) == (False, "0130020001", "m")
    assert read(envelope(200, "", '{"trades":[{"tradeId":1234567890123456789}]}')).data == {
        "trades": [{"tradeId": 1234567890123456789}]}  # a JSON string is decoded once, ids stay exact
    assert read(envelope(200, "", "plain text")).data == "plain text"
    assert read(envelope(200, "0", "[1, 2")) is None  # a broken string is no answer
    for broken in ([], {"msg": "no code"}, {"code": "x"}, {"code": 200, "result": []}):
        assert read(broken) is None
    assert read(envelope(200, "9")).ok is False
    assert read(envelope(200, "9"), success=("9",)).ok  # the success list is a setting


def test_pacing_settings_are_checked() -> None:
    assert Pacing(per_second=2, per_method={"a": 5}).rate("a") == 5
    assert Pacing(per_second=2).rate("b") == 2
    with pytest.raises(ValueError, match="a=0"):
        Pacing(per_method={"a": 0})
    with pytest.raises(ValueError, match="q=-1"):
        Pacing(daily={"q": -1})


@pytest.fixture
def gateway():
    with SandboxServer(SandboxConfig(clock="2026-11-20 12:00:00", skus=200, orders_per_hour=200.0,
                                     jackyun_per_method_per_second=3)) as server:
        yield server


def client_for(server, tmp_path, secret: str | None = None, pacing: Pacing | None = None,
               attempts: int = 8) -> JackyunClient:
    config = server.config
    budgets = MethodBudgets(tmp_path, config.app_key, pacing or Pacing(per_second=3), margin_seconds=0.05)
    return JackyunClient(server.url + "/open/openapi/do", config.app_key, secret or config.app_secret,
                         budgets, retry=RetryPolicy(max_attempts=attempts, backoff_base=0.05, backoff_cap=0.5,
                                                    throttle_floor=0.2))


def test_a_wrong_secret_fails_in_seconds_naming_the_signature_error(gateway, tmp_path) -> None:
    client, stats = client_for(gateway, tmp_path, secret="not-the-secret"), CallStats()
    started = time.monotonic()
    with pytest.raises(ErpConfigError) as failure:
        client.call("erp.warehouse.get", {"pageIndex": 0, "pageSize": 50}, stats)
    assert time.monotonic() - started < 5
    assert failure.value.code == "0858030801" and "invalid signature" in str(failure.value)
    assert "not-the-secret" not in str(failure.value) and stats.calls == 1


def test_an_unsubscribed_method_fails_at_once_saying_so(tmp_path) -> None:
    config = SandboxConfig(clock="2026-11-20 12:00:00", skus=50, jackyun_methods=("erp.warehouse.get",))
    refused = pytest.raises(ErpConfigError, match="not subscribed.*erp.sales.get")
    with SandboxServer(config) as server, refused:
        client_for(server, tmp_path).call("erp.sales.get", {"pageIndex": 0, "pageSize": 50}, CallStats())


def test_calls_decode_string_data_and_succeed_on_the_goods_sub_code(gateway, tmp_path) -> None:
    client, stats = client_for(gateway, tmp_path), CallStats()
    stock = client.call("erp.stockquantity.get", {"pageIndex": 0, "pageSize": 10, "maxQuantityId": 0}, stats)
    assert len(stock["goodsStockQuantity"]) == 10  # `data` came as a JSON string
    goods = client.call("erp.storage.goodslist", {"pageIndex": 0, "pageSize": 5, "maxSkuId": 0}, stats)
    assert [row["skuId"] for row in goods["goods"]] == [1, 2, 3, 4, 5]  # sub-code 0030000004 is success
    assert stats.calls == 2 and stats.errors == 0


def test_throttling_is_retried_and_pacing_keeps_under_the_gateway_limit(gateway, tmp_path) -> None:
    biz = {"pageIndex": 0, "pageSize": 1}
    eager, stats = client_for(gateway, tmp_path / "eager", pacing=Pacing(per_second=10)), CallStats()
    for _ in range(8):  # faster than the gateway's 3 calls a second per method: refused, retried
        eager.call("erp.warehouse.get", biz, stats)
    assert stats.throttled > 0 and stats.calls == 8 + stats.throttled
    time.sleep(1.2)
    paced, stats = client_for(gateway, tmp_path / "paced", pacing=Pacing(per_second=3)), CallStats()
    started = time.monotonic()
    for _ in range(7):
        paced.call("erp.sales.get", biz, stats)
    assert stats.throttled == 0 and stats.calls == 7
    assert time.monotonic() - started >= 2.0  # 3 a second: the 7th waits for the third second


def test_a_spent_daily_quota_stops_calls_before_they_are_sent(gateway, tmp_path) -> None:
    pacing = Pacing(per_second=3, daily={"erp.warehouse.get": 3})
    first, second = client_for(gateway, tmp_path, pacing=pacing), client_for(gateway, tmp_path, pacing=pacing)
    stats = CallStats()
    for client in (first, first, second):  # the count is shared by every client of the app key
        client.call("erp.warehouse.get", {"pageIndex": 0, "pageSize": 1}, stats)
    with pytest.raises(QuotaSpent, match="quota of 3 calls is used up"):
        second.call("erp.warehouse.get", {"pageIndex": 0, "pageSize": 1}, stats)
    assert stats.calls == 3 and first.budgets.used("erp.warehouse.get") == 3
    first.call("erp.sales.get", {"pageIndex": 0, "pageSize": 1}, stats)  # other methods: no quota
