"""Hand-made cases pinning each rule of the screens oracle (tests/screens_oracle.py) to screens.md."""

import datetime as dt
import random

import polars as pl
import pytest

from tests.screens_oracle import PROVINCES, _normalise_province, oracle_screens
from tests.warehouse_oracle import oracle_ads

D0, D1, D2 = dt.date(2026, 11, 9), dt.date(2026, 11, 10), dt.date(2026, 11, 11)
AFTER_D1 = dt.datetime(2026, 11, 12, 8, 0)  # every hour of D1 (and D2) complete


def out(io_id, io_date="2026-11-10 09:00:00", status="Confirmed", shop_id=7, items=None, **header):
    base = {"io_id": io_id, "o_id": io_id, "shop_id": shop_id, "status": status, "io_date": io_date,
            "created": io_date, "modified": io_date, "pay_amount": "10", "paid_amount": "10",
            "free_amount": "0", "freight": 0, "receiver_state": "浙江省", "receiver_city": "杭州市",
            "pay_date": io_date}
    return base | header | {"items": items if items is not None else [line("A", 1, 10)]}


def line(sku_id, qty, amount, **extra):
    return {"ioi_id": 1, "sku_id": sku_id, "qty": qty, "sale_price": amount, "sale_amount": amount} | extra


def after(as_id, refund=5, confirm_date="2026-11-10 12:00:00", shop_id=7):
    return {"as_id": as_id, "shop_id": shop_id, "status": "Confirmed", "refund": refund,
            "as_date": confirm_date, "created": confirm_date, "modified": confirm_date,
            "confirm_date": confirm_date, "items": [{"asi_id": 1, "sku_id": "A", "qty": 1, "r_qty": 1}]}


def inv(sku_id, qty, min_qty=0, purchase_qty=0, modified="2026-11-09 08:00:00"):
    return {"sku_id": sku_id, "qty": qty, "min_qty": min_qty, "purchase_qty": purchase_qty,
            "modified": modified}


def sku(sku_id, category, modified="2026-11-01 08:00:00"):
    return {"sku_id": sku_id, "category": category, "modified": modified, "name": f"商品{sku_id}"}


def screens(sales=(), refunds=(), inventory=(), skus=(), shops=(), calls=(), days=(D1,), as_of=AFTER_D1,
            **options):
    return oracle_screens(list(sales), list(refunds), list(inventory), list(skus), list(shops), list(calls),
                          list(days), as_of, **options)


def rows(frame: pl.DataFrame, *columns) -> list[tuple]:
    return [tuple(row[c] for c in columns) if columns else tuple(row.values()) for row in frame.to_dicts()]


def test_schemas_even_when_empty():
    result = screens()
    expected = {
        "ads_sales_hourly": {"stat_date": pl.Date, "hour": pl.Int64, "shop_id": pl.Int64,
                             "out_orders": pl.Int64, "out_qty": pl.Int64, "out_amount": pl.Float64},
        "ads_sales_forecast": {"stat_date": pl.Date, "shop_id": pl.Int64, "hour": pl.Int64,
                               "actual_amount": pl.Float64, "cumulative_actual": pl.Float64,
                               "forecast_open": pl.Float64, "forecast_amount": pl.Float64,
                               "cumulative_forecast": pl.Float64},
        "ads_region_daily": {"stat_date": pl.Date, "shop_id": pl.Int64, "province": pl.String,
                             "out_orders": pl.Int64, "out_amount": pl.Float64},
        "ads_finance_daily": {"stat_date": pl.Date, "shop_id": pl.Int64, "gmv": pl.Float64,
                              "discount": pl.Float64, "paid": pl.Float64, "freight": pl.Float64,
                              "platform_fee": pl.Float64, "refund_amount": pl.Float64,
                              "net_received": pl.Float64, "fee_rate_known": pl.Int64},
        "ads_inventory_overview": {"stat_date": pl.Date, "category": pl.String, "skus": pl.Int64,
                                   "end_qty": pl.Int64, "below_min_skus": pl.Int64,
                                   "stockout_skus": pl.Int64},
        "ads_replenishment": {"stat_date": pl.Date, "sku_id": pl.String, "end_qty": pl.Int64,
                              "min_qty": pl.Int64, "purchase_qty": pl.Int64, "below_min": pl.Boolean,
                              "daily_out": pl.Float64, "cover_days": pl.Float64, "suggested_qty": pl.Int64},
        "ads_pipeline_health_hourly": {"stat_hour": pl.Datetime("us"), "dataset": pl.String,
                                       "calls": pl.Int64, "errors": pl.Int64, "throttled": pl.Int64,
                                       "retries": pl.Int64, "rows": pl.Int64, "latency_p95_ms": pl.Float64,
                                       "error_rate": pl.Float64},
    }
    assert {name: dict(frame.schema) for name, frame in result.items()} == expected
    assert all(frame.is_empty() for frame in result.values())


