"""ADS metrics, computed in ClickHouse from the latest-version views, exactly as warehouse.md defines them
(and, for the BI screens' marts, screens.md; the forecast is qeasy.warehouse.forecast).

- out order: an io_id whose latest status is Confirmed; its day is the day of io_date.
- refund order: an as_id whose latest status is Confirmed and refund > 0 (`is_refund`); its day is
  the day of confirm_date, of modified when confirm_date is empty (`biz_date`).
- anomalous lines are excluded from quantities and per-SKU attribution, never from order counts;
  ratios are NULL when their denominator is 0. Rows exist only for days ingested so far.
Each statement computes the metric days `{days}` (all of them ingested) from the lines dated on the
days `{line_days}`: those days and the six before each, for the 7-day windows ending on them. A
refresh recomputes just the days its changes touch and upserts them (qeasy.warehouse.publish).
"""

from datetime import date, timedelta

from clickhouse_connect.driver.client import Client

from qeasy.datasets import DATASETS, EXTRA_METRICS
from qeasy.warehouse.commission import Commission
from qeasy.warehouse.metric import WINDOW_DAYS, Metric
from qeasy.warehouse.publish import upsert

# `biz_date` is an out order's io_date day and a refund order's day; the skip index on it keeps the
# reads to the granules of {line_days}.
OUT_LINES = """SELECT io_id, shop_id, toDate(io_date) AS day, toHour(io_date) AS hour, sku_id, qty,
    sale_amount, is_anomaly, province, pay_amount, free_amount, paid_amount, freight
    FROM v_dws_sale_out WHERE status = 'Confirmed' AND io_date IS NOT NULL
    AND biz_date IN {line_days:Array(Date)}"""
REFUND_LINES = """SELECT as_id, shop_id, biz_date AS day, sku_id, refund, is_anomaly
    FROM v_dws_after_sale WHERE is_refund = 1 AND biz_date IN {line_days:Array(Date)}"""
# Each dated line counts toward the 7-day windows ending on its day and the six days after.
WINDOW = "ARRAY JOIN arrayMap(k -> day + k, range(7)) AS stat_date"

SHOP_DAILY = f"""
WITH out_orders AS (
        SELECT io_id, any(shop_id) AS shop_id, any(day) AS stat_date,
               sumIf(qty, is_anomaly = 0) AS qty, sumIf(sale_amount, is_anomaly = 0) AS amount
        FROM ({OUT_LINES}) GROUP BY io_id),
     refund_orders AS (
        SELECT as_id, any(shop_id) AS shop_id, any(day) AS stat_date, any(refund) AS refund
        FROM ({REFUND_LINES}) GROUP BY as_id),
     orders AS (
        SELECT stat_date, shop_id, 1 AS is_out, qty, amount AS out_amount, toDecimal128(0, 2) AS refund
        FROM out_orders
        UNION ALL
        SELECT stat_date, shop_id, 0, 0, toDecimal128(0, 2), refund FROM refund_orders)
SELECT stat_date, shop_id, shops.shop_name AS shop_name,
       countIf(is_out = 1) AS out_orders, sum(coalesce(qty, 0)) AS out_qty,
       sum(coalesce(out_amount, 0)) AS out_amount,
       countIf(is_out = 0) AS refund_orders, sum(coalesce(refund, 0)) AS refund_amount,
       if(out_orders = 0, NULL, refund_orders / out_orders) AS after_sale_rate
FROM orders LEFT JOIN v_dim_shop AS shops USING (shop_id)
WHERE stat_date IN {{days:Array(Date)}} AND shop_id IS NOT NULL
GROUP BY stat_date, shop_id, shop_name"""

SKU_AFTER_SALE_7D = f"""
WITH lines AS (
        SELECT 1 AS is_out, io_id AS order_id, sku_id, day FROM ({OUT_LINES})
        WHERE is_anomaly = 0 AND sku_id IS NOT NULL
        UNION ALL
        SELECT 0, as_id, sku_id, day FROM ({REFUND_LINES}) WHERE is_anomaly = 0 AND sku_id IS NOT NULL)
SELECT stat_date, assumeNotNull(sku_id) AS sku_id, any(s.name) AS sku_name,
       uniqExactIf(order_id, is_out = 1) AS out_orders_7d,
       uniqExactIf(order_id, is_out = 0) AS refund_orders_7d,
       if(out_orders_7d = 0, NULL, refund_orders_7d / out_orders_7d) AS after_sale_rate_7d
FROM lines {WINDOW} LEFT JOIN v_dim_sku AS s ON s.sku_id = lines.sku_id
WHERE stat_date IN {{days:Array(Date)}}
GROUP BY stat_date, sku_id"""

