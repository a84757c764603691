"""The eight screens of screens.md: what each reads, as parameterised ClickHouse queries.

Every value a request brings reaches SQL only as a bound parameter (`{name:Type}`): the day, the
shops it may see (`{all_shops:UInt8}`, `{shops:Array(Int64)}`). Shop data is filtered by the
signed-in user's shops everywhere, including the SKU after-sale ranking, which is summed from the
SKU sales of those shops (`ads_sku_shop_daily`) when the user may not see every shop. Stock
(screens 1 and 6) is merchant-wide and shown only to users whose access says `inventory`.
"""

from dataclasses import dataclass, field

from qeasy.cleanse.provinces import SHORT_FORMS

SHOPS = "({all_shops:UInt8} = 1 OR shop_id IN {shops:Array(Int64)})"


@dataclass(frozen=True)
class Screen:
    number: int
    title: str  # Chinese, with English, as the page heads it
    reads: tuple[str, ...]  # the tables of screens.md the screen reads
    queries: dict[str, str]  # section -> SQL
    inventory: tuple[str, ...] = ()  # sections that are merchant-wide stock
    restricted: dict[str, str] = field(default_factory=dict)  # section -> SQL for users of some shops
    live: bool = False  # defaults to today and refreshes itself every few seconds


HOURLY = f"""SELECT hour, sum(out_orders) AS out_orders, sum(out_qty) AS out_qty,
    sum(out_amount) AS out_amount FROM v_ads_sales_hourly WHERE stat_date = {{day:Date}} AND {SHOPS}
    GROUP BY hour ORDER BY hour"""
SHOP_RANKING = f"""SELECT shop_id, shop_name, out_orders, out_qty, out_amount, refund_orders, refund_amount,
    after_sale_rate FROM v_ads_shop_daily WHERE stat_date = {{day:Date}} AND {SHOPS}
    ORDER BY out_amount DESC, shop_id"""
TOTALS = f"""SELECT sum(out_orders) AS out_orders, sum(out_qty) AS out_qty, sum(out_amount) AS out_amount,
    sum(refund_orders) AS refund_orders, sum(refund_amount) AS refund_amount,
    if(out_orders = 0, NULL, refund_orders / out_orders) AS after_sale_rate
    FROM v_ads_shop_daily WHERE stat_date = {{day:Date}} AND {SHOPS}"""
# The 7-day after-sale ranking over some shops only: ads_sku_after_sale_7d's counts, which the SKU
# sales per shop and day add up to over the 7 days ending on the day (an order has one day and shop).
SKU_AFTER_SALE_FOR_SHOPS = f"""SELECT sku_id, any(sku_name) AS sku_name, sum(out_orders) AS out_orders_7d,
    sum(refund_orders) AS refund_orders_7d,
    if(out_orders_7d = 0, NULL, refund_orders_7d / out_orders_7d) AS after_sale_rate_7d
    FROM v_ads_sku_shop_daily WHERE stat_date BETWEEN {{day:Date}} - 6 AND {{day:Date}} AND {SHOPS}
    GROUP BY sku_id HAVING out_orders_7d >= {{min_orders:UInt64}}
    ORDER BY after_sale_rate_7d DESC, out_orders_7d DESC, sku_id LIMIT 10"""
SKU_AFTER_SALE = """SELECT sku_id, sku_name, out_orders_7d, refund_orders_7d, after_sale_rate_7d
    FROM v_ads_sku_after_sale_7d WHERE stat_date = {day:Date} AND out_orders_7d >= {min_orders:UInt64}
    ORDER BY after_sale_rate_7d DESC, out_orders_7d DESC, sku_id LIMIT 10"""
REPLENISHMENT = """SELECT sku_id, sku_name, end_qty, min_qty, purchase_qty, below_min, daily_out, cover_days,
    suggested_qty FROM v_ads_replenishment WHERE stat_date = {day:Date}
    ORDER BY suggested_qty DESC, sku_id"""

