"""What `qeasy run` prints at the end: rows per contract table, the latest day's metrics, and the
alert rules of warehouse.md that fire on it."""

from dataclasses import dataclass
from datetime import date

from clickhouse_connect.driver.client import Client

from qeasy.alerts.rules import Alert, evaluate
from qeasy.warehouse.health import TABLE as HEALTH
from qeasy.warehouse.refresh import tables

# The contract's tables: dimensions, what a refresh writes, the API health and the quarantine.
TABLES = ["dim_shop", "dim_sku", *tables(), HEALTH, "dq_quarantine"]


@dataclass(frozen=True)
class Summary:
    rows: dict[str, int]
    day: date
    metrics: dict[str, float | int | None]  # the day's totals over all shops
    alerts: list[Alert]  # the rules that fire on the day


def summarise(client: Client, day: date, rate: float, min_orders: int) -> Summary:
    """The summary for `day` with the alert thresholds `rate` (after-sale) and `min_orders`."""
    rows = {table: client.query(f"SELECT count() FROM v_{table}").result_rows[0][0] for table in TABLES}
    totals = client.query(
        "SELECT sum(out_orders), sum(out_qty), sum(out_amount), sum(refund_orders), sum(refund_amount) "
        "FROM v_ads_shop_daily WHERE stat_date = {day:Date}", parameters={"day": day}).result_rows[0]
    out_orders, out_qty, out_amount, refund_orders, refund_amount = totals
    metrics = {"out_orders": int(out_orders or 0), "out_qty": int(out_qty or 0),
               "out_amount": float(out_amount or 0), "refund_orders": int(refund_orders or 0),
               "refund_amount": float(refund_amount or 0),
               "after_sale_rate": (refund_orders / out_orders) if out_orders else None}
    return Summary(rows, day, metrics, evaluate(client, day, rate, min_orders))
