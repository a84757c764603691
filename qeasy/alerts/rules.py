"""The alert rules of warehouse.md, evaluated on the ADS views for one day.

- stock-out (缺货): a SKU whose `end_qty` is 0 while it shipped in the last 7 days (`out_qty_7d > 0`);
- after-sale spike (售后率): a SKU whose 7-day after-sale rate exceeds `rate` over at least
  `min_orders` out orders, or a shop-day whose after-sale rate exceeds `rate` over at least
  `min_orders` out orders.

Operations alerts travel the same way: a failed run (运行失败) and a failed blocking check (检查失败),
raised by the sensors from Dagster's own records.
"""

from dataclasses import dataclass
from datetime import date

from clickhouse_connect.driver.client import Client

STOCK_OUT = "stock_out"
AFTER_SALE_SPIKE = "after_sale_spike"
RUN_FAILED = "run_failed"
CHECK_FAILED = "check_failed"

RULE_LABELS = {STOCK_OUT: "缺货 stock-out", AFTER_SALE_SPIKE: "售后率 after-sale rate",
               RUN_FAILED: "运行失败 run failed", CHECK_FAILED: "检查失败 blocking check failed"}
KIND_LABELS = {"sku": "SKU", "shop": "店铺 shop", "run": "运行 run", "check": "检查 check"}


@dataclass(frozen=True)
class Alert:
    rule: str  # one of RULE_LABELS
    subject_id: str  # SKU or shop id; for operations alerts the job or check and its partitions
    subject_name: str | None
    day: date
    value: float  # stock-out: end_qty; spike: the after-sale rate; operations: 0
    threshold: float  # stock-out: 0 (the stock level that fires); spike: the configured rate
    kind: str  # "sku", "shop", "run" or "check"
    orders: int | None = None  # stock-out: out_qty_7d; spike: the out orders the rate is over
    detail: str | None = None  # operations alerts: what failed, in a line

    @property
    def subject(self) -> str:
        """The subject as recorded in ops_alerts: kind and id, so a shop and a SKU never collide."""
        return f"{self.kind}:{self.subject_id}"

    @property
    def key(self) -> tuple[str, str, date]:
        return self.rule, self.subject, self.day


STOCK_OUTS = """SELECT sku_id, sku_name, end_qty, out_qty_7d FROM v_ads_inventory_turnover
    WHERE stat_date = {day:Date} AND end_qty = 0 AND out_qty_7d > 0 ORDER BY sku_id"""

SPIKES = """SELECT * FROM (
    SELECT 'shop' AS kind, toString(shop_id) AS id, shop_name AS name, after_sale_rate AS rate,
        out_orders AS orders
    FROM v_ads_shop_daily WHERE stat_date = {day:Date} AND after_sale_rate > {rate:Float64}
        AND out_orders >= {n:UInt64}
    UNION ALL
    SELECT 'sku', sku_id, sku_name, after_sale_rate_7d, out_orders_7d
    FROM v_ads_sku_after_sale_7d WHERE stat_date = {day:Date} AND after_sale_rate_7d > {rate:Float64}
        AND out_orders_7d >= {n:UInt64})
ORDER BY kind, id"""


def evaluate(client: Client, day: date, rate: float, min_orders: int) -> list[Alert]:
    """The alerts that fire on `day` with the after-sale threshold `rate` and `min_orders`."""
    alerts = [
        Alert(STOCK_OUT, str(sku_id), name, day, float(end_qty), 0.0, "sku", int(out_qty_7d))
        for sku_id, name, end_qty, out_qty_7d in client.query(
            STOCK_OUTS, parameters={"day": day}).result_rows
    ]
    alerts += [
        Alert(AFTER_SALE_SPIKE, str(subject_id), name, day, float(value), float(rate), kind, int(orders))
        for kind, subject_id, name, value, orders in client.query(
            SPIKES, parameters={"day": day, "rate": rate, "n": min_orders}).result_rows
    ]
    return alerts
