"""The simulated merchant: deterministic, alive over simulated time, dirty like a real ERP."""

from qeasy.datasets import ENDPOINTS
from qeasy.erp.request import signed_form
from tests.conftest import FAST
from tests.test_sandbox_protocol import WEEK


def raw_pages(caller, dataset: str, biz: dict, pages: int) -> list[bytes]:
    """Response bodies exactly as sent, signed with one fixed timestamp."""
    config = caller.server.config
    bodies = []
    for page in range(1, pages + 1):
        form = signed_form(config.app_key, config.app_secret, config.access_token,
                           biz | {"page_index": page, "page_size": 50})
        bodies.append(caller.http.post(ENDPOINTS[dataset].path, data=form).content)
    return bodies


def test_same_seed_gives_byte_identical_pages(make_sandbox) -> None:
    _, one = make_sandbox(per_second=10_000, per_minute=1_000_000)
    _, two = make_sandbox(per_second=10_000, per_minute=1_000_000)
    _, other = make_sandbox(seed=7, per_second=10_000, per_minute=1_000_000)
    for dataset in ("sales_out", "after_sale", "inventory", "sku"):
        first = raw_pages(one, dataset, WEEK, 3)
        assert first == raw_pages(two, dataset, WEEK, 3)
        assert first != raw_pages(other, dataset, WEEK, 3)


def test_records_change_between_two_points_of_simulated_time(fast) -> None:
    _, caller = fast
    recent = {"modified_begin": "2026-11-20 10:00:00", "modified_end": "2026-11-20 12:00:00",
              "status": "WaitConfirm", "page_size": 50}
    before = {row["io_id"]: row for row in caller.data("sales_out", recent)["datas"]}
    assert before
    caller.admin("clock", {"advance_seconds": 3 * 86_400})
    after = caller.data("sales_out", {"io_ids": list(before)[:20]})["datas"]
    moved = [row for row in after if row["status"] != before[row["io_id"]]["status"]]
    assert moved, "some orders waiting three days ago are confirmed or cancelled now"
    for row in moved:
        old = before[row["io_id"]]
        assert row["ts"] > old["ts"] and row["modified"] > old["modified"]
        assert row["status"] in {"Confirmed", "Cancelled", "Delete", "OuterConfirming", "Splitting"}


def test_after_sales_arrive_and_get_confirmed_days_later(fast) -> None:
    _, caller = fast
    rows = caller.admin("truth", {"dataset": "after_sale", "begin": "2026-11-13 00:00:00",
                                  "end": "2026-11-20 00:00:00"})["rows"]
    confirmed = [r for r in rows if r["status"] == "Confirmed" and r["confirm_date"]]
    assert confirmed and {r["type"] for r in rows} >= {"普通退货", "仅退款"}
    assert all(r["confirm_date"] >= r["as_date"] for r in confirmed)
    assert any(float(r["refund"]) > 0 for r in confirmed)


def test_dirty_data_appears_at_the_configured_rates(make_sandbox) -> None:
    _, caller = make_sandbox(per_second=10_000, per_minute=1_000_000, orders_per_hour=400.0,
                             dirty={"negative_qty": 0.02, "unknown_status": 0.02, "numeric_strings": 0.1,
                                    "null_fields": 0.05, "bad_values": 0.01, "missing_key": 0.01,
                                    "ghost_sku": 0.01, "ms_times": 0.2})
    rows = caller.admin("truth", {"dataset": "sales_out", "begin": "2026-11-18 00:00:00",
                                  "end": "2026-11-19 00:00:00"})["rows"]
    lines = [item for row in rows for item in row["items"]]
    vocabulary = {"WaitConfirm", "Confirmed", "Delete", "Cancelled", "OuterConfirming"}
    assert any(int(item["qty"]) < 0 for item in lines)
    assert any(row["status"] not in vocabulary for row in rows)
    assert any(isinstance(row["pay_amount"], str) for row in rows)
    assert any(row["shop_name"] is None for row in rows)
    assert any(row["pay_amount"] == "N/A" or row["io_date"].startswith("0000") for row in rows)
    assert any(item["sku_id"] is None for item in lines)
    assert any(item["sku_id"] and item["sku_id"].startswith("SKX") for item in lines)
    assert any("." in row["modified"] for row in rows)


def test_unique_code_rows_carry_bad_inout_types_at_the_configured_rate(make_sandbox) -> None:
    _, caller = make_sandbox(per_second=10_000, per_minute=1_000_000, orders_per_hour=400.0,
                             dirty={"bad_inout_type": 0.05})
    rows = caller.admin("truth", {"dataset": "unique_code", "begin": "2026-11-10 00:00:00",
                                  "end": "2026-11-19 00:00:00"})["rows"]
    kinds = [row["inout_type"] for row in rows]
    assert len(rows) > 200
    assert 99 in kinds and "销售出仓" in kinds  # out of range, and not a number at all
    assert 0.01 < sum(kind not in (3, 4) for kind in kinds) / len(kinds) < 0.15


def test_duplicate_rows_repeat_across_pages(make_sandbox) -> None:
    _, caller = make_sandbox(per_second=10_000, per_minute=1_000_000, dirty={"duplicate_rows": 0.5})
    seen, repeated = set(), 0
    for page in range(1, 11):
        rows = caller.data("sales_out", WEEK | {"page_index": page, "page_size": 50})["datas"]
        repeated += sum(row["io_id"] in seen for row in rows)
        seen |= {row["io_id"] for row in rows}
    assert repeated > 0


