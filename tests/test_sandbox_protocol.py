"""The sandbox speaks the open API: errors, limits, row keys and paging fields, over real HTTP."""

import time

import pytest

from qeasy.datasets import ENDPOINTS

WEEK = {"modified_begin": "2026-11-13 00:00:00", "modified_end": "2026-11-20 00:00:00"}
UNIQUE_WEEK = {"create_time_start": "2026-11-13 00:00:00", "create_time_end": "2026-11-20 00:00:00"}


def window(dataset: str) -> dict:
    return UNIQUE_WEEK if dataset == "unique_code" else WEEK if ENDPOINTS[dataset].window_days else {}


def test_bad_sign_gets_code_10(fast) -> None:
    _, caller = fast
    assert caller.post("sales_out", WEEK, sign="0" * 32).json()["code"] == 10


def test_bad_token_gets_code_100(fast) -> None:
    _, caller = fast
    from qeasy.erp.request import signed_form

    config = caller.server.config
    form = signed_form(config.app_key, config.app_secret, "not-a-token", WEEK)
    assert caller.http.post(ENDPOINTS["sales_out"].path, data=form).json()["code"] == 100


def test_expired_token_gets_100_and_refresh_gives_a_working_one(fast) -> None:
    _, caller = fast
    caller.admin("tokens/expire", {})
    assert caller.post("shop").json()["code"] == 100
    from qeasy.erp.signing import sign

    config = caller.server.config
    form = {"app_key": config.app_key, "timestamp": str(int(time.time())), "charset": "utf-8",
            "grant_type": "refresh_token", "refresh_token": config.refresh_token, "scope": "all"}
    form["sign"] = sign(form, config.app_secret)
    token = caller.http.post("/openWeb/auth/refreshToken", data=form).json()["data"]["access_token"]
    from qeasy.erp.request import signed_form

    answer = caller.http.post(ENDPOINTS["shop"].path,
                              data=signed_form(config.app_key, config.app_secret, token, {})).json()
    assert answer["code"] == 0


def test_ten_day_window_gets_140(fast) -> None:
    _, caller = fast
    body = caller.post("sales_out", {"modified_begin": "2026-11-01 00:00:00",
                                     "modified_end": "2026-11-11 00:00:00"}).json()
    assert body["code"] == 140


def test_exactly_seven_days_is_allowed_and_thirty_for_unique_codes(fast) -> None:
    _, caller = fast
    assert caller.post("sales_out", WEEK).json()["code"] == 0
    month = {"create_time_start": "2026-10-21 00:00:00", "create_time_end": "2026-11-20 00:00:00"}
    assert caller.post("unique_code", month).json()["code"] == 0
    month["create_time_start"] = "2026-10-20 00:00:00"
    assert caller.post("unique_code", month).json()["code"] == 140


@pytest.mark.parametrize("dataset", sorted(ENDPOINTS))
def test_page_size_above_the_maximum_gets_140(fast, dataset: str) -> None:
    _, caller = fast
    endpoint = ENDPOINTS[dataset]
    biz = window(dataset)
    assert caller.post(dataset, biz | {"page_size": endpoint.page_size_max}).json()["code"] == 0
    assert caller.post(dataset, biz | {"page_size": endpoint.page_size_max + 1}).json()["code"] == 140


def test_other_error_codes(fast) -> None:
    _, caller = fast
    assert caller.post("sales_out", {}).json()["code"] == 130  # no window, no cursor, no ids
    stale = str(int(time.time()) - 3600)
    from qeasy.erp.request import signed_form

    config = caller.server.config
    form = signed_form(config.app_key, config.app_secret, config.access_token, WEEK, timestamp=int(stale))
    assert caller.http.post(ENDPOINTS["sales_out"].path, data=form).json()["code"] == 180
    caller.admin("permissions", {"denied": ["after_sale"]})
    assert caller.post("after_sale", WEEK).json()["code"] == 190
    assert caller.post("sales_out", WEEK).json()["code"] == 0


def test_sixth_call_in_one_second_gets_199(make_sandbox) -> None:
    _, caller = make_sandbox(per_second=5, per_minute=100)
    codes = [caller.post("shop").json()["code"] for _ in range(6)]
    assert codes[:5] == [0] * 5 and codes[5] == 199
    time.sleep(1.05)
    assert caller.post("shop").json()["code"] == 0  # the sliding second has passed