# --- province names ---------------------------------------------------------------------------------

def test_the_34_divisions_map_to_themselves():
    assert len(set(PROVINCES)) == 34
    assert all(_normalise_province(name) == name for name in PROVINCES)


@pytest.mark.parametrize("raw, expected", [
    ("浙江省", "浙江省"), ("浙江", "浙江省"), ("上海", "上海市"), ("重庆", "重庆市"), ("黑龙江", "黑龙江省"),
    ("广西", "广西壮族自治区"), ("内蒙古", "内蒙古自治区"), ("西藏", "西藏自治区"),
    ("宁夏", "宁夏回族自治区"), ("新疆", "新疆维吾尔自治区"), ("香港", "香港特别行政区"),
    ("澳门", "澳门特别行政区"), ("台湾", "台湾省"),
    (" 上海市 ", "上海市"), ("\u3000广西\u3000", "广西壮族自治区"), ("\u00a0台湾\n", "台湾省"),
    ("\t浙江\r\n", "浙江省"), ("\u2003浙江\u202f", "浙江省"),
    ("沪", "沪"), ("粤", "粤"),  # one-character abbreviations are not mapped
    ("", "未知"), (None, "未知"), ("\u3000 \t", "未知"),  # nothing left -> 未知
    ("火星", "火星"), (" 火星\u3000", "火星"), ("广西自治区", "广西自治区"), ("浙江省杭州市", "浙江省杭州市"),
    ("浙 江", "浙 江"),  # inner whitespace is not surrounding whitespace
])
def test_province_normalisation(raw, expected):
    assert _normalise_province(raw) == expected


def test_region_daily():
    sales = [out(1, receiver_state="浙江"), out(2, receiver_state="浙江省 ", items=[line("A", 2, 7.5)]),
             out(3, receiver_state="", items=[line("A", -1, 10)]),  # all lines anomalous: counts, 0 amount
             out(4, receiver_state=None), out(5, receiver_state="沪"),
             out(6, receiver_state="上海", shop_id=8),
             out(7, status="Cancelled", receiver_state="北京"),
             out(8, io_date="2026-11-11 09:00:00", receiver_state="北京")]  # a day not ingested
    assert rows(screens(sales)["ads_region_daily"]) == [
        (D1, 7, "未知", 2, 10.0), (D1, 7, "沪", 1, 10.0), (D1, 7, "浙江省", 2, 17.5),
        (D1, 8, "上海市", 1, 10.0)]


# --- hourly sales -----------------------------------------------------------------------------------

def test_hourly_rows_only_where_out_orders():
    sales = [out(1, io_date="2026-11-10 09:00:00"), out(2, io_date="2026-11-10 09:59:59.999",
                                                        items=[line("A", 2, 3), line("B", 1, 1.5)]),
             out(3, io_date="2026-11-10 10:00:00", items=[line("A", -4, 10)]),  # order counts, lines do not
             out(4, io_date="2026-11-10 11:00:00", status="WaitConfirm"),  # no out order -> no row for 11
             out(5, io_date="2026-11-10 23:30:00", shop_id="8"),
             out(6, io_date="2026-11-11 00:00:00")]  # D2 not ingested
    assert rows(screens(sales)["ads_sales_hourly"]) == [
        (D1, 9, 7, 2, 4, 14.5), (D1, 10, 7, 1, 0, 0.0), (D1, 23, 8, 1, 1, 10.0)]


