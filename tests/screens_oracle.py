"""Independent oracle for the seven screen marts of ../shared/spec/screens.md, written from the spec alone.

It builds on tests/warehouse_oracle.py (warehouse.md's ADS tables and its parsing and anomaly rules) and
takes the same inputs: the latest version of every record exactly as the API serves them (dicts).
Readings of screens.md that its text leaves open are marked "reading:" in comments.
"""

import datetime as dt
import math
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction

import polars as pl

from tests.warehouse_oracle import SALE, _good_lines, _num, _present, _record_bad, _shop, _time, oracle_ads

# reading: screens.md adds `free_amount` (a number) and `pay_date` (a time) to the sales-out header; by
# warehouse.md ("unparseable numbers or times ... flagged") and rule 1 of warehouse_oracle, an unparseable
# one flags the record like an unparseable pay_amount/paid_amount/freight does: the order still counts,
# its lines drop out. receiver_state/receiver_city are free text and never flag anything.
SALE_SCREENS = SALE | {"nums": (*SALE["nums"], "free_amount"), "times": (*SALE["times"], "pay_date")}
MONEY = ("pay_amount", "free_amount", "paid_amount", "freight")

UNKNOWN_PROVINCE = "未知"
UNCATEGORISED = "未分类"
# The 34 provincial-level divisions by their official full names.
PROVINCES = (
    "北京市", "天津市", "上海市", "重庆市",
    "河北省", "山西省", "辽宁省", "吉林省", "黑龙江省", "江苏省", "浙江省", "安徽省", "福建省", "江西省",
    "山东省", "河南省", "湖北省", "湖南省", "广东省", "海南省", "四川省", "贵州省", "云南省", "陕西省",
    "甘肃省", "青海省", "台湾省",
    "内蒙古自治区", "广西壮族自治区", "西藏自治区", "宁夏回族自治区", "新疆维吾尔自治区",
    "香港特别行政区", "澳门特别行政区",
)
_SUFFIXES = ("维吾尔自治区", "壮族自治区", "回族自治区", "特别行政区", "自治区", "省", "市")  # longest first


def _short_form(full: str) -> str:
    return next(full[: -len(suffix)] for suffix in _SUFFIXES if full.endswith(suffix))


SHORT_FORMS = {_short_form(full): full for full in PROVINCES}
assert len(PROVINCES) == 34 and len(SHORT_FORMS) == 34


def _normalise_province(value) -> str:
    """receiver_state -> the name a map uses (screens.md, "Province names")."""
    # str.strip() removes every character with str.isspace(): all Unicode Zs spaces (U+3000 full-width,
    # U+00A0, U+2000..U+200A, ...) plus tab/newline-like controls; zero-width characters (Cf) are not
    # spaces and stay. reading: a value that is neither a full nor a short name stays as written after
    # the whitespace removal (the removal applies to every value).
    text = "" if value is None else str(value).strip()
    if not text:
        return UNKNOWN_PROVINCE
    return SHORT_FORMS.get(text, text)


def _money(value) -> Decimal | None:
    """A money value as an exact decimal (as written); None when empty or unparseable (never NaN/inf)."""
    if _num(value) is None:
        return None
    if isinstance(value, str):
        try:
            return Decimal(value.strip())
        except InvalidOperation:  # float() accepts a few spellings Decimal does not
            return Decimal(repr(float(value)))
    return Decimal(value) if isinstance(value, int) else Decimal(repr(float(value)))


def _qty(value) -> int | None:
    # reading: quantities are whole numbers in the ERP; a fractional one is truncated like end_qty is in
    # warehouse_oracle; empty or unparseable -> NULL (and NULL propagates into suggested_qty).
    number = _num(value)
    return None if number is None else int(number)


def _int(value) -> int:  # ops_api_calls counters: NULL counts as nothing
    number = _num(value)
    return 0 if number is None else int(number)


