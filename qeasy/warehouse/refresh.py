"""One warehouse refresh for a set of staged days: wide tables, then the metrics they change."""

from dataclasses import dataclass, field
from datetime import date

import duckdb
from clickhouse_connect.driver.client import Client

from qeasy.cleanse.dwd import loaded_days, table_exists
from qeasy.warehouse.ads import publish_metrics
from qeasy.warehouse.dws import FACTS, publish_fact, publish_inventory

FACT_DATASETS = ("sales_out", "after_sale", "inventory")


@dataclass
class Refresh:
    months: dict[str, set[int]] = field(default_factory=dict)  # table -> YYYYMM partitions rebuilt
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows in the rebuilt months


def _next(month: int) -> int:
    return month + 1 if month % 100 < 12 else (month // 100 + 1) * 100 + 1


def refresh(conn: duckdb.DuckDBPyConnection, client: Client, days: list[date]) -> Refresh:
    """Rebuild what the staged `days` change: DWS months, then the ADS months (and the 7-day windows
    reaching into the following month) over every day ingested so far."""
    result = Refresh()
    loaded = loaded_days(conn, FACT_DATASETS)
    for fact in FACTS:
        if table_exists(conn, fact.dataset):
            result.months[fact.table] = publish_fact(conn, client, fact, days)
    if table_exists(conn, "inventory"):
        result.months["dws_inventory_daily"] = publish_inventory(conn, client, days, loaded)
    touched = set().union(*result.months.values(), {d.year * 100 + d.month for d in days})
    metric_months = touched | {_next(month) for month in touched}
    last = max(loaded, default=max(days))
    metric_months = {m for m in metric_months if m <= last.year * 100 + last.month}
    result.rows = publish_metrics(client, metric_months, loaded)
    for table in result.rows:
        result.months[table] = metric_months
    for fact in FACTS:
        result.rows[fact.table] = _count(client, fact.table, "biz_date", result.months.get(fact.table, set()))
    result.rows["dws_inventory_daily"] = _count(
        client, "dws_inventory_daily", "stat_date", result.months.get("dws_inventory_daily", set())
    )
    result.rows["dws_inventory"] = _count(client, "dws_inventory")
    return result


def _count(client: Client, table: str, column: str = "", months: set[int] | None = None) -> int:
    """Rows of `table` (in `months` of `column` when given), as readers see them."""
    where = f" WHERE toYYYYMM({column}) IN {{months:Array(UInt32)}}" if column else ""
    return client.query(
        f"SELECT count() FROM v_{table}{where}", parameters={"months": sorted(months or [])}
    ).result_rows[0][0]