def test_hundred_and_first_call_in_one_minute_gets_200(make_sandbox) -> None:
    # The per-second limit is raised so the minute's budget is reached in well under a minute.
    _, caller = make_sandbox(per_second=1000, per_minute=100)
    codes = [caller.post("shop").json()["code"] for _ in range(101)]
    assert codes[:100] == [0] * 100 and codes[100] == 200
    stats = caller.admin("stats")["/open/shops/query"]
    assert stats["calls"] == 101 and stats["throttled"] == 1


@pytest.mark.parametrize("dataset", sorted(ENDPOINTS))
def test_row_keys_and_paging_fields(fast, dataset: str) -> None:
    _, caller = fast
    endpoint = ENDPOINTS[dataset]
    data = caller.data(dataset, window(dataset))
    if endpoint.rows_key is None:  # unique codes: `data` is the array itself, no has_next
        assert isinstance(data, list) and data
        assert set(data[0]) >= {"io_id", "o_id", "inout_type", "sku_id", "sku_sn", "cost_price",
                                "cost_amount", "create_time", "modified_time"}
        assert isinstance(data[0]["o_id"], str) and isinstance(data[0]["cost_price"], str)
        return
    rows = data[endpoint.rows_key]
    assert rows and data["page_index"] == 1 and data["page_size"] == endpoint.page_size_default
    assert isinstance(data["has_next"], bool)
    assert ("data_count" in data) == endpoint.has_counts
    assert all(set(endpoint.primary_key) <= set(row) for row in rows)
    if endpoint.version_field == "ts":
        assert all(isinstance(row["ts"], int) for row in rows)


def test_paging_walks_a_window_to_its_end(fast) -> None:
    _, caller = fast
    first = caller.data("after_sale", WEEK | {"page_size": 50})
    pages = first["page_count"]
    assert pages >= 2 and first["has_next"]
    last = caller.data("after_sale", WEEK | {"page_size": 50, "page_index": pages})
    assert not last["has_next"] and 0 < len(last["datas"]) <= 51
    beyond = caller.data("after_sale", WEEK | {"page_size": 50, "page_index": pages + 1})
    assert beyond["datas"] == [] and not beyond["has_next"]
    quiet = caller.data("after_sale", WEEK | {"page_size": 50, "is_get_total": "false"})
    assert quiet["data_count"] == 0 and quiet["page_count"] == 0 and quiet["has_next"]


def test_rows_come_sorted_by_modified_then_id(fast) -> None:
    _, caller = fast
    rows = caller.data("sales_out", WEEK | {"page_size": 50})["datas"]
    keys = [(row["modified"][:19], row["io_id"]) for row in rows]
    assert keys == sorted(keys)


def test_numbers_as_strings_are_accepted_in_biz(fast) -> None:
    _, caller = fast
    data = caller.data("sales_out", WEEK | {"page_index": "2", "page_size": "50"})
    assert data["page_index"] == 2 and data["page_size"] == 50


def test_cursor_mode_returns_rows_at_or_after_start_ts_in_ts_order(fast) -> None:
    _, caller = fast
    first = caller.data("sales_out", WEEK | {"page_size": 50})["datas"]
    start = first[10]["ts"]
    rows = caller.data("sales_out", {"start_ts": start, "page_size": 50, "is_get_total": "false"})["datas"]
    assert rows[0]["ts"] == start  # start_ts is inclusive
    assert [r["ts"] for r in rows] == sorted(r["ts"] for r in rows)
    inventory = caller.data("inventory", {"ts": 0, "page_size": 100})["inventorys"]
    assert [r["ts"] for r in inventory] == sorted(r["ts"] for r in inventory)


def test_id_lookups_find_hidden_skus(make_sandbox) -> None:
    _, caller = make_sandbox(dirty={"hidden_sku": 0.2}, per_second=10_000, per_minute=1_000_000)
    merchant = caller.server.merchant
    hidden = [merchant.catalog.sku_id(i) for i in range(merchant.catalog.size) if merchant.catalog.hidden[i]]
    listed = set()
    for start in range(0, 50 * 7, 7):  # every edit window over the SKUs' whole history
        begin = f"{_day(start + 7)} 00:00:00"
        end = f"{_day(start)} 00:00:00"
        page = 1
        while True:
            data = caller.data("sku", {"modified_begin": begin, "modified_end": end,
                                       "page_index": page, "page_size": 50})
            listed |= {row["sku_id"] for row in data["datas"]}
            if not data["has_next"]:
                break
            page += 1
    assert listed and not listed & set(hidden)
    found = caller.data("sku", {"sku_ids": ",".join(hidden[:20])})["datas"]
    assert {row["sku_id"] for row in found} == set(hidden[:20])


def _day(days_back: int) -> str:
    from datetime import date, timedelta

    return str(date(2026, 11, 20) - timedelta(days=days_back))