def _out_orders(sales_out: list[dict]) -> list[dict]:
    """One dict per out order (warehouse.md: latest status Confirmed, its day the day of io_date)."""
    orders = []
    for rec in sales_out:
        io_date = _time(rec.get("io_date"))
        if rec.get("status") != "Confirmed" or io_date is None:
            continue
        lines = _good_lines(rec, SALE_SCREENS)
        qtys = [q for q in (_num(line.get("qty")) for line in lines) if q is not None]
        amounts = [a for a in (_num(line.get("sale_amount")) for line in lines) if a is not None]
        orders.append({"io": str(rec.get("io_id")), "day": io_date.date(), "hour": io_date.hour,
                       "shop_id": _shop(rec), "qty": sum(qtys), "amount": sum(amounts),
                       "exact_amount": sum((Fraction(a) for a in amounts), Fraction(0)),
                       "province": _normalise_province(rec.get("receiver_state")),
                       **{field: _money(rec.get(field)) for field in MONEY}})
    return orders


def _for_oracle_ads(sales_out: list[dict]) -> list[dict]:
    """The same orders, with the lines removed of records that only the screens' extra header fields flag,
    so that oracle_ads (which knows warehouse.md's header fields only) applies the same anomaly rule."""
    return [rec | {"items": []} if _record_bad(rec, SALE_SCREENS) and not _record_bad(rec, SALE) else rec
            for rec in sales_out]


def _frame(rows: list[dict], schema: dict, grain: list[str]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=schema).sort(grain, nulls_last=False, maintain_order=True)


def _sales_hourly(orders: list[dict], stat_days: set[dt.date]) -> pl.DataFrame:
    groups: dict[tuple, list] = {}
    for order in orders:
        if order["day"] in stat_days:
            group = groups.setdefault((order["day"], order["hour"], order["shop_id"]), [set(), 0.0, 0.0])
            group[0].add(order["io"])
            group[1] += order["qty"]
            group[2] += order["amount"]
    rows = [{"stat_date": d, "hour": h, "shop_id": s, "out_orders": len(ios), "out_qty": int(qty),
             "out_amount": amount} for (d, h, s), (ios, qty, amount) in groups.items() if ios]
    schema = {"stat_date": pl.Date, "hour": pl.Int64, "shop_id": pl.Int64, "out_orders": pl.Int64,
              "out_qty": pl.Int64, "out_amount": pl.Float64}
    return _frame(rows, schema, ["stat_date", "hour", "shop_id"])


def _region_daily(orders: list[dict], stat_days: set[dt.date]) -> pl.DataFrame:
    groups: dict[tuple, list] = {}
    for order in orders:
        if order["day"] in stat_days:
            group = groups.setdefault((order["day"], order["shop_id"], order["province"]), [set(), 0.0])
            group[0].add(order["io"])
            group[1] += order["amount"]
    rows = [{"stat_date": d, "shop_id": s, "province": p, "out_orders": len(ios), "out_amount": amount}
            for (d, s, p), (ios, amount) in groups.items() if ios]
    schema = {"stat_date": pl.Date, "shop_id": pl.Int64, "province": pl.String, "out_orders": pl.Int64,
              "out_amount": pl.Float64}
    return _frame(rows, schema, ["stat_date", "shop_id", "province"])


def _rates(shops: list[dict], commission: dict | None) -> dict:
    """shop_id -> configured commission rate (Decimal); shops without one are absent."""
    if not commission:
        return {}
    sites = {}
    for rec in shops:  # reading: shops carry no version field; a later record of a shop_id wins
        shop_id = _shop(rec)
        if shop_id is not None:
            sites[shop_id] = rec.get("shop_site")
    site_rates = commission.get("sites") or {}
    rates = {shop_id: site_rates.get(site) for shop_id, site in sites.items() if site in site_rates}
    for key, rate in (commission.get("shops") or {}).items():  # JSON keys are strings: "7" is shop 7
        number = _num(key)
        if number is not None:
            rates[int(number)] = rate  # a per-shop override wins over the site's rate
    # reading: a rate that is NULL or not a number is no configured rate (fee_rate_known 0).
    return {shop_id: _money(rate) for shop_id, rate in rates.items() if _money(rate) is not None}