def test_hourly_sums_match_shop_daily_for_flagged_screen_fields():
    # free_amount / pay_date unparseable: the record is flagged (lines drop out), the order still counts
    sales = [out(1, free_amount="N/A"), out(2, pay_date="0000-00-00 00:00:00"), out(3)]
    result = screens(sales)
    assert rows(result["ads_sales_hourly"]) == [(D1, 9, 7, 3, 1, 10.0)]
    assert rows(result["ads_region_daily"]) == [(D1, 7, "浙江省", 3, 10.0)]


# --- finance ----------------------------------------------------------------------------------------

TMALL = [{"shop_id": 7, "shop_name": "旗舰店", "shop_site": "天猫"}, {"shop_id": 8, "shop_site": "京东"},
         {"shop_id": 9, "shop_site": "拼多多"}]


def finance(sales, refunds=(), commission=None, shops=TMALL):
    return screens(sales, refunds, shops=shops, commission=commission)["ads_finance_daily"]


def test_finance_once_per_out_order_including_all_anomalous_orders():
    sales = [out(1, pay_amount="100.50", free_amount="10.50", paid_amount="90", freight="8",
                 items=[line("A", 1, 50), line("B", 2, 40)]),  # two lines, header counted once
             out(2, pay_amount=20, free_amount=0, paid_amount=20, freight=0, items=[line("A", -1, 20)]),
             out(3, pay_amount="30", free_amount="N/A", paid_amount="25", freight=5),  # unknown discount
             out(4, pay_amount="999", paid_amount="999", status="Cancelled"),
             out(5, pay_amount="1", paid_amount="1", io_date="2026-11-11 10:00:00")]  # D2 not ingested
    [row] = finance(sales, [after(1, refund="12.5")], {"sites": {"天猫": 0.05}}).to_dicts()
    assert row == {"stat_date": D1, "shop_id": 7, "gmv": 150.5, "discount": 10.5, "paid": 135.0,
                   "freight": 13.0, "platform_fee": 6.75, "refund_amount": 12.5,
                   "net_received": pytest.approx(115.75), "fee_rate_known": 1}


def test_finance_row_for_each_shop_daily_row_even_refund_only():
    [row] = finance([], [after(1, refund=30, shop_id=8)], {"sites": {"京东": 0.06}}).to_dicts()
    assert (row["shop_id"], row["gmv"], row["paid"], row["platform_fee"], row["refund_amount"],
            row["net_received"], row["fee_rate_known"]) == (8, 0.0, 0.0, 0.0, 30.0, -30.0, 1)


@pytest.mark.parametrize("paid, rate, fee", [
    ("2.01", 0.5, 1.01),  # 1.005 exactly; float arithmetic would give 1.00
    ("-2.01", 0.5, -1.01),  # half away from zero, not towards +infinity
    ("0.1", 0.05, 0.01), ("1.004", 1, 1.0), ("100", "0.055", 5.5), (33.33, 0.015, 0.5),
])
def test_fee_rounded_to_the_fen_half_away_from_zero(paid, rate, fee):
    [row] = finance([out(1, paid_amount=paid)], commission={"shops": {"7": rate}}).to_dicts()
    assert row["platform_fee"] == fee
    assert row["net_received"] == pytest.approx(float(paid) - fee)


def test_unknown_rate_means_no_fee_and_per_shop_override_wins():
    sales = [out(1, paid_amount="100", shop_id=7), out(2, paid_amount="100", shop_id=8),
             out(3, paid_amount="100", shop_id=9),
             out(4, paid_amount="100", shop_id=10)]  # 10: no shop record
    commission = {"sites": {"天猫": 0.05, "京东": 0.06, "淘宝": 0.5}, "shops": {"8": 0.02, 10: 0.1}}
    got = rows(finance(sales, commission=commission),
               "shop_id", "platform_fee", "net_received", "fee_rate_known")
    assert got == [(7, 5.0, 95.0, 1), (8, 2.0, 98.0, 1), (9, 0.0, 100.0, 0), (10, 10.0, 90.0, 1)]
    no_config = rows(finance(sales), "platform_fee", "fee_rate_known")
    assert no_config == [(0.0, 0), (0.0, 0), (0.0, 0), (0.0, 0)]