INVENTORY_TURNOVER = f"""
WITH out_7d AS (
        SELECT stat_date, assumeNotNull(sku_id) AS sku_id, sum(coalesce(qty, 0)) AS out_qty_7d
        FROM ({OUT_LINES}) {WINDOW}
        WHERE is_anomaly = 0 AND sku_id IS NOT NULL AND stat_date IN {{days:Array(Date)}}
        GROUP BY stat_date, sku_id)
SELECT d.stat_date AS stat_date, d.sku_id AS sku_id, s.name AS sku_name,
       greatest(assumeNotNull(d.end_qty), 0) AS end_qty, d.min_qty AS min_qty,
       coalesce(o.out_qty_7d, 0) AS out_qty_7d,
       if(out_qty_7d = 0, NULL, end_qty / (out_qty_7d / 7)) AS turnover_days,
       end_qty < d.min_qty AS below_min
FROM v_dws_inventory_daily AS d
LEFT JOIN out_7d AS o ON o.stat_date = d.stat_date AND o.sku_id = d.sku_id
LEFT JOIN v_dim_sku AS s ON s.sku_id = d.sku_id
WHERE d.end_qty IS NOT NULL AND d.stat_date IN {{days:Array(Date)}}"""

# screens.md's marts. An out order's header fields (money, province) are read once per order.
SALES_HOURLY = f"""
WITH out_orders AS (
        SELECT io_id, any(shop_id) AS shop_id, any(day) AS stat_date, any(hour) AS hour,
               sumIf(qty, is_anomaly = 0) AS qty, sumIf(sale_amount, is_anomaly = 0) AS amount
        FROM ({OUT_LINES}) GROUP BY io_id)
SELECT stat_date, hour, assumeNotNull(shop_id) AS shop_id, shops.shop_name AS shop_name,
       count() AS out_orders, sum(coalesce(qty, 0)) AS out_qty, sum(coalesce(amount, 0)) AS out_amount
FROM out_orders LEFT JOIN v_dim_shop AS shops USING (shop_id)
WHERE stat_date IN {{days:Array(Date)}} AND shop_id IS NOT NULL
GROUP BY stat_date, hour, shop_id, shop_name"""

REGION_DAILY = f"""
WITH out_orders AS (
        SELECT io_id, any(shop_id) AS shop_id, any(day) AS stat_date, any(province) AS province,
               sumIf(sale_amount, is_anomaly = 0) AS amount
        FROM ({OUT_LINES}) GROUP BY io_id)
SELECT stat_date, assumeNotNull(shop_id) AS shop_id, shops.shop_name AS shop_name, province,
       count() AS out_orders, sum(coalesce(amount, 0)) AS out_amount
FROM out_orders LEFT JOIN v_dim_shop AS shops USING (shop_id)
WHERE stat_date IN {{days:Array(Date)}} AND shop_id IS NOT NULL
GROUP BY stat_date, shop_id, shop_name, province"""

# SKU sales per shop and day: the grain screens and BI tools filter by shop. An order has one day and
# one shop, so sums over days and shops count each order once: over the 7 days ending on a day they
# give ads_sku_after_sale_7d's counts, for any set of shops.
SKU_SHOP_DAILY = f"""
WITH lines AS (
        SELECT 1 AS is_out, io_id AS order_id, shop_id, day, sku_id, qty, sale_amount AS amount
        FROM ({OUT_LINES}) WHERE is_anomaly = 0 AND sku_id IS NOT NULL
        UNION ALL
        SELECT 0, as_id, shop_id, day, sku_id, CAST(NULL AS Nullable(Int64)),
               CAST(NULL AS Nullable(Decimal(18, 2)))
        FROM ({REFUND_LINES}) WHERE is_anomaly = 0 AND sku_id IS NOT NULL)
SELECT day AS stat_date, assumeNotNull(shop_id) AS shop_id, assumeNotNull(lines.sku_id) AS sku_id,
       any(s.name) AS sku_name, uniqExactIf(order_id, is_out = 1) AS out_orders,
       sumIf(coalesce(qty, 0), is_out = 1) AS out_qty, sumIf(coalesce(amount, 0), is_out = 1) AS out_amount,
       uniqExactIf(order_id, is_out = 0) AS refund_orders
FROM lines LEFT JOIN v_dim_sku AS s ON s.sku_id = lines.sku_id
WHERE day IN {{days:Array(Date)}} AND shop_id IS NOT NULL
GROUP BY stat_date, shop_id, sku_id"""

