"""The figures of the daily push for one Beijing day, read from the ADS `v_` views.

- out orders, out amount, refund orders and amount: sums over the day's rows of `ads_shop_daily`;
  the after-sale rate is refund orders / out orders over all shops (None without out orders);
- the top 5 shops by out amount (ties: lower shop id first), among shops with out orders;
- stock-outs: SKUs of `ads_inventory_turnover` with `end_qty = 0` that shipped in the last 7 days,
  the stock-out rule of warehouse.md, so the count matches the 缺货 alerts the same chat receives;
- SKUs to reorder: rows of `ads_replenishment` with `suggested_qty > 0` (a SKU below its minimum whose
  stock in transit already covers it has nothing to order);
- the top 3 SKUs by 7-day after-sale rate over at least `min_orders` out orders (the alert rules'
  minimum) and with a refund at all; ties: more out orders, then SKU id.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from clickhouse_connect.driver.client import Client

TOTALS = """SELECT count(), sum(out_orders), sum(out_amount), sum(refund_orders), sum(refund_amount)
    FROM v_ads_shop_daily WHERE stat_date = {day:Date}"""
TOP_SHOPS = """SELECT shop_id, shop_name, out_orders, out_amount FROM v_ads_shop_daily
    WHERE stat_date = {day:Date} AND out_orders > 0 ORDER BY out_amount DESC, shop_id LIMIT 5"""
STOCK = """SELECT count(), countIf(end_qty = 0 AND out_qty_7d > 0) FROM v_ads_inventory_turnover
    WHERE stat_date = {day:Date}"""
REORDER = "SELECT countIf(suggested_qty > 0) FROM v_ads_replenishment WHERE stat_date = {day:Date}"
SKU_ROWS = "SELECT count() FROM v_ads_sku_after_sale_7d WHERE stat_date = {day:Date}"
TOP_SKUS = """SELECT sku_id, sku_name, after_sale_rate_7d, refund_orders_7d, out_orders_7d
    FROM v_ads_sku_after_sale_7d
    WHERE stat_date = {day:Date} AND out_orders_7d >= {n:UInt64} AND refund_orders_7d > 0
    ORDER BY after_sale_rate_7d DESC, out_orders_7d DESC, sku_id LIMIT 3"""


@dataclass(frozen=True)
class ShopLine:
    shop_id: int
    shop_name: str | None
    out_orders: int
    out_amount: Decimal


@dataclass(frozen=True)
class SkuLine:
    sku_id: str
    sku_name: str | None
    rate: float
    refund_orders: int
    out_orders: int


@dataclass(frozen=True)
class DailySummary:
    day: date
    has_data: bool  # any metric row for the day at all; without, the message says so
    out_orders: int
    out_amount: Decimal
    refund_orders: int
    refund_amount: Decimal
    after_sale_rate: float | None
    top_shops: list[ShopLine]
    stock_outs: int
    to_reorder: int
    top_skus: list[SkuLine]
    min_orders: int


def read_summary(client: Client, day: date, min_orders: int) -> DailySummary:
    """The push's figures for `day` (parameterised queries on the `v_` views only)."""
    parameters = {"day": day}

    def rows(sql: str, **extra) -> list:
        return client.query(sql, parameters=parameters | extra).result_rows

    shop_rows, out_orders, out_amount, refund_orders, refund_amount = rows(TOTALS)[0]
    inventory_rows, stock_outs = rows(STOCK)[0]
    (sku_rows,) = rows(SKU_ROWS)[0]
    return DailySummary(
        day=day,
        has_data=shop_rows + inventory_rows + sku_rows > 0,
        out_orders=int(out_orders),
        out_amount=Decimal(out_amount),
        refund_orders=int(refund_orders),
        refund_amount=Decimal(refund_amount),
        after_sale_rate=refund_orders / out_orders if out_orders else None,
        top_shops=[ShopLine(int(shop_id), name, int(orders), Decimal(amount))
                   for shop_id, name, orders, amount in rows(TOP_SHOPS)],
        stock_outs=int(stock_outs),
        to_reorder=int(rows(REORDER)[0][0]),
        top_skus=[SkuLine(str(sku_id), name, float(rate), int(refunds), int(orders))
                  for sku_id, name, rate, refunds, orders in rows(TOP_SKUS, n=min_orders)],
        min_orders=min_orders,
    )
