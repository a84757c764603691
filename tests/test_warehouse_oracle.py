"""Hand-made cases pinning each rule of the ADS oracle (tests/warehouse_oracle.py) to warehouse.md."""

import datetime as dt

import polars as pl
import pytest

from tests.warehouse_oracle import oracle_ads

D1, D2 = dt.date(2026, 11, 10), dt.date(2026, 11, 11)


def out(io_id, io_date="2026-11-10 09:00:00", status="Confirmed", shop_id=7, items=None, **header):
    base = {"io_id": io_id, "o_id": io_id, "shop_id": shop_id, "status": status, "io_date": io_date,
            "created": io_date, "modified": io_date, "pay_amount": "10", "freight": 0}
    return base | header | {"items": items if items is not None else [line("A", 1, 10)]}


def line(sku_id, qty, amount, **extra):
    return {"ioi_id": 1, "sku_id": sku_id, "qty": qty, "sale_price": amount, "sale_amount": amount} | extra


def after(as_id, refund=5, status="Confirmed", confirm_date="2026-11-10 12:00:00", shop_id=7,
          modified="2026-11-10 13:00:00", items=None, **header):
    base = {"as_id": as_id, "shop_id": shop_id, "status": status, "refund": refund, "as_date": modified,
            "created": modified, "modified": modified, "confirm_date": confirm_date}
    items = items if items is not None else [{"asi_id": 1, "sku_id": "A", "qty": 1, "r_qty": 1}]
    return base | header | {"items": items}


def inv(sku_id, qty, min_qty=0, modified="2026-11-09 08:00:00"):
    return {"sku_id": sku_id, "qty": qty, "min_qty": min_qty, "modified": modified}


def shop(sales=(), refunds=(), days=(D1,)):
    return oracle_ads(list(sales), list(refunds), [], list(days))["ads_shop_daily"]


def rows(frame: pl.DataFrame) -> list[dict]:
    return frame.to_dicts()


def test_schemas_even_when_empty():
    result = oracle_ads([], [], [], [D1])
    assert result["ads_shop_daily"].schema == pl.Schema(
        {"stat_date": pl.Date, "shop_id": pl.Int64, "out_orders": pl.Int64, "out_qty": pl.Int64,
         "out_amount": pl.Float64, "refund_orders": pl.Int64, "refund_amount": pl.Float64,
         "after_sale_rate": pl.Float64})
    assert result["ads_sku_after_sale_7d"].schema == pl.Schema(
        {"stat_date": pl.Date, "sku_id": pl.String, "out_orders_7d": pl.Int64, "refund_orders_7d": pl.Int64,
         "after_sale_rate_7d": pl.Float64})
    assert result["ads_inventory_turnover"].schema == pl.Schema(
        {"stat_date": pl.Date, "sku_id": pl.String, "end_qty": pl.Int64, "out_qty_7d": pl.Int64,
         "turnover_days": pl.Float64, "below_min": pl.Boolean})
    assert all(frame.is_empty() for frame in result.values())


def test_only_confirmed_out_orders_count():
    sales = [out(1), out(2, status="Cancelled"), out(3, status="WaitConfirm"), out(4, status="Delete")]
    assert rows(shop(sales)) == [{"stat_date": D1, "shop_id": 7, "out_orders": 1, "out_qty": 1,
                                  "out_amount": 10.0, "refund_orders": 0, "refund_amount": 0.0,
                                  "after_sale_rate": 0.0}]


def test_numeric_strings_and_milliseconds():
    sales = [out("1", io_date="2026-11-10 23:59:59.517", shop_id="7",
                 items=[line("A", "3", "12.50"), line(101, 2, 1.5, is_gift=1)])]
    [row] = rows(shop(sales))
    assert (row["shop_id"], row["out_orders"], row["out_qty"], row["out_amount"]) == (7, 1, 5, 14.0)


def test_anomalous_lines_drop_out_but_the_order_counts():
    bad_lines = [line("A", -1, 10), line(None, 1, 10), line("", 1, 10), line("A", "N/A", 10),
                 line("A", 1, "N/A"), line("A", 1, 10, sale_price="x")]
    sales = [out(1, items=bad_lines), out(2, freight="N/A"), out(3, modified="0000-00-00 00:00:00"),
             out(4, items=[line("A", 2, 4), line("B", -2, 4)])]
    [row] = rows(shop(sales))
    assert (row["out_orders"], row["out_qty"], row["out_amount"]) == (4, 2, 4.0)
    sku = oracle_ads(sales, [], [], [D1])["ads_sku_after_sale_7d"]
    assert rows(sku) == [{"stat_date": D1, "sku_id": "A", "out_orders_7d": 1, "refund_orders_7d": 0,
                          "after_sale_rate_7d": 0.0}]


def test_unparseable_io_date_is_not_an_out_order():
    assert shop([out(1, io_date="0000-00-00 00:00:00"), out(2, io_date=None)]).is_empty()


