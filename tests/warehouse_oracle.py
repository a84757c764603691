"""Independent oracle for the three ADS tables, written from ../shared/spec/warehouse.md alone.

Inputs are the latest version of every record exactly as the API serves them (dicts). The team's
interpretation decisions are quoted in comments as "(rule N)"; everything else is warehouse.md.
"""

import datetime as dt
import math

import polars as pl

SALE_STATUSES = {"WaitConfirm", "Confirmed", "Delete", "Cancelled", "OuterConfirming"}
AFTER_SALE_STATUSES = {"WaitConfirm", "Confirmed", "Cancelled", "Merged"}
SALE = {"nums": ("pay_amount", "paid_amount", "freight"), "times": ("io_date", "created", "modified"),
        "line_nums": ("qty", "sale_price", "sale_amount"), "statuses": SALE_STATUSES}
AFTER_SALE = {"nums": ("refund", "payment", "freight"),
              "times": ("as_date", "created", "modified", "confirm_date"),
              "line_nums": ("qty", "r_qty", "price", "amount"), "statuses": AFTER_SALE_STATUSES}


def _present(value) -> bool:  # "Empty" means NULL or an empty string
    return value is not None and value != ""


def _num(value) -> float | None:
    """A JSON number or numeric string; None when absent or unparseable (never NaN/inf)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _time(value) -> dt.datetime | None:
    """Beijing wall clock 'YYYY-MM-DD HH:MM:SS[.fff]'; None when absent or unparseable."""
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f"):
        try:
            return dt.datetime.strptime(value, fmt)
        except (TypeError, ValueError):
            pass
    return None


def _unparseable(value, parse) -> bool:
    return _present(value) and parse(value) is None


def _record_bad(rec: dict, kind: dict) -> bool:  # rule 1, record part
    return (rec.get("status") not in kind["statuses"]
            or any(_unparseable(rec.get(f), _num) for f in kind["nums"])
            or any(_unparseable(rec.get(f), _time) for f in kind["times"]))


def _good_lines(rec: dict, kind: dict) -> list[dict]:
    """The non-anomalous item lines of a record (rule 1, line part)."""
    if _record_bad(rec, kind):
        return []
    good = []
    for line in rec.get("items") or []:
        qty = _num(line.get("qty"))
        if (qty is not None and qty < 0) or not _present(line.get("sku_id")) \
                or any(_unparseable(line.get(f), _num) for f in kind["line_nums"]):
            continue
        good.append(line)
    return good


def _shop(rec: dict) -> int | None:  # rule 4: header shop_id, numeric strings parsed
    number = _num(rec.get("shop_id"))
    return None if number is None else int(number)


def _events(sales_out: list[dict], after_sale: list[dict]) -> pl.DataFrame:
    """One row per out order / refund order (io or as set) and per non-anomalous line (sku_id set)."""
    rows: list[dict] = []
    for rec in sales_out:  # rule 2
        io_date = _time(rec.get("io_date"))
        if rec.get("status") != "Confirmed" or io_date is None:
            continue
        base = {"day": io_date.date(), "shop_id": _shop(rec), "io": str(rec.get("io_id"))}
        rows.append(base)
        rows += [base | {"sku_id": str(line["sku_id"]), "qty": _num(line.get("qty")),
                         "amount": _num(line.get("sale_amount"))} for line in _good_lines(rec, SALE)]
    for rec in after_sale:  # rule 3
        refund = _num(rec.get("refund"))
        if rec.get("status") != "Confirmed" or refund is None or refund <= 0:
            continue
        confirm = rec.get("confirm_date")
        when = _time(confirm) if _present(confirm) else _time(rec.get("modified"))
        if when is None:
            continue
        base = {"day": when.date(), "shop_id": _shop(rec), "as": str(rec.get("as_id"))}
        rows.append(base | {"refund": refund})
        rows += [base | {"sku_id": str(line["sku_id"])} for line in _good_lines(rec, AFTER_SALE)]
    schema = {"day": pl.Date, "shop_id": pl.Int64, "io": pl.String, "as": pl.String, "sku_id": pl.String,
              "qty": pl.Float64, "amount": pl.Float64, "refund": pl.Float64}
    return pl.DataFrame(rows, schema=schema)


def _distinct(col: str) -> pl.Expr:
    return pl.col(col).drop_nulls().n_unique().cast(pl.Int64)


def _ratio(num: str, den: str) -> pl.Expr:  # NULL when the denominator is 0, never NaN/inf
    return pl.when(pl.col(den) > 0).then(pl.col(num) / pl.col(den)).otherwise(None).cast(pl.Float64)


def _inventory(inventory: list[dict]) -> pl.DataFrame:
    """Every inventory version seen (several per SKU when it was ingested at several times)."""
    rows = []
    for rec in inventory:  # rule 6: an unparseable modified -> the version is unusable
        qty, modified = _num(rec.get("qty")), _time(rec.get("modified"))
        if modified is None or not _present(rec.get("sku_id")):
            continue
        rows.append({"sku_id": str(rec["sku_id"]), "end_qty": None if qty is None else max(int(qty), 0),
                     "min_qty": _num(rec.get("min_qty")), "modified_day": modified.date(),
                     "version": (_num(rec.get("ts")) or 0, modified)})
    schema = {"sku_id": pl.String, "end_qty": pl.Int64, "min_qty": pl.Float64, "modified_day": pl.Date,
              "ts": pl.Float64, "modified": pl.Datetime("us")}
    return pl.DataFrame([{**r, "ts": r["version"][0], "modified": r.pop("version")[1]} for r in rows],
                        schema=schema)


def oracle_ads(sales_out: list[dict], after_sale: list[dict], inventory: list[dict],
               days: list[dt.date]) -> dict[str, pl.DataFrame]:
    events = _events(sales_out, after_sale)
    stat_days = pl.DataFrame({"stat_date": sorted(set(days))}, schema={"stat_date": pl.Date})

    shop_daily = (
        events.rename({"day": "stat_date"}).join(stat_days, on="stat_date", how="semi")
        .group_by("stat_date", "shop_id")
        .agg(out_orders=_distinct("io"), out_qty=pl.col("qty").sum().cast(pl.Int64),
             out_amount=pl.col("amount").sum().cast(pl.Float64), refund_orders=_distinct("as"),
             refund_amount=pl.col("refund").sum().cast(pl.Float64))
        .filter((pl.col("out_orders") > 0) | (pl.col("refund_orders") > 0))
        .with_columns(after_sale_rate=_ratio("refund_orders", "out_orders"))
        .sort("stat_date", "shop_id")
    )

    # Lines of every day in [stat_date - 6, stat_date], including days before the first ingested day.
    windowed = (
        stat_days.join(events.filter(pl.col("sku_id").is_not_null()), how="cross")
        .filter(pl.col("day").is_between(pl.col("stat_date") - pl.duration(days=6), pl.col("stat_date")))
        .group_by("stat_date", "sku_id")
        .agg(out_orders_7d=_distinct("io"), refund_orders_7d=_distinct("as"),
             out_qty_7d=pl.col("qty").sum().cast(pl.Int64))
    )
    sku_7d = (
        windowed.filter((pl.col("out_orders_7d") > 0) | (pl.col("refund_orders_7d") > 0))
        .select("stat_date", "sku_id", "out_orders_7d", "refund_orders_7d",
                after_sale_rate_7d=_ratio("refund_orders_7d", "out_orders_7d"))
        .sort("stat_date", "sku_id")
    )

    # The latest version seen whose modified falls on or before stat_date; unparseable qty -> no row.
    turnover = (
        stat_days.join(_inventory(inventory), how="cross")
        .filter(pl.col("modified_day") <= pl.col("stat_date"))
        .sort("ts", "modified").group_by("stat_date", "sku_id").last()
        .filter(pl.col("end_qty").is_not_null())
        .join(windowed.select("stat_date", "sku_id", "out_qty_7d"), on=["stat_date", "sku_id"], how="left")
        .with_columns(pl.col("out_qty_7d").fill_null(0))
        .select("stat_date", "sku_id", "end_qty", "out_qty_7d",
                turnover_days=pl.when(pl.col("out_qty_7d") > 0)
                .then(pl.col("end_qty") / (pl.col("out_qty_7d") / 7)).otherwise(None).cast(pl.Float64),
                below_min=pl.col("end_qty") < pl.col("min_qty"))
        .sort("stat_date", "sku_id")
    )
    return {"ads_shop_daily": shop_daily, "ads_sku_after_sale_7d": sku_7d, "ads_inventory_turnover": turnover}