def test_site_matched_exactly_as_the_erp_writes_it():
    shops = [{"shop_id": 7, "shop_site": "淘宝天猫"}]
    assert rows(finance([out(1)], commission={"sites": {"淘宝": 0.05}}, shops=shops),
                "fee_rate_known") == [(0,)]
    assert rows(finance([out(1)], commission={"sites": {"淘宝天猫": 0.05}}, shops=shops),
                "platform_fee", "fee_rate_known") == [(0.5, 1)]


# --- inventory --------------------------------------------------------------------------------------

def test_inventory_overview_by_category():
    inventory = [inv("A", 5, min_qty=10), inv("B", 0), inv("C", -2, min_qty=1), inv("D", 7), inv("E", 3),
                 inv("F", 4, modified="2026-11-11 08:00:00")]  # no row on D1
    skus = [sku("A", "服装"), sku("A", "鞋靴", modified="2026-11-05 00:00:00"),  # latest version wins
            sku("B", "鞋靴"), sku("C", "服装", modified="2026-11-02 00:00:00"),
            sku("C", "", modified="2026-11-03"),
            sku("D", None)]  # C's latest version has an unparseable modified; D empty; E unknown
    overview = screens(inventory=inventory, skus=skus)["ads_inventory_overview"]
    assert rows(overview) == [(D1, "服装", 1, 0, 1, 1), (D1, "未分类", 2, 10, 0, 0), (D1, "鞋靴", 2, 5, 1, 1)]


def test_replenishment_exact_ceil():
    # 10 out in the 7 days: daily_out 10/7, x (7 + 3) days = 14.29 -> 15
    sales = [out(1, io_date="2026-11-04 10:00:00", items=[line("A", 10, 1)])]
    [row] = screens(sales, inventory=[inv("A", 2, min_qty=1, purchase_qty=3)])["ads_replenishment"].to_dicts()
    assert row == {"stat_date": D1, "sku_id": "A", "end_qty": 2, "min_qty": 1, "purchase_qty": 3,
                   "below_min": False, "daily_out": pytest.approx(10 / 7), "cover_days": pytest.approx(1.4),
                   "suggested_qty": 15 + 1 - 2 - 3}
    # 29/7 x 7 is 29 exactly (float arithmetic gives 29.000000000000004 -> 30)
    sales = [out(1, items=[line("A", 29, 1)])]
    result = screens(sales, inventory=[inv("A", 0)], lead_days=4, safety_days=3)["ads_replenishment"]
    assert rows(result, "suggested_qty") == [(29,)]


def test_replenishment_rows_only_when_suggested_or_below_min():
    sales = [out(1, items=[line(s, 7, 1) for s in "ABCDE"])]  # daily_out 1 -> 10 over lead + safety
    inventory = [inv("A", 10),  # covered exactly: 0, not below min -> no row
                 inv("B", 4, purchase_qty=6),  # covered by what is in transit -> no row
                 inv("C", 3, min_qty=5, purchase_qty=20),  # below min, suggestion 0 -> row
                 inv("D", -5, min_qty=2, purchase_qty=1),  # oversold -> 0: 10 + 2 - 0 - 1 = 11
                 inv("E", 9, min_qty=1, modified="2026-11-08 00:00:00"),
                 inv("E", 8, min_qty=1, purchase_qty=1, modified="2026-11-10 20:00:00"),  # the version used
                 inv("F", 50, min_qty=1, modified="2026-11-11 09:00:00")]  # no version on D1
    result = screens(sales, inventory=inventory)["ads_replenishment"]
    assert rows(result, "sku_id", "end_qty", "min_qty", "purchase_qty", "below_min", "cover_days",
                "suggested_qty") == [("C", 3, 5, 20, True, 3.0, 0), ("D", 0, 2, 1, True, 0.0, 11),
                                     ("E", 8, 1, 1, False, 8.0, 2)]