# The commission rate of a shop: its own, else its platform's (shop_site), else unknown (NULL).
# indexOf is 0 for a missing key and [0] of an array its default, '': no rate (NULL).
RATE = """coalesce(
    toDecimal64OrNull({shop_rates:Array(String)}[indexOf({rate_shops:Array(Int64)}, shop_id)], 6),
    toDecimal64OrNull({site_rates:Array(String)}[indexOf({rate_sites:Array(String)},
                                                         coalesce(shops.shop_site, ''))], 6))"""

FINANCE_DAILY = f"""
WITH out_orders AS (
        SELECT io_id, any(shop_id) AS shop_id, any(day) AS stat_date, any(pay_amount) AS gmv,
               any(free_amount) AS discount, any(paid_amount) AS paid, any(freight) AS freight
        FROM ({OUT_LINES}) GROUP BY io_id),
     refund_orders AS (
        SELECT as_id, any(shop_id) AS shop_id, any(day) AS stat_date, any(refund) AS refund
        FROM ({REFUND_LINES}) GROUP BY as_id),
     orders AS (
        SELECT stat_date, shop_id, gmv, discount, paid, freight, toDecimal128(0, 2) AS refund FROM out_orders
        UNION ALL
        SELECT stat_date, shop_id, toDecimal128(0, 2), toDecimal128(0, 2), toDecimal128(0, 2),
               toDecimal128(0, 2), refund FROM refund_orders),
     days AS (
        SELECT stat_date, assumeNotNull(shop_id) AS shop_id, sum(coalesce(gmv, 0)) AS gmv,
               sum(coalesce(discount, 0)) AS discount, sum(coalesce(paid, 0)) AS paid,
               sum(coalesce(freight, 0)) AS freight, sum(coalesce(refund, 0)) AS refund_amount
        FROM orders WHERE stat_date IN {{days:Array(Date)}} AND shop_id IS NOT NULL
        GROUP BY stat_date, shop_id)
SELECT stat_date, shop_id, shop_name, gmv, discount, paid, freight,
       toDecimal128(if(rate IS NULL, 0, round(paid * assumeNotNull(rate), 2)), 2) AS platform_fee,
       refund_amount, paid - platform_fee - refund_amount AS net_received,
       toUInt8(rate IS NOT NULL) AS fee_rate_known
FROM (SELECT days.*, shops.shop_name AS shop_name, {RATE} AS rate
      FROM days LEFT JOIN v_dim_shop AS shops USING (shop_id))"""

INVENTORY_OVERVIEW = """
SELECT t.stat_date AS stat_date, if(coalesce(s.category, '') = '', '未分类', s.category) AS category,
       count() AS skus, sum(t.end_qty) AS end_qty, countIf(t.below_min) AS below_min_skus,
       countIf(t.end_qty = 0) AS stockout_skus
FROM v_ads_inventory_turnover AS t LEFT JOIN v_dim_sku AS s ON s.sku_id = t.sku_id
WHERE t.stat_date IN {days:Array(Date)}
GROUP BY stat_date, category"""

# ceil(out_qty_7d / 7 x (lead + safety)) in integers: exact, as screens.md requires (out_qty_7d >= 0).
REPLENISHMENT = """
SELECT stat_date, sku_id, sku_name, end_qty, min_qty, purchase_qty, below_min, daily_out, cover_days,
       suggested_qty
FROM (SELECT t.stat_date AS stat_date, t.sku_id AS sku_id, t.sku_name AS sku_name, t.end_qty AS end_qty,
             t.min_qty AS min_qty, d.purchase_qty AS purchase_qty, t.below_min AS below_min,
             t.out_qty_7d / 7 AS daily_out, t.turnover_days AS cover_days,
             intDiv(t.out_qty_7d * ({lead_days:UInt32} + {safety_days:UInt32}) + 6, 7) + t.min_qty
                 - t.end_qty - d.purchase_qty AS need,
             if(need IS NULL, NULL, greatest(assumeNotNull(need), 0)) AS suggested_qty
      FROM v_ads_inventory_turnover AS t
      LEFT JOIN v_dws_inventory_daily AS d ON d.stat_date = t.stat_date AND d.sku_id = t.sku_id
      WHERE t.stat_date IN {days:Array(Date)})
WHERE suggested_qty > 0 OR below_min"""


