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