def test_replenishment_without_sales():
    result = screens(inventory=[inv("A", 0, min_qty=2), inv("B", 0)])["ads_replenishment"]
    assert rows(result, "sku_id", "daily_out", "cover_days", "suggested_qty") == [("A", 0.0, None, 2)]


# --- pipeline health --------------------------------------------------------------------------------

def call(dataset, recorded_at, calls=10, errors=0, throttled=0, retries=0, rows=100, p95=None):
    return {"dataset": dataset, "recorded_at": recorded_at, "calls": calls, "errors": errors,
            "throttled": throttled, "retries": retries, "rows": rows, "latency_p95_ms": p95}


def test_pipeline_health_hourly():
    h9, h10 = dt.datetime(2026, 11, 10, 9), dt.datetime(2026, 11, 10, 10)
    calls = [call("sales_out", h9.replace(minute=1), errors=1, throttled=2, retries=3, p95=120.0),
             call("sales_out", h9.replace(minute=59, second=59), calls=30, errors=3, rows=50, p95=340.5),
             call("sales_out", h9.replace(minute=30), calls=0, rows=0, p95=None),
             call("sales_out", h9.replace(minute=45), calls=0, rows=0, p95=200),  # max is not the last
             call("sales_out", h10, calls=0, rows=0),  # no calls: rate NULL, no p95: NULL
             call("inventory", h9.replace(minute=5), calls=4, errors=1, p95=80)]
    health = screens(calls=calls)["ads_pipeline_health_hourly"]
    assert rows(health) == [(h9, "inventory", 4, 1, 0, 0, 100, 80.0, 0.25),
                            (h9, "sales_out", 40, 4, 2, 3, 150, 340.5, 0.1),
                            (h10, "sales_out", 0, 0, 0, 0, 0, None, None)]


# --- forecast ---------------------------------------------------------------------------------------

HISTORY = [out(1, io_date="2026-11-09 10:15:00", items=[line("A", 1, 60)]),  # D1-1: 60% in hour 10
           out(2, io_date="2026-11-09 20:00:00", items=[line("A", 1, 40)]),  # ... 40% in hour 20
           out(3, io_date="2026-11-07 10:00:00", items=[line("A", 1, 100)]),  # D1-3: 100% in hour 10
           out(4, io_date="2026-11-06 03:00:00", items=[line("A", -1, 100)]),  # out_amount 0: not history
           out(5, io_date="2026-11-02 05:00:00", items=[line("A", 1, 1000)])]  # D1-8: outside the 7 days
# p(10) = (0.6 + 1.0) / 2 = 0.8, p(20) = (0.4 + 0) / 2 = 0.2, m = 100
TODAY = [out(10, io_date="2026-11-10 10:30:00", items=[line("A", 1, 30)]),
         out(11, io_date="2026-11-10 12:10:00", items=[line("A", 1, 5)])]


def forecast(sales, as_of, days=(D1,)):
    return screens(sales, days=days, as_of=as_of)["ads_sales_forecast"]


def by_hour(frame: pl.DataFrame, hour: int) -> tuple:
    [row] = frame.filter(pl.col("hour") == hour).to_dicts()
    return tuple(row[c] for c in ("actual_amount", "cumulative_actual", "forecast_open", "forecast_amount",
                                  "cumulative_forecast"))


def test_forecast_for_a_finished_day():
    frame = forecast(HISTORY + TODAY, AFTER_D1)
    assert rows(frame, "stat_date", "shop_id", "hour") == [(D1, 7, h) for h in range(24)]
    assert frame["forecast_open"].to_list() == pytest.approx([80.0 if h == 10 else 20.0 if h == 20 else 0.0
                                                              for h in range(24)])
    assert frame["forecast_open"].sum() == pytest.approx(100.0)  # p(h) sum to 1: sum of forecast_open = m
    # k = 24: forecast_amount = p(h) x the day's actual total (35) / 1
    assert by_hour(frame, 0) == (0.0, 0.0, 0.0, 0.0, 0.0)
    assert by_hour(frame, 10) == pytest.approx((30.0, 30.0, 80.0, 28.0, 30.0))
    assert by_hour(frame, 12) == pytest.approx((5.0, 35.0, 0.0, 0.0, 35.0))
    assert by_hour(frame, 20) == pytest.approx((0.0, 35.0, 20.0, 7.0, 35.0))
    assert by_hour(frame, 23) == pytest.approx((0.0, 35.0, 0.0, 0.0, 35.0))


