"""The ERP client against the sandbox over real HTTP: tokens, the error table, retries."""

import time

import pytest

from qeasy.datasets import ENDPOINTS
from qeasy.erp.budget import CallBudget
from qeasy.erp.client import CallStats, ErpClient, ErpConfigError, ErpGaveUp, RetryPolicy

SHOPS = ENDPOINTS["shop"].path
FAST_RETRY = RetryPolicy(max_attempts=4, backoff_base=0.01, backoff_cap=0.05, throttle_floor=0.01)


def client_for(server, tmp_path, **overrides) -> ErpClient:
    config = server.config
    settings = {"access_token": config.access_token, "refresh_token": None, "retry": FAST_RETRY} | overrides
    budget = CallBudget(tmp_path, config.app_key, config.per_second, config.per_minute)
    return ErpClient(server.url, config.app_key, settings.pop("app_secret", config.app_secret),
                     settings.pop("access_token"), budget, **settings)


def test_without_a_token_the_client_gets_one_at_start_up(fast, tmp_path) -> None:
    server, _ = fast
    client = client_for(server, tmp_path, access_token=None)
    assert client.call(SHOPS, {}, CallStats())["datas"]


def test_an_expired_token_is_refreshed_once(fast, tmp_path) -> None:
    server, caller = fast
    client = client_for(server, tmp_path, refresh_token=server.config.refresh_token)
    caller.admin("tokens/expire", {})
    stats = CallStats()
    assert client.call(SHOPS, {}, stats)["datas"]
    assert stats.calls == 3  # refused, refresh, retried


def test_an_expired_token_without_a_refresh_token_names_the_variable(fast, tmp_path) -> None:
    server, caller = fast
    caller.admin("tokens/expire", {})
    with pytest.raises(ErpConfigError, match="JST_ACCESS_TOKEN"):
        client_for(server, tmp_path).call(SHOPS, {}, CallStats())


def test_a_wrong_secret_fails_at_once(fast, tmp_path) -> None:
    server, _ = fast
    started = time.monotonic()
    with pytest.raises(ErpConfigError, match="ERP error 10: invalid signature") as error:
        client_for(server, tmp_path, app_secret="wrong-secret").call(SHOPS, {}, CallStats())
    assert time.monotonic() - started < 2 and "wrong-secret" not in str(error.value)


def test_a_bad_parameter_fails_at_once_with_the_erp_message(fast, tmp_path) -> None:
    server, _ = fast
    with pytest.raises(ErpConfigError, match="ERP error 140"):
        client_for(server, tmp_path).call(ENDPOINTS["sales_out"].path, {"page_size": 500,
                                          "modified_begin": "2026-11-19 00:00:00",
                                          "modified_end": "2026-11-20 00:00:00"}, CallStats())


@pytest.mark.parametrize("fault", [{"http_5xx": 0.5}, {"malformed_json": 0.5}, {"http_429": 0.5},
                                   {"burst": 0.1, "burst_length": 3}])
def test_transient_faults_are_retried(fast, tmp_path, fault) -> None:
    server, caller = fast
    caller.admin("faults", fault)
    client = client_for(server, tmp_path, retry=RetryPolicy(max_attempts=12, backoff_base=0.01,
                                                            backoff_cap=0.05, throttle_floor=0.01))
    stats = CallStats()
    for _ in range(10):
        assert client.call(SHOPS, {}, stats)["datas"]
    assert stats.retries > 0 and stats.calls == 10 + stats.retries


def test_a_call_that_keeps_failing_gives_up_after_the_bounded_attempts(fast, tmp_path) -> None:
    server, caller = fast
    caller.admin("faults", {"http_5xx": 1.0})
    stats = CallStats()
    with pytest.raises(ErpGaveUp, match="after 4 attempts"):
        client_for(server, tmp_path).call(SHOPS, {}, stats)
    assert stats.calls == 4


def test_a_timeout_is_retried(fast, tmp_path) -> None:
    server, caller = fast
    caller.admin("faults", {"slow": 1.0, "slow_seconds": 1.0})
    client = client_for(server, tmp_path, timeout=0.3)
    with pytest.raises(ErpGaveUp, match="timed out"):
        client.call(SHOPS, {}, CallStats())