def _finance_daily(orders: list[dict], shop_daily: pl.DataFrame, rates: dict) -> pl.DataFrame:
    # reading: each header money field is summed once per out order over the values that parse; an empty
    # or unparseable value (the record is flagged, see SALE_SCREENS) adds nothing, so a shop-day whose
    # values are all unknown sums to 0 rather than NULL (warehouse.md: "never a silent drop" is met by the
    # quarantine; the metric counts what is known).
    sums: dict[tuple, dict] = {}
    for order in orders:
        total = sums.setdefault((order["day"], order["shop_id"]), dict.fromkeys(MONEY, Decimal(0)))
        for field in MONEY:
            if order[field] is not None:
                total[field] += order[field]
    rows = []
    for day_row in shop_daily.iter_rows(named=True):
        key = (day_row["stat_date"], day_row["shop_id"])
        total = sums.get(key, dict.fromkeys(MONEY, Decimal(0)))
        rate = rates.get(day_row["shop_id"])
        fee = Decimal(0) if rate is None else (total["paid_amount"] * rate).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_UP)  # ROUND_HALF_UP is half away from zero
        refund = day_row["refund_amount"] or 0.0
        rows.append({"stat_date": key[0], "shop_id": key[1], "gmv": float(total["pay_amount"]),
                     "discount": float(total["free_amount"]), "paid": float(total["paid_amount"]),
                     "freight": float(total["freight"]), "platform_fee": float(fee),
                     "refund_amount": day_row["refund_amount"],
                     "net_received": float(total["paid_amount"] - fee) - refund,
                     "fee_rate_known": int(rate is not None)})
    schema = {"stat_date": pl.Date, "shop_id": pl.Int64, "gmv": pl.Float64, "discount": pl.Float64,
              "paid": pl.Float64, "freight": pl.Float64, "platform_fee": pl.Float64,
              "refund_amount": pl.Float64, "net_received": pl.Float64, "fee_rate_known": pl.Int64}
    return _frame(rows, schema, ["stat_date", "shop_id"])


def _categories(skus: list[dict]) -> dict[str, str]:
    """sku_id -> category of its latest SKU version (highest modified; a later record wins a tie)."""
    latest: dict[str, tuple] = {}
    for position, rec in enumerate(skus):
        modified = _time(rec.get("modified"))
        # reading: like an inventory version (rule 6 of warehouse_oracle), a SKU version whose modified
        # does not parse cannot be ordered and is not used.
        if modified is None or not _present(rec.get("sku_id")):
            continue
        sku_id = str(rec["sku_id"])
        if sku_id not in latest or (modified, position) >= latest[sku_id][0]:
            latest[sku_id] = ((modified, position), rec.get("category"))
    return {sku_id: str(category) for sku_id, (_, category) in latest.items() if _present(category)}


def _inventory_overview(turnover: pl.DataFrame, categories: dict[str, str]) -> pl.DataFrame:
    groups: dict[tuple, list] = {}
    for row in turnover.iter_rows(named=True):
        category = categories.get(row["sku_id"], UNCATEGORISED)
        group = groups.setdefault((row["stat_date"], category), [0, 0, 0, 0])
        group[0] += 1
        group[1] += row["end_qty"]
        group[2] += row["below_min"] is True  # below_min NULL (unknown min_qty) is not below min
        group[3] += row["end_qty"] == 0
    rows = [{"stat_date": d, "category": c, "skus": n, "end_qty": qty, "below_min_skus": below,
             "stockout_skus": out} for (d, c), (n, qty, below, out) in groups.items()]
    schema = {"stat_date": pl.Date, "category": pl.String, "skus": pl.Int64, "end_qty": pl.Int64,
              "below_min_skus": pl.Int64, "stockout_skus": pl.Int64}
    return _frame(rows, schema, ["stat_date", "category"])


