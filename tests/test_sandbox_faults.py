"""Each switchable fault does what it says, and page drift makes a naive window pager lose rows."""

import json
import time

import httpx
import pytest

from tests.test_sandbox_protocol import WEEK


def set_faults(caller, **changes) -> None:
    caller.admin("faults", changes)


def test_faults_are_off_by_default_and_switch_at_runtime(fast) -> None:
    _, caller = fast
    assert caller.post("shop").status_code == 200
    set_faults(caller, http_5xx=1.0)
    assert caller.post("shop").status_code in (500, 502, 503)
    set_faults(caller, http_5xx=0.0)
    assert caller.post("shop").status_code == 200


def test_http_429(fast) -> None:
    _, caller = fast
    set_faults(caller, http_429=1.0)
    assert caller.post("shop").status_code == 429


def test_malformed_json(fast) -> None:
    _, caller = fast
    set_faults(caller, malformed_json=1.0)
    response = caller.post("sales_out", WEEK)
    assert response.status_code == 200
    with pytest.raises(ValueError):  # cut short, possibly inside a multi-byte character
        json.loads(response.content)


def test_latency(fast) -> None:
    _, caller = fast
    set_faults(caller, latency_ms=300)
    started = time.monotonic()
    caller.post("shop")
    assert time.monotonic() - started >= 0.3


def test_slower_than_the_client_timeout(fast) -> None:
    _, caller = fast
    set_faults(caller, slow=1.0, slow_seconds=2.0)
    with pytest.raises(httpx.ReadTimeout):
        caller.http.post("/open/shops/query", data={}, timeout=0.5)


def test_bursts_of_199_and_200(fast) -> None:
    _, caller = fast
    set_faults(caller, burst=1.0, burst_length=4)
    codes = [caller.post("shop").json()["code"] for _ in range(4)]
    assert set(codes) <= {199, 200} and len(set(codes)) == 1
    set_faults(caller, burst=0.0)
    assert caller.post("shop").json()["code"] == 0


def naive_window_pull(caller, biz: dict) -> set[int]:
    """What a client that pages a time window by page_index alone collects."""
    ids, page = set(), 1
    while True:
        data = caller.data("sales_out", biz | {"page_index": page, "page_size": 50})
        ids |= {row["io_id"] for row in data["datas"]}
        if not data["has_next"]:
            return ids
        page += 1


def truth_ids(caller, biz: dict) -> set[int]:
    rows = caller.admin("truth", {"dataset": "sales_out", "begin": biz["modified_begin"],
                                  "end": biz["modified_end"]})["rows"]
    return {row["io_id"] for row in rows}


def test_page_drift_makes_a_naive_window_pager_miss_rows(fast) -> None:
    _, caller = fast
    day = {"modified_begin": "2026-11-18 00:00:00", "modified_end": "2026-11-19 00:00:00"}
    assert naive_window_pull(caller, day) == truth_ids(caller, day)  # no drift: nothing missed
    set_faults(caller, page_drift=1.0)
    pulled = naive_window_pull(caller, day)
    missed = truth_ids(caller, day) - pulled
    assert missed, "rows that never left the window were skipped while paging"