def test_forecast_for_a_day_in_progress():
    frame = forecast(HISTORY + TODAY, dt.datetime(2026, 11, 10, 12, 30))  # k = 12: hours 0..11 complete
    assert by_hour(frame, 5) == (0.0, 0.0, 0.0, 0.0, 0.0)  # complete hour without sales: 0, not NULL
    # forecast_amount = p(h) x 30 / (p(0) + ... + p(11) = 0.8)
    assert by_hour(frame, 10) == pytest.approx((30.0, 30.0, 80.0, 30.0, 30.0))
    assert by_hour(frame, 11) == pytest.approx((0.0, 30.0, 0.0, 0.0, 30.0))
    # hour 12 is not complete: its 5 already sold is not actual yet, the forecast (0) counts instead
    assert by_hour(frame, 12) == pytest.approx((None, None, 0.0, 0.0, 30.0))
    assert by_hour(frame, 20) == pytest.approx((None, None, 20.0, 7.5, 37.5))
    assert by_hour(frame, 23) == pytest.approx((None, None, 0.0, 0.0, 37.5))
    assert frame.filter(pl.col("hour") >= 12)["actual_amount"].null_count() == 12


def test_forecast_hour_complete_exactly_at_its_end():
    frame = forecast(HISTORY + TODAY, dt.datetime(2026, 11, 10, 11, 0))  # k = 11: hour 10 just complete
    assert by_hour(frame, 10) == pytest.approx((30.0, 30.0, 80.0, 30.0, 30.0))
    assert by_hour(frame, 11)[:2] == (None, None)


def test_forecast_falls_back_to_forecast_open():
    # k = 5: p(0) + ... + p(4) = 0 -> forecast_open
    frame = forecast(HISTORY + TODAY, dt.datetime(2026, 11, 10, 5, 59))
    assert by_hour(frame, 4) == (0.0, 0.0, 0.0, 0.0, 0.0)
    assert by_hour(frame, 10) == pytest.approx((None, None, 80.0, 80.0, 80.0))
    assert by_hour(frame, 23) == pytest.approx((None, None, 0.0, 0.0, 100.0))
    # k = 0: nothing complete
    frame = forecast(HISTORY + TODAY, dt.datetime(2026, 11, 10, 0, 59))
    assert frame["actual_amount"].null_count() == 24 and frame["cumulative_actual"].null_count() == 24
    assert frame["forecast_amount"].to_list() == frame["forecast_open"].to_list()
    assert frame["cumulative_forecast"][23] == pytest.approx(100.0)


def test_forecast_open_is_p_times_m_with_unequal_days():
    sales = [out(1, io_date="2026-11-09 08:00:00", items=[line("A", 1, 30)]),  # day 1: 30 (all hour 8)
             out(2, io_date="2026-11-08 08:00:00", items=[line("A", 1, 10)]),  # day 2: 10 + 30 = 40
             out(3, io_date="2026-11-08 09:00:00", items=[line("A", 1, 30)])]
    frame = forecast(sales, AFTER_D1)
    # p(8) = (1 + 0.25) / 2 = 0.625, p(9) = 0.375, m = 35 (a mean of shares, not of amounts)
    assert by_hour(frame, 8)[2:4] == pytest.approx((21.875, 0.0))
    assert by_hour(frame, 9)[2:4] == pytest.approx((13.125, 0.0))