def test_refund_orders_and_their_day():
    refunds = [
        after(1, refund="5.5"),  # day of confirm_date
        after(2, confirm_date="", modified="2026-11-10 20:00:00"),  # empty -> day of modified
        after(3, confirm_date=None, modified="2026-11-11 01:00:00"),  # null -> modified, other day
        after(4, confirm_date="0000-00-00 00:00:00"),  # present but unparseable: no day at all
        after(5, refund=0), after(6, refund="N/A"), after(7, status="WaitConfirm"),
        after(8, as_date="bad", items=[]),  # anomalous record still counts in full
        after(9, confirm_date="2026-11-11 00:00:00", modified="2026-11-10 10:00:00"),  # confirm wins
    ]
    daily = shop([], refunds, [D1, D2])
    got = [(r["stat_date"], r["refund_orders"], r["refund_amount"]) for r in rows(daily)]
    assert got == [(D1, 3, 15.5), (D2, 2, 10.0)]


def test_null_rate_when_no_out_orders_and_rate_otherwise():
    [row] = rows(shop([], [after(1)]))
    assert (row["out_orders"], row["refund_orders"], row["after_sale_rate"]) == (0, 1, None)
    row = rows(shop([out(1), out(2), out(3, shop_id=8)], [after(1)]))[0]
    assert (row["shop_id"], row["after_sale_rate"]) == (7, 0.5)


def test_rows_only_for_ingested_days():
    sales = [out(1, io_date="2026-11-09 10:00:00"), out(2), out(3, io_date="2026-11-11 10:00:00")]
    result = oracle_ads(sales, [], [inv("A", 5)], [D1])
    assert all(frame["stat_date"].to_list() == [D1] for frame in result.values())


def test_seven_day_window_edges():
    sales = [out(1, io_date="2026-11-03 23:59:59"),  # stat_date - 7: outside
             out(2, io_date="2026-11-04 00:00:00"),  # stat_date - 6: inside, before the first ingested day
             out(3, io_date="2026-11-10 23:59:59.999"),  # stat_date: inside
             out(4, io_date="2026-11-11 00:00:00")]  # stat_date + 1: outside
    refunds = [after(1, confirm_date="2026-11-04 00:00:00"), after(2, confirm_date="2026-11-03 10:00:00"),
               after(3, items=[{"asi_id": 1, "sku_id": "A", "qty": -1}]),  # anomalous line: no attribution
               after(4, payment="N/A")]  # anomalous record: counts per shop, not per SKU
    result = oracle_ads(sales, refunds, [inv("A", 5)], [D1])
    assert rows(result["ads_sku_after_sale_7d"]) == [{"stat_date": D1, "sku_id": "A", "out_orders_7d": 2,
                                                      "refund_orders_7d": 1, "after_sale_rate_7d": 0.5}]
    assert rows(result["ads_shop_daily"])[0]["refund_orders"] == 2
    [turn] = rows(result["ads_inventory_turnover"])
    assert (turn["out_qty_7d"], turn["turnover_days"]) == (2, pytest.approx(17.5))


def test_sku_row_with_refunds_only_has_null_rate():
    result = oracle_ads([], [after(1, items=[{"asi_id": 1, "sku_id": 42, "qty": 1}])], [], [D1])
    assert rows(result["ads_sku_after_sale_7d"]) == [{"stat_date": D1, "sku_id": "42", "out_orders_7d": 0,
                                                      "refund_orders_7d": 1, "after_sale_rate_7d": None}]


def test_inventory_turnover():
    inventory = [inv("A", -3, min_qty=1),  # oversold -> 0, below min
                 inv("B", "4", min_qty="4", modified="2026-11-10 23:59:59.500"),  # appears on D1
                 inv("C", 9, modified="2026-11-11 00:00:00"),  # only from D2
                 inv("D", "N/A"), inv("E", 1, modified="0000-00-00 00:00:00")]  # no rows
    sales = [out(1, items=[line("B", 2, 1)]), out(2, io_date="2026-11-11 08:00:00", items=[line("A", 7, 1)])]
    turnover = oracle_ads(sales, [], inventory, [D1, D2])["ads_inventory_turnover"]
    got = [tuple(r.values()) for r in rows(turnover)]
    assert got == [
        (D1, "A", 0, 0, None, True), (D1, "B", 4, 2, 14.0, False),
        (D2, "A", 0, 7, 0.0, True), (D2, "B", 4, 2, 14.0, False), (D2, "C", 9, 0, None, False)]


def test_unknown_statuses_are_anomalies_not_orders():
    sales = [out(1, status="Shipped"), out(2, status=None)]
    refunds = [after(1, status="Refund"), after(2, status="")]
    result = oracle_ads(sales, refunds, [], [D1])
    assert all(frame.is_empty() for frame in result.values())