SCREENS = {screen.number: screen for screen in [
    Screen(1, "实时库存总览 Inventory overview",
           ("ads_inventory_overview", "ads_inventory_turnover", "ads_region_daily"),
           {"categories": """SELECT category, skus, end_qty, below_min_skus, stockout_skus
                FROM v_ads_inventory_overview WHERE stat_date = {day:Date} ORDER BY end_qty DESC, category""",
            "below_min": """SELECT sku_id, sku_name, end_qty, min_qty, out_qty_7d, turnover_days
                FROM v_ads_inventory_turnover WHERE stat_date = {day:Date} AND below_min
                ORDER BY min_qty - end_qty DESC, sku_id LIMIT 50""",
            "provinces": f"""SELECT province, sum(out_orders) AS out_orders, sum(out_amount) AS out_amount
                FROM v_ads_region_daily WHERE stat_date = {{day:Date}} AND {SHOPS}
                GROUP BY province ORDER BY out_orders DESC, province"""},
           inventory=("categories", "below_min")),
    Screen(2, "销售出库趋势 Sales trend", ("ads_sales_hourly", "ads_sales_forecast"),
           {"today": HOURLY, "yesterday": HOURLY.replace("{day:Date}", "{day:Date} - 1"),
            "forecast": f"""SELECT hour, sum(actual_amount) AS actual_amount,
                sum(forecast_open) AS forecast_open, sum(forecast_amount) AS forecast_amount,
                sum(cumulative_forecast) AS cumulative_forecast
                FROM v_ads_sales_forecast WHERE stat_date = {{day:Date}} AND {SHOPS}
                GROUP BY hour ORDER BY hour"""}),
    Screen(3, "售后监控 After-sale monitor", ("ads_sku_after_sale_7d", "ads_sku_shop_daily"),
           {"top": SKU_AFTER_SALE}, restricted={"top": SKU_AFTER_SALE_FOR_SHOPS}),
    Screen(4, "店铺排行榜 Shop ranking", ("ads_shop_daily",), {"shops": SHOP_RANKING, "totals": TOTALS}),
    Screen(5, "财务应收 Finance", ("ads_finance_daily",),
           {"shops": f"""SELECT shop_id, shop_name, gmv, discount, paid, freight, platform_fee, refund_amount,
                net_received, fee_rate_known FROM v_ads_finance_daily
                WHERE stat_date = {{day:Date}} AND {SHOPS} ORDER BY gmv DESC, shop_id""",
            "days": f"""SELECT stat_date, sum(gmv) AS gmv, sum(discount) AS discount,
                sum(platform_fee) AS platform_fee, sum(net_received) AS net_received
                FROM v_ads_finance_daily WHERE stat_date BETWEEN {{day:Date}} - 6 AND {{day:Date}} AND {SHOPS}
                GROUP BY stat_date ORDER BY stat_date"""}),
    Screen(6, "商品库存预警 Stock warning", ("ads_replenishment",), {"reorder": REPLENISHMENT},
           inventory=("reorder",)),
    Screen(7, "大促实时战报 Live battle report", ("ads_shop_daily", "ads_sales_hourly", "ads_sku_shop_daily"),
           {"totals": TOTALS, "shops": SHOP_RANKING, "hourly": HOURLY,
            "skus": f"""SELECT sku_id, any(sku_name) AS sku_name, sum(out_orders) AS out_orders,
                sum(out_qty) AS out_qty, sum(out_amount) AS out_amount
                FROM v_ads_sku_shop_daily WHERE stat_date = {{day:Date}} AND {SHOPS}
                GROUP BY sku_id HAVING out_orders > 0 ORDER BY out_amount DESC, sku_id LIMIT 10"""},
           live=True),
    Screen(8, "异常监控 Pipeline health", ("ads_pipeline_health_hourly",),
           {"hours": """SELECT toHour(stat_hour) AS hour, sum(calls) AS calls, sum(errors) AS errors,
                sum(throttled) AS throttled, sum(retries) AS retries, max(latency_p95_ms) AS latency_p95_ms
                FROM v_ads_pipeline_health_hourly WHERE toDate(stat_hour) = {day:Date}
                GROUP BY hour ORDER BY hour""",
            "datasets": """SELECT dataset, sum(calls) AS calls, sum(errors) AS errors,
                sum(throttled) AS throttled, sum(retries) AS retries, sum(rows) AS rows,
                max(latency_p95_ms) AS latency_p95_ms,
                if(calls = 0, NULL, errors / calls) AS error_rate
                FROM v_ads_pipeline_health_hourly WHERE toDate(stat_hour) = {day:Date}
                GROUP BY dataset ORDER BY dataset""",
            "freshness": """SELECT dataset, max(recorded_at) AS last_pull,
                dateDiff('second', max(recorded_at), now64(3)) AS lag_seconds
                FROM ops_api_calls GROUP BY dataset ORDER BY dataset"""}),
]}

# The latest day before `today` that has metrics: what every screen but 7 opens on.
LATEST_COMPLETE_DAY = "SELECT max(stat_date) FROM v_ads_shop_daily WHERE stat_date < {today:Date}"
# The map's region names (ECharts' China map names the provinces in their short forms).
MAP_NAMES = dict(SHORT_FORMS)
