"""The sandbox survives malformed requests and concurrency, and its caches, cursors and faults stay honest."""

import json
import socket
import time

import httpx
import numpy as np

from qeasy.datasets import ENDPOINTS
from qeasy.erp.endpoints import TOKEN_PATHS
from qeasy.erp.request import signed_form
from qeasy.erp.signing import sign
from qeasy.erp.times import bj_day, day_start_ms, parse_bj
from qeasy.sandbox import SandboxConfig
from qeasy.sandbox.api import MESSAGES
from qeasy.sandbox.clock import SimClock
from qeasy.sandbox.merchant import Merchant
from qeasy.sandbox.orders import IDS_PER_DAY, IO_BASE
from qeasy.sandbox.records import version_ts
from tests.conftest import PINNED
from tests.test_sandbox_protocol import UNIQUE_WEEK, WEEK

NOW_MS = parse_bj(PINNED)
WEEK_TEXT = '"modified_begin":"2026-11-13 00:00:00","modified_end":"2026-11-20 00:00:00"'
TO_NOW = {"modified_begin": "2026-11-14 12:00:01", "modified_end": PINNED}  # the window holds `now`


def post_raw(caller, dataset: str, biz_text: str, **fields: str) -> httpx.Response:
    """A correctly signed call whose biz is any text (json.dumps cannot write 1e999)."""
    config = caller.server.config
    form = signed_form(config.app_key, config.app_secret, config.access_token, {}) | fields
    form["biz"] = biz_text
    form["sign"] = sign(form, config.app_secret)
    return caller.http.post(ENDPOINTS[dataset].path, data=form)


def first_io_id(caller) -> int:
    return caller.data("sales_out", WEEK | {"page_size": 1})["datas"][0]["io_id"]


# ---- 1. malformed requests get code 140, not a dropped connection --------------------------
MALFORMED = [
    ("sku", '{"sku_ids":5}'),
    ("sales_out", '{"io_ids":0}'),
    ("sales_out", '{"io_ids":[[1]]}'),
    ("sales_out", '{"io_ids":["²"]}'),
    ("unique_code", '{"io_ids":["²"]}'),
    ("sales_out", '{"io_ids":["99999999999999999999"]}'),
    ("sales_out", "{" + WEEK_TEXT + ',"page_index":1e999}'),
    ("sales_out", '{"start_ts":1e999}'),
    ("inventory", '{"ts":-1e999}'),
    ("sales_out", '{"start_ts":99999999999999999999}'),
    ("sales_out", "{" + WEEK_TEXT + ',"status":["Confirmed"]}'),
    ("sales_out", "[" * 10_000 + "]" * 10_000),
]


def test_malformed_biz_gets_code_140_in_the_real_envelope(fast) -> None:
    _, caller = fast
    wrong = []
    for dataset, biz_text in MALFORMED:  # one sandbox for all: each start and stop costs 0.5 s
        try:
            body = post_raw(caller, dataset, biz_text).json()
        except httpx.HTTPError as exc:  # the handler crashed and dropped the connection
            body = {"error": repr(exc)}
            caller.http = httpx.Client(base_url=caller.server.url, timeout=30)
        if not (body.get("code") == 140 and body["msg"].startswith(MESSAGES[140]) and body["data"] is None):
            wrong.append((dataset, biz_text[:80], body))
    assert not wrong


def test_timestamp_too_large_for_a_float_gets_140(fast) -> None:
    _, caller = fast
    assert post_raw(caller, "shop", "{}", timestamp="9" * 400).json()["code"] == 140


def test_well_formed_ids_of_no_record_find_nothing_and_build_no_future_day(fast) -> None:
    server, caller = fast
    future = IO_BASE + (bj_day(NOW_MS) + 5) * IDS_PER_DAY
    assert caller.data("sales_out", {"io_ids": [str(future), str(IO_BASE - 1)]})["datas"] == []
    assert caller.data("unique_code", {"io_ids": [str(future)]}) == []
    assert caller.data("sku", {"sku_ids": ["SK²", "SK99999999999999999999"]})["datas"] == []
    assert all(day <= bj_day(NOW_MS) for day in server.merchant._days)  # none built for days to come