def test_stock_moves_to_zero_and_below_minimum(fast) -> None:
    _, caller = fast
    rows = []
    for page in range(1, 21):
        rows += caller.data("inventory", {"ts": 0, "page_index": page, "page_size": 100})["inventorys"]
    assert len(rows) == caller.server.config.skus
    assert any(r["qty"] == 0 for r in rows)
    assert any(0 < r["qty"] < r["min_qty"] for r in rows)


def test_ground_truth_matches_a_full_window_pull(fast) -> None:
    _, caller = fast
    truth = caller.admin("truth", {"dataset": "after_sale", "begin": WEEK["modified_begin"],
                                   "end": WEEK["modified_end"]})
    pulled, page = {}, 1
    while True:
        data = caller.data("after_sale", WEEK | {"page_index": page, "page_size": 50})
        pulled.update({row["as_id"]: row for row in data["datas"]})
        if not data["has_next"]:
            break
        page += 1
    assert truth["count"] == len(pulled) == data["data_count"]
    assert {row["as_id"]: row for row in truth["rows"]} == pulled


def test_ids_stay_unique_per_kind_over_ten_years_of_history(make_sandbox) -> None:
    _, caller = make_sandbox(epoch="2016-11-13", orders_per_hour=20.0, **FAST)
    first_week = {"modified_begin": "2016-11-13 00:00:00", "modified_end": "2016-11-20 00:00:00"}
    ids: dict[str, set[int]] = {"o_id": set(), "io_id": set(), "as_id": set()}
    for window in (first_week, WEEK):
        for dataset, kinds in (("sales_out", ("o_id", "io_id")), ("after_sale", ("as_id",))):
            rows = caller.admin("truth", {"dataset": dataset, "begin": window["modified_begin"],
                                          "end": window["modified_end"]})["rows"]
            assert rows, (dataset, window)
            for kind in kinds:
                ids[kind] |= {row[kind] for row in rows}
    # Each kind keeps to its own range, ten years on, inside int64.
    assert max(ids["o_id"]) < min(ids["io_id"]) and max(ids["io_id"]) < min(ids["as_id"])
    assert max(ids["as_id"]) * 10 + 9 < 2**63  # line ids are the record's id x 10 + line number
    oldest, newest = min(ids["io_id"]), max(ids["io_id"])
    found = caller.data("sales_out", {"io_ids": [str(oldest), str(newest)]})["datas"]
    assert sorted(row["io_id"] for row in found) == [oldest, newest]


def test_sales_out_headers_carry_money_and_receiver_fields_shops_their_platform(make_sandbox) -> None:
    """screens.md's fields: payable = sold lines + freight, discount = list price minus sold price,
    paid <= payable, paid after creation and before confirmation, provinces weighted like Chinese
    e-commerce (full official names, some written loosely, some empty), every shop's platform."""
    from qeasy.sandbox.regions import PROVINCES, short_form

    _, caller = make_sandbox(per_second=10_000, per_minute=1_000_000, orders_per_hour=400.0,
                                  dirty={"numeric_strings": 0, "bad_values": 0, "negative_qty": 0,
                                         "loose_provinces": 0.05})
    rows = caller.admin("truth", {"dataset": "sales_out", "begin": "2026-11-18 00:00:00",
                                  "end": "2026-11-20 00:00:00"})["rows"]
    assert len(rows) > 10_000
    full = {name for name, _, _ in PROVINCES}
    loose, empty, states = 0, 0, {}
    for row in rows:
        sold = sum(line["sale_amount"] for line in row["items"])
        assert abs(row["pay_amount"] - round(sold + row["freight"], 2)) < 0.005, row
        assert 0 <= row["paid_amount"] <= row["pay_amount"] and row["free_amount"] >= 0
        assert row["created"] < row["pay_date"]
        assert row["status"] != "Confirmed" or row["pay_date"] < row["io_date"]
        state = row["receiver_state"]
        if state == "":
            empty += 1
            assert row["receiver_city"] == ""
            continue
        if state not in full:
            loose += 1
            assert state.strip(" \t\u3000") in full | {short_form(name) for name in full}, state
        assert row["receiver_city"]
        states[state] = states.get(state, 0) + 1
    assert any(row["free_amount"] > 0 for row in rows)
    assert 0.03 < loose / len(rows) < 0.07 and 0.005 < empty / len(rows) < 0.02  # 5% loose, 1% null fields
    ranked = sorted((name for name in states if name in full), key=states.get, reverse=True)
    assert ranked[0] == "广东省"
    assert set(ranked[:5]) <= {"广东省", "浙江省", "江苏省", "山东省", "上海市", "北京市"}
    assert len(ranked) >= 30
    shops = caller.data("shop", {"page_size": 100})
    sites = {shop["shop_site"] for shop in shops["datas"]}
    assert {"天猫", "京东", "拼多多", "抖音", "快手", "淘宝"} <= sites


def test_money_and_receiver_fields_stay_valid_with_dirty_data_on(make_sandbox) -> None:
    _, caller = make_sandbox(per_second=10_000, per_minute=1_000_000, orders_per_hour=400.0,
                             dirty={"numeric_strings": 0.2, "null_fields": 0.05, "loose_provinces": 0.2})
    rows = caller.admin("truth", {"dataset": "sales_out", "begin": "2026-11-19 00:00:00",
                                  "end": "2026-11-20 00:00:00"})["rows"]
    strings = [row for row in rows if isinstance(row["free_amount"], str)]
    assert strings and all(float(row["free_amount"]) >= 0 for row in strings)
    for row in rows:
        assert isinstance(row["receiver_state"], str) and isinstance(row["receiver_city"], str)
        assert row["pay_date"] is None or len(row["pay_date"]) >= 19