def test_no_forecast_rows_without_history():
    sales = HISTORY + TODAY + [out(20, shop_id=8), out(21, io_date="2026-11-02 10:00:00", shop_id=8),
                               out(22, io_date="2026-11-11 10:00:00", shop_id=9)]  # 9: only after D1
    frame = forecast(sales, AFTER_D1, days=(D0, D1, D2))
    # shop 8 sold on Nov 2 (in D0's history) and on D1 (in D2's, not in D1's own); shop 9 only on D2
    assert rows(frame.select("stat_date", "shop_id").unique(maintain_order=True)) == [
        (D0, 7), (D0, 8), (D1, 7), (D2, 7), (D2, 8)]
    assert frame.group_by("stat_date", "shop_id").len()["len"].to_list() == [24] * 5


# --- consistency with oracle_ads --------------------------------------------------------------------

def test_marts_agree_with_the_warehouse_tables():
    rng = random.Random(7)
    dirty = ["N/A", "", None, "1.5", 3]  # paid_amount: flags the record in oracle_ads too
    stamp = "2026-11-{:02d} {:02d}:{:02d}:00"
    sales = [out(i, io_date=stamp.format(rng.choice([9, 10, 11]), rng.randrange(24), rng.randrange(60)),
                 shop_id=rng.choice([7, 8, "9"]), status=rng.choice(["Confirmed"] * 4 + ["Cancelled"]),
                 free_amount=rng.choice(["", None, "2"]), paid_amount=rng.choice(dirty),
                 pay_date=rng.choice(["", None, "2026-11-09 08:00:00"]),
                 receiver_state=rng.choice(["浙江", "广东省", "", "沪"]),
                 items=[line(rng.choice("ABC"), rng.choice([-1, 1, 2, "x"]), rng.choice([1, 2.5, "N/A"]))
                        for _ in range(rng.randrange(3))])
             for i in range(300)]
    refunds = [after(i, shop_id=rng.choice([7, 8, 10])) for i in range(5)]
    inventory = [inv(s, rng.randrange(-2, 20), min_qty=rng.randrange(5), purchase_qty=rng.randrange(5),
                     modified=stamp.format(rng.choice([8, 9, 10, 11]), 10, rng.randrange(60)))
                 for s in "ABCD" for _ in range(3)]
    days = [D0, D1, D2]
    ads = oracle_ads(sales, refunds, inventory, days)
    result = screens(sales, refunds, inventory, days=days)
    shop_daily = ads["ads_shop_daily"].filter(pl.col("out_orders") > 0).select(
        "stat_date", "shop_id", "out_orders", "out_qty", "out_amount")
    for mart in ("ads_sales_hourly", "ads_region_daily"):
        summed = result[mart].group_by("stat_date", "shop_id").agg(
            pl.col("out_orders").sum(), *([pl.col("out_qty").sum()] if mart == "ads_sales_hourly" else []),
            pl.col("out_amount").sum()).sort("stat_date", "shop_id")
        expected = shop_daily.select(summed.columns)
        assert summed.drop("out_amount").equals(expected.drop("out_amount"))
        assert summed["out_amount"].to_list() == pytest.approx(expected["out_amount"].to_list())
    finance = result["ads_finance_daily"]
    assert finance.select("stat_date", "shop_id").equals(ads["ads_shop_daily"].select("stat_date", "shop_id"))
    assert finance["refund_amount"].equals(ads["ads_shop_daily"]["refund_amount"])
    turnover = ads["ads_inventory_turnover"]
    overview = result["ads_inventory_overview"].group_by("stat_date").agg(pl.col("skus", "end_qty").sum())
    assert overview.sort("stat_date").to_dicts() == turnover.group_by("stat_date").agg(
        skus=pl.len().cast(pl.Int64), end_qty=pl.col("end_qty").sum()).sort("stat_date").to_dicts()
    replenishment = result["ads_replenishment"]
    assert not replenishment.is_empty()
    assert replenishment.join(turnover, on=["stat_date", "sku_id"], how="anti").is_empty()
    # the same inventory version as ads_inventory_turnover: its below_min agrees with min_qty shown
    below = replenishment["end_qty"] < replenishment["min_qty"]
    assert replenishment["below_min"].to_list() == below.to_list()
    assert replenishment.join(turnover, on=["stat_date", "sku_id"]).filter(
        (pl.col("end_qty") != pl.col("end_qty_right")) | (pl.col("below_min") != pl.col("below_min_right"))
    ).is_empty()