def test_an_unexpected_exception_answers_500_and_counts_as_an_error(fast, monkeypatch) -> None:
    server, caller = fast

    def broken(*args: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(server.api, "_query", broken)
    response = caller.post("sales_out", WEEK)
    assert response.status_code == 500 and len(response.content) < 100
    stats = caller.admin("stats")[ENDPOINTS["sales_out"].path]
    assert stats["calls"] == 1 and stats["errors"] == 1
    monkeypatch.undo()
    assert caller.post("sales_out", WEEK).json()["code"] == 0


def test_bad_content_length_gets_400(fast) -> None:
    server, _ = fast
    host, port = server.httpd.server_address[:2]
    for length in ("abc", "-5"):
        with socket.create_connection((host, port), timeout=3) as conn:
            conn.sendall(f"POST /open/shops/query HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n"
                         .encode())
            assert conn.recv(4096).startswith(b"HTTP/1.1 400"), length


# ---- 2. page drift skips datasets whose records cannot change ------------------------------
def test_page_drift_leaves_unique_codes_alone(fast) -> None:
    _, caller = fast
    caller.admin("faults", {"page_drift": 1.0})
    rows = caller.data("unique_code", UNIQUE_WEEK | {"page_size": 10})
    assert len(rows) == 10


# ---- 3. status filters only where the dataset has a status ---------------------------------
def test_status_filter_is_ignored_where_there_is_no_status(fast) -> None:
    _, caller = fast
    caller.admin("touch", {"dataset": "sku", "key": "SK000001"})  # a touched SKU's status was looked up
    for dataset, window in (("sku", TO_NOW), ("inventory", WEEK), ("unique_code", UNIQUE_WEEK)):
        plain = caller.post(dataset, window | {"page_size": 50}).json()
        filtered = caller.post(dataset, window | {"page_size": 50, "status": "Confirmed"}).json()
        assert filtered == plain and plain["code"] == 0 and plain["data"], dataset


# ---- 4-6. cursor mode ----------------------------------------------------------------------
def test_cursor_has_next_counts_rows_after_touches_moved_them(fast) -> None:
    server, caller = fast
    merchant, size = server.merchant, 5
    day_end = day_start_ms(bj_day(parse_bj("2026-11-10 12:00:00")) + 1)
    keys = merchant.window("sales_out", day_end - 3_600_000, day_end - 1, NOW_MS)
    ts = sorted(version_ts(merchant.modified("sales_out", int(k), NOW_MS), int(k)) for k in keys)
    start_ts = ts[-(size + 1)]  # exactly one page and one row left before the day ends
    victim = next(int(k) for k in keys
                  if version_ts(merchant.modified("sales_out", int(k), NOW_MS), int(k)) == start_ts)
    caller.admin("touch", {"dataset": "sales_out", "key": victim})  # moves to now, days later
    data = caller.data("sales_out", {"start_ts": start_ts, "page_size": size})
    rows = data["datas"]
    assert data["has_next"] and len(rows) == size and victim not in {r["io_id"] for r in rows}
    assert [r["ts"] for r in rows] == sorted(r["ts"] for r in rows) and rows[0]["ts"] > start_ts


def test_cursor_reports_no_totals(fast) -> None:
    _, caller = fast
    start_ts = caller.data("sales_out", WEEK | {"page_size": 1})["datas"][0]["ts"]
    for biz in ({"start_ts": start_ts}, {"start_ts": start_ts, "is_get_total": "true"}):
        data = caller.data("sales_out", biz | {"page_size": 20})
        assert data["data_count"] == 0 and data["page_count"] == 0 and data["has_next"]
    assert caller.data("sales_out", WEEK)["data_count"] > 0  # window mode still counts


def test_cursor_never_returns_rows_before_start_ts(fast) -> None:
    _, caller = fast
    key = next(r["io_id"] for r in caller.data("sales_out", WEEK | {"page_size": 50})["datas"]
               if r["io_id"] % 1000 < 999)
    caller.admin("touch", {"dataset": "sales_out", "key": key})  # ts = now * 1000 + key % 1000
    start_ts = NOW_MS * 1000 + 999  # the same millisecond as the touch, a later ts
    rows = caller.data("sales_out", {"start_ts": start_ts, "page_size": 50})["datas"]
    assert all(r["ts"] >= start_ts for r in rows)


# ---- 7-9. the merchant's caches and touches -------------------------------------------------
def test_window_in_the_future_fills_once_the_clock_gets_there(fast) -> None:
    _, caller = fast
    future = {"modified_begin": "2026-12-10 00:00:00", "modified_end": "2026-12-10 23:59:59"}
    assert caller.data("sales_out", future)["data_count"] == 0
    caller.admin("clock", {"pin": "2026-12-10 12:00:00"})
    assert caller.data("sales_out", future)["data_count"] > 0


def test_window_reaching_past_today_is_cached_at_most_until_tomorrow() -> None:
    late = parse_bj("2026-11-20 23:59:59")
    merchant = Merchant(SandboxConfig(orders_per_hour=20.0), SimClock())
    begin, end = parse_bj("2026-11-20 00:00:00"), parse_bj("2026-11-21 23:59:59")
    merchant.window("sales_out", begin, end, late)
    until = merchant._queries[("sales_out", begin, end, False, None)][1]
    assert until <= day_start_ms(bj_day(late) + 1)  # tomorrow's orders start arriving at midnight


def test_window_validity_is_its_own_not_a_later_callers(monkeypatch) -> None:
    config = SandboxConfig(orders_per_hour=200.0)
    merchant = Merchant(config, SimClock())
    begin, end = parse_bj("2026-11-19 00:00:00"), parse_bj("2026-11-20 23:59:59")
    real_state = merchant._state

    def racing_state(dataset: str, scope: int | None, now: int):
        answer = real_state(dataset, scope, now)
        real_state(dataset, scope, now + 86_400_000)  # another thread serves a later moment meanwhile
        return answer

    monkeypatch.setattr(merchant, "_state", racing_state)
    merchant.window("sales_out", begin, end, NOW_MS)
    monkeypatch.undo()
    an_hour_later = NOW_MS + 3_600_000
    fresh = Merchant(config, SimClock()).window("sales_out", begin, end, an_hour_later)
    assert np.array_equal(merchant.window("sales_out", begin, end, an_hour_later), fresh)


class LockedReadsOnly(dict):
    """A touch table that fails any whole-table read made without the merchant's lock."""

    def __init__(self, lock) -> None:
        super().__init__()
        self.lock = lock

    def _check(self) -> None:
        assert self.lock._is_owned(), "touches read while touch() may be writing"

    def items(self):
        self._check()
        return super().items()

    def keys(self):
        self._check()
        return super().keys()

    def __iter__(self):
        self._check()
        return super().__iter__()

    def copy(self):
        self._check()
        return super().copy()


def test_touches_are_read_under_the_lock() -> None:
    merchant = Merchant(SandboxConfig(orders_per_hour=200.0), SimClock())
    merchant._touches["sales_out"] = LockedReadsOnly(merchant._lock)
    begin, end = parse_bj("2026-11-19 00:00:00"), NOW_MS
    key = int(merchant.window("sales_out", begin, end, NOW_MS)[0])
    merchant.touch("sales_out", key, NOW_MS)
    assert key in merchant.window("sales_out", begin, end, NOW_MS)
    assert key in merchant.cursor("sales_out", NOW_MS * 1000, NOW_MS, 10)


def test_a_touch_never_moves_a_record_back_in_time(fast) -> None:
    _, caller = fast
    key = first_io_id(caller)
    caller.admin("touch", {"dataset": "sales_out", "key": key})  # at 12:00
    caller.admin("clock", {"pin": "2026-11-20 11:00:00"})
    caller.admin("touch", {"dataset": "sales_out", "key": key})  # a late call with an earlier clock
    caller.admin("clock", {"pin": PINNED})
    row = caller.data("sales_out", {"io_ids": [key]})["datas"][0]
    assert row["modified"][:19] == PINNED


# ---- 11. determinism -------------------------------------------------------------------------
def new_tokens(caller) -> dict:
    config = caller.server.config
    form = {"app_key": config.app_key, "timestamp": str(int(time.time())), "charset": "utf-8",
            "grant_type": "authorization_code", "code": "abc123"}
    form["sign"] = sign(form, config.app_secret)
    return caller.http.post(TOKEN_PATHS["access"], data=form).json()["data"]


def test_same_seed_issues_the_same_tokens(make_sandbox) -> None:
    _, one = make_sandbox()
    _, two = make_sandbox()
    first, second = new_tokens(one), new_tokens(two)
    assert first == second and first["access_token"] != first["refresh_token"]
    assert len(first["access_token"]) == 32 and new_tokens(one) != first


def test_page_drift_picks_its_row_from_the_request_not_the_shared_generator(make_sandbox) -> None:
    # The second sandbox draws from the shared generator on every call (a fault that never fires).
    _, quiet = make_sandbox(faults={"page_drift": 1.0}, per_second=10_000, per_minute=1_000_000)
    _, busy = make_sandbox(faults={"page_drift": 1.0, "malformed_json": 1e-12}, per_second=10_000,
                           per_minute=1_000_000)
    hours = {"modified_begin": "2026-11-18 10:00:00", "modified_end": "2026-11-18 13:00:00"}
    for page in range(1, 6):
        biz = hours | {"page_index": page, "page_size": 50}
        assert quiet.post("sales_out", biz).content == busy.post("sales_out", biz).content
    moved = {"modified_begin": PINNED, "modified_end": PINNED}  # drift touches rows at `now`
    assert len(quiet.data("sales_out", moved)["datas"]) >= 4
    assert quiet.post("sales_out", moved).content == busy.post("sales_out", moved).content


# ---- 12. admin and statistics ----------------------------------------------------------------
def test_advancing_the_clock_by_infinity_gets_400(fast) -> None:
    _, caller = fast
    response = caller.http.post("/__sandbox/clock", json={"advance_seconds": "inf"})
    assert response.status_code == 400
    assert caller.admin("clock")["now_ms"] == NOW_MS


def test_unknown_paths_share_one_stats_entry(fast) -> None:
    _, caller = fast
    for i in range(30):
        assert caller.http.post(f"/scan/{i}", data={}).json()["code"] == 140
    stats = caller.admin("stats")
    assert set(stats) == {"unknown"} and stats["unknown"]["calls"] == 30


class GuardedStats(dict):
    """A stats table that fails any whole-table read or clear made without the API's lock."""

    def __init__(self, api) -> None:
        super().__init__()
        self.api = api

    def _check(self) -> None:
        assert self.api._lock.locked(), "stats read while calls may be writing"

    def items(self):
        self._check()
        return super().items()

    def __iter__(self):
        self._check()
        return super().__iter__()

    def clear(self) -> None:
        self._check()
        super().clear()

    def __missing__(self, key: str):
        from qeasy.sandbox.api import CallStats

        self[key] = CallStats()
        return self[key]


def test_stats_are_read_and_cleared_under_the_lock(fast) -> None:
    server, caller = fast
    server.api.stats = GuardedStats(server.api)
    caller.post("shop")
    assert caller.admin("stats")[ENDPOINTS["shop"].path]["calls"] == 1
    assert caller.admin("stats/reset", {}) == {}
    assert json.loads(caller.http.get("/__sandbox/stats").content) == {}


def test_admin_bodies_of_the_wrong_shape_get_400(fast) -> None:
    _, caller = fast
    for body in (b"[1, 2]", b'"text"', b"[" * 100_000, b'{"dataset": "sku", "begin": 5, "end": 6}'):
        response = caller.http.post("/__sandbox/truth", content=body)
        assert response.status_code == 400, body[:20]