def _inventory_versions(inventory: list[dict]) -> dict[str, list[tuple]]:
    """sku_id -> its usable versions as ((ts, modified, position), record), as warehouse_oracle reads them."""
    versions: dict[str, list[tuple]] = {}
    for position, rec in enumerate(inventory):
        modified = _time(rec.get("modified"))
        if modified is None or not _present(rec.get("sku_id")):
            continue
        version = (_num(rec.get("ts")) or 0, modified, position)
        versions.setdefault(str(rec["sku_id"]), []).append((version, rec))
    return versions


def _replenishment(turnover: pl.DataFrame, inventory: list[dict], lead_days: int,
                   safety_days: int) -> pl.DataFrame:
    versions = _inventory_versions(inventory)
    rows = []
    for row in turnover.iter_rows(named=True):
        # the version ads_inventory_turnover uses: the latest one whose modified is on or before stat_date
        _, rec = max((v for v in versions[row["sku_id"]] if v[0][1].date() <= row["stat_date"]),
                     key=lambda v: v[0])
        min_qty, purchase_qty = _qty(rec.get("min_qty")), _qty(rec.get("purchase_qty"))
        daily_out = Fraction(row["out_qty_7d"], 7)
        suggested = None
        if min_qty is not None and purchase_qty is not None:  # reading: SQL-like NULL propagation
            need = math.ceil(daily_out * (lead_days + safety_days))  # exact: Fraction, no float
            suggested = max(0, need + min_qty - row["end_qty"] - purchase_qty)
        if (suggested is not None and suggested > 0) or row["below_min"] is True:
            rows.append({"stat_date": row["stat_date"], "sku_id": row["sku_id"], "end_qty": row["end_qty"],
                         "min_qty": min_qty, "purchase_qty": purchase_qty, "below_min": row["below_min"],
                         "daily_out": float(daily_out), "cover_days": row["turnover_days"],
                         "suggested_qty": suggested})
    schema = {"stat_date": pl.Date, "sku_id": pl.String, "end_qty": pl.Int64, "min_qty": pl.Int64,
              "purchase_qty": pl.Int64, "below_min": pl.Boolean, "daily_out": pl.Float64,
              "cover_days": pl.Float64, "suggested_qty": pl.Int64}
    return _frame(rows, schema, ["stat_date", "sku_id"])


def _pipeline_health(api_calls: list[dict]) -> pl.DataFrame:
    groups: dict[tuple, dict] = {}
    counters = ("calls", "errors", "throttled", "retries", "rows")
    for rec in api_calls:
        recorded = rec.get("recorded_at")
        recorded = _time(recorded) if isinstance(recorded, str) else recorded
        if recorded is None:
            continue
        # reading: every row of ops_api_calls counts (not only days ingested): the table is operational.
        hour = recorded.replace(minute=0, second=0, microsecond=0, tzinfo=None)
        group = groups.setdefault((hour, rec.get("dataset")), dict.fromkeys(counters, 0) | {"p95": []})
        for counter in counters:
            group[counter] += _int(rec.get(counter))
        if _num(rec.get("latency_p95_ms")) is not None:
            group["p95"].append(_num(rec.get("latency_p95_ms")))
    rows = [{"stat_hour": hour, "dataset": dataset, **{c: g[c] for c in counters},
             "latency_p95_ms": max(g["p95"]) if g["p95"] else None,
             "error_rate": g["errors"] / g["calls"] if g["calls"] > 0 else None}
            for (hour, dataset), g in groups.items()]
    schema = {"stat_hour": pl.Datetime("us"), "dataset": pl.String, "calls": pl.Int64, "errors": pl.Int64,
              "throttled": pl.Int64, "retries": pl.Int64, "rows": pl.Int64, "latency_p95_ms": pl.Float64,
              "error_rate": pl.Float64}
    return _frame(rows, schema, ["stat_hour", "dataset"])