SALES, REFUNDS, STOCK = "sales_out", "after_sale", "inventory"
LINES = ("dws_sale_out", "dws_after_sale")
# In the order they are computed: the stock marts read ads_inventory_turnover.
METRICS = (
    Metric(table="ads_shop_daily", sql=SHOP_DAILY, grain="stat_date, shop_id", reads=LINES,
           days=(SALES, REFUNDS),
           description="Shop-day metrics (店铺日报): out orders, quantities, amounts, refunds, after-sale "
           "rate."),
    Metric(table="ads_sku_after_sale_7d", sql=SKU_AFTER_SALE_7D, grain="stat_date, sku_id", reads=LINES,
           windowed=(SALES, REFUNDS), description="SKU after-sale rate over 7 days (商品7日售后率)."),
    Metric(table="ads_inventory_turnover", sql=INVENTORY_TURNOVER, grain="stat_date, sku_id",
           reads=("dws_inventory_daily", "dws_sale_out"), days=(STOCK,), windowed=(SALES,),
           description="SKU stock, 7-day outflow and turnover days (库存周转), below-minimum flag."),
    Metric(table="ads_sales_hourly", sql=SALES_HOURLY, grain="stat_date, hour, shop_id",
           reads=("dws_sale_out",), days=(SALES,),
           description="Shop sales by hour (分时销售): out orders, items and amount per hour of io_date."),
    Metric(table="ads_region_daily", sql=REGION_DAILY, grain="stat_date, shop_id, province",
           reads=("dws_sale_out",), days=(SALES,),
           description="Shop sales by receiver province (地域分布), provinces normalised for the China map."),
    Metric(table="ads_finance_daily", sql=FINANCE_DAILY, grain="stat_date, shop_id", reads=LINES,
           days=(SALES, REFUNDS),
           description="Shop receivables per day (财务应收): GMV, discounts, paid, freight, platform fee, "
           "refunds, net."),
    Metric(table="ads_sku_shop_daily", sql=SKU_SHOP_DAILY, grain="stat_date, shop_id, sku_id", reads=LINES,
           days=(SALES, REFUNDS),
           description="SKU sales per shop and day (商品店铺日销): out orders, items, amount and refund "
           "orders."),
    Metric(table="ads_inventory_overview", sql=INVENTORY_OVERVIEW, grain="stat_date, category",
           reads=("ads_inventory_turnover", "dim_sku"), days=(STOCK,), windowed=(SALES,),
           description="Stock by category (库存总览): SKUs, units, SKUs below minimum and at zero."),
    Metric(table="ads_replenishment", sql=REPLENISHMENT, grain="stat_date, sku_id",
           reads=("ads_inventory_turnover", "dws_inventory_daily"), days=(STOCK,), windowed=(SALES,),
           description="SKUs to reorder (补货建议) with the suggested quantity for lead time plus safety "
           "days."),
    Metric(table="ads_sales_forecast", sql=None, grain="stat_date, shop_id, hour", reads=("dws_sale_out",),
           days=(SALES,), kinds=frozenset({"clickhouse", "polars"}),  # qeasy.warehouse.forecast
           description="Shop sales by hour with a forecast to midnight (销售预测) from the shape of the "
           "last 7 days."),
)
for _extra in EXTRA_METRICS:  # after the built-in ones, which they may read
    if not isinstance(_extra, Metric) or not _extra.columns or _extra.sql is None:
        raise ValueError(f"QEASY_DATASETS: {_extra!r} is not a Metric with its columns and SQL")
METRICS += tuple(EXTRA_METRICS)
# The datasets some metric counts (their changed days are noted for the metrics), in declaration order.
COUNTED = tuple(name for name in DATASETS if any(name in m.days + m.windowed for m in METRICS))
LEAD_DAYS, SAFETY_DAYS = 7, 3  # screens.md's defaults for the suggested reorder quantity


def mart_parameters(commission: Commission | None = None, lead_days: int = LEAD_DAYS,
                    safety_days: int = SAFETY_DAYS) -> dict:
    """The marts' query parameters: commission rates (none by default) and reorder days."""
    return {**(commission or Commission()).parameters(), "lead_days": lead_days, "safety_days": safety_days}


def publish_metrics(client: Client, metric: Metric, days: set[date], stale: set[date], version: int,
                    settings: dict | None = None) -> None:
    """Recompute the metric `days` (ingested) of one ADS table, and drop its `stale` days (no longer
    ingested), as publish `version`; `settings`: the marts' parameters (`mart_parameters`)."""
    scope = sorted(days | stale)
    if not scope:
        return
    parameters = {**mart_parameters(), **(settings or {}), "days": sorted(days), "scope": scope,
                  "line_days": sorted({day - timedelta(days=k) for day in days for k in range(WINDOW_DAYS)})}
    upsert(client, metric.table, metric.grain, "stat_date IN {scope:Array(Date)}", version,
           lambda stage: client.command(f"INSERT INTO {stage} SELECT *, 0, 0 FROM ({metric.sql})",
                                        parameters=parameters),
           parameters=parameters)
