"""ads_sales_forecast (screens.md): each shop's sales by hour for a day, forecast to midnight from the
shape of its last 7 days, deterministic and explainable.

For shop s, day D, hour h: H = the days among D-7 .. D-1 with out_amount > 0; p(h) = the mean over
H of that day's share of its out_amount earned in hour h; m = the mean whole-day out_amount over H;
k = the hours of D complete at the refresh.
- actual_amount = the hour's out_amount (NULL for an hour not complete); cumulative_actual = its
  running sum (NULL from the first incomplete hour on);
- forecast_open = p(h) x m, the forecast as D began;
- forecast_amount = p(h) x cumulative_actual(k-1) / (p(0) + ... + p(k-1)) when k >= 1 and that sum
  is > 0, else forecast_open;
- cumulative_forecast = the running sum of actual_amount over complete hours and forecast_amount
  over the others.
A day is recomputed when its sales or those of the 7 days before it change, and while it is in
progress (its hours complete move with the clock).
"""

from datetime import date, datetime, timedelta

import polars as pl
from clickhouse_connect.driver.client import Client

from qeasy.erp.times import BEIJING
from qeasy.warehouse import state
from qeasy.warehouse.ads import OUT_LINES
from qeasy.warehouse.publish import insert, upsert

TABLE = "ads_sales_forecast"
STATE = "forecast_as_of"  # the _refresh_state row: when the last refresh computed it, epoch ms
HISTORY_DAYS = 7
# Out orders' amounts by shop, day and hour, as ads_sales_hourly counts them.
AMOUNTS = f"""
SELECT shop_id, stat_date AS day, hour, toFloat64(sum(amount)) AS amount
FROM (SELECT io_id, any(shop_id) AS shop_id, any(day) AS stat_date, any(hour) AS hour,
             sumIf(sale_amount, is_anomaly = 0) AS amount
      FROM ({OUT_LINES}) GROUP BY io_id)
WHERE shop_id IS NOT NULL GROUP BY shop_id, day, hour"""


def hours_complete(day: date, as_of: datetime) -> int:
    """Hours of `day` whose end is at or before `as_of` (naive Beijing time)."""
    elapsed = as_of - datetime.combine(day, datetime.min.time())
    return max(0, min(24, int(elapsed.total_seconds() // 3600)))


def forecast(amounts: pl.DataFrame, days: list[date], as_of: datetime) -> pl.DataFrame:
    """The forecast rows of `days` from the out amounts (shop_id, day, hour, amount) of those days and
    the 7 before each."""
    # Sorted inputs and ordered groups: float sums add up in one order, so a re-run gives the same bits.
    amounts = amounts.sort("shop_id", "day", "hour")
    daily = (amounts.group_by("shop_id", "day", maintain_order=True).agg(total=pl.col("amount").sum())
             .filter(pl.col("total") > 0))
    targets = pl.DataFrame({"stat_date": days, "k": [hours_complete(day, as_of) for day in days]},
                           schema={"stat_date": pl.Date, "k": pl.Int64})
    history = (targets.join(daily, how="cross")
               .filter(pl.col("day").is_between(pl.col("stat_date") - pl.duration(days=HISTORY_DAYS),
                                                pl.col("stat_date") - pl.duration(days=1)))
               .sort("stat_date", "shop_id", "day"))
    shape = history.group_by("stat_date", "shop_id", maintain_order=True).agg(n=pl.len(),
                                                                              m=pl.col("total").mean())
    shares = (history.join(amounts, on=["shop_id", "day"]).sort("stat_date", "shop_id", "hour", "day")
              .group_by("stat_date", "shop_id", "hour", maintain_order=True)
              .agg(share=(pl.col("amount") / pl.col("total")).sum()))
    hours = pl.DataFrame({"hour": list(range(24))}, schema={"hour": pl.Int8})
    on_the_day = (amounts.rename({"day": "stat_date", "amount": "sales"})
                  .with_columns(pl.col("hour").cast(pl.Int8)))
    cell = ["stat_date", "shop_id", "hour"]
    cells = (
        shape.join(targets, on="stat_date").join(hours, how="cross")
        .join(shares.with_columns(pl.col("hour").cast(pl.Int8)), on=cell, how="left")
        .join(on_the_day, on=cell, how="left")
        .with_columns(p=pl.col("share").fill_null(0) / pl.col("n"), complete=pl.col("hour") < pl.col("k"))
        .sort("stat_date", "shop_id", "hour")
    )
    by_day = ["stat_date", "shop_id"]
    actual = pl.when(pl.col("complete")).then(pl.col("sales").fill_null(0))
    cells = cells.with_columns(actual_amount=actual, forecast_open=pl.col("p") * pl.col("m")).with_columns(
        cumulative_actual=pl.when(pl.col("complete")).then(pl.col("actual_amount").cum_sum().over(by_day)),
        known_share=pl.col("p").filter(pl.col("complete")).sum().over(by_day),
        actual_so_far=pl.col("actual_amount").filter(pl.col("complete")).sum().over(by_day),
    )
    rescaled = pl.col("p") * pl.col("actual_so_far") / pl.col("known_share")
    cells = cells.with_columns(forecast_amount=pl.when((pl.col("k") >= 1) & (pl.col("known_share") > 0))
                               .then(rescaled).otherwise(pl.col("forecast_open")))
    return cells.with_columns(
        hour=pl.col("hour").cast(pl.UInt8),
        cumulative_forecast=pl.when(pl.col("complete")).then(pl.col("actual_amount"))
        .otherwise(pl.col("forecast_amount")).cum_sum().over(by_day),
    ).select("stat_date", "shop_id", "hour", "actual_amount", "cumulative_actual", "forecast_open",
             "forecast_amount", "cumulative_forecast")


def publish_forecast(client: Client, sales_days: set[date], loaded: list[date], stale: set[date],
                     version: int, now: datetime | None = None) -> list[date]:
    """Recompute the forecast of the loaded days whose sales or history changed (`sales_days`: days
    of changed out orders, and days loaded for the first time) and of those in progress at the last
    refresh, and drop the `stale` days (no longer loaded), as publish `version`; the days rewritten."""
    as_of = (now or datetime.now(BEIJING)).astimezone(BEIJING).replace(tzinfo=None)
    last = state.mark(client, STATE)
    in_progress = date.min if last is None else datetime.fromtimestamp(last / 1000, BEIJING).date()
    affected = {day + timedelta(days=j) for day in sales_days for j in range(HISTORY_DAYS + 1)}
    days = sorted(day for day in loaded if day in affected or day >= in_progress)
    scope = sorted(set(days) | stale)
    if scope:
        lines = sorted({day - timedelta(days=j) for day in days for j in range(HISTORY_DAYS + 1)})
        amounts = client.query_df_arrow(AMOUNTS, parameters={"line_days": lines}, dataframe_library="polars")
        rows = forecast(amounts, days, as_of)
        upsert(client, TABLE, "stat_date, shop_id, hour", "stat_date IN {scope:Array(Date)}", version,
               lambda stage: insert(client, stage, rows), parameters={"scope": scope})
    state.set_mark(client, STATE, int(as_of.replace(tzinfo=BEIJING).timestamp() * 1000), version)
    return scope