def _sales_forecast(orders: list[dict], days: list[dt.date], as_of: dt.datetime) -> pl.DataFrame:
    hourly: dict[tuple, Fraction] = {}  # (shop, day, hour) -> out_amount, exactly
    daily: dict[tuple, Fraction] = {}  # (shop, day) -> whole-day out_amount
    for order in orders:
        key = (order["shop_id"], order["day"])
        hourly[(*key, order["hour"])] = hourly.get((*key, order["hour"]), Fraction(0)) + order["exact_amount"]
        daily[key] = daily.get(key, Fraction(0)) + order["exact_amount"]
    rows = []
    for day in sorted(set(days)):
        # an hour is complete when its end is at or before the refresh; hours complete form a prefix
        start = dt.datetime.combine(day, dt.time())
        complete = [start + dt.timedelta(hours=h + 1) <= as_of for h in range(24)]
        k = sum(complete)
        for shop in {shop for shop, _ in daily}:
            # reading: like warehouse_oracle's 7-day windows, the history reads every out order whatever
            # days were ingested (a day before the first ingested day counts when its orders are known).
            history = [d for d in (day - dt.timedelta(days=n) for n in range(7, 0, -1))
                       if daily.get((shop, d), Fraction(0)) > 0]
            if not history:
                continue
            p = [sum((hourly.get((shop, d, h), Fraction(0)) / daily[(shop, d)] for d in history), Fraction(0))
                 / len(history) for h in range(24)]
            m = sum((daily[(shop, d)] for d in history), Fraction(0)) / len(history)
            actual = [hourly.get((shop, day, h), Fraction(0)) if complete[h] else None for h in range(24)]
            cumulative_actual = [sum(actual[: h + 1]) if all(complete[: h + 1]) else None for h in range(24)]
            forecast_open = [p[h] * m for h in range(24)]
            denominator = sum(p[:k], Fraction(0))
            if k >= 1 and denominator > 0:
                forecast = [p[h] * cumulative_actual[k - 1] / denominator for h in range(24)]
            else:
                forecast = forecast_open
            so_far = [actual[h] if complete[h] else forecast[h] for h in range(24)]
            for h in range(24):
                rows.append({"stat_date": day, "shop_id": shop, "hour": h,
                             "actual_amount": _float(actual[h]),
                             "cumulative_actual": _float(cumulative_actual[h]),
                             "forecast_open": float(forecast_open[h]), "forecast_amount": float(forecast[h]),
                             "cumulative_forecast": float(sum(so_far[: h + 1], Fraction(0)))})
    schema = {"stat_date": pl.Date, "shop_id": pl.Int64, "hour": pl.Int64, "actual_amount": pl.Float64,
              "cumulative_actual": pl.Float64, "forecast_open": pl.Float64, "forecast_amount": pl.Float64,
              "cumulative_forecast": pl.Float64}
    return _frame(rows, schema, ["stat_date", "shop_id", "hour"])


def _float(value: Fraction | None) -> float | None:
    return None if value is None else float(value)


def oracle_screens(sales_out: list[dict], after_sale: list[dict], inventory: list[dict], skus: list[dict],
                   shops: list[dict], api_calls: list[dict], days: list[dt.date], as_of: dt.datetime,
                   commission: dict | None = None, lead_days: int = 7,
                   safety_days: int = 3) -> dict[str, pl.DataFrame]:
    ads = oracle_ads(_for_oracle_ads(sales_out), after_sale, inventory, days)
    orders = _out_orders(sales_out)
    stat_days = set(days)
    turnover = ads["ads_inventory_turnover"]
    return {
        "ads_sales_hourly": _sales_hourly(orders, stat_days),
        "ads_sales_forecast": _sales_forecast(orders, days, as_of),
        "ads_region_daily": _region_daily(orders, stat_days),
        "ads_finance_daily": _finance_daily(orders, ads["ads_shop_daily"], _rates(shops, commission)),
        "ads_inventory_overview": _inventory_overview(turnover, _categories(skus)),
        "ads_replenishment": _replenishment(turnover, inventory, lead_days, safety_days),
        "ads_pipeline_health_hourly": _pipeline_health(api_calls),
    }
