"""DWS wide tables: the latest version of every record, joined with its dimensions, by month.

The latest version of a record is the one with the highest `ts`, then `modified`, across every
staged day (DWD keeps them all); its lines replace every older version's. A month of a wide table
is rebuilt whole from DWD and swapped in, so re-running any day, in any order, gives the same
contents, and an order's vanished lines are gone.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import duckdb
import polars as pl
from clickhouse_connect.driver.client import Client

from qeasy.warehouse.dims import shop_names, sku_attributes
from qeasy.warehouse.publish import replace_all, replace_months

# A confirm_date that is present but unparseable gives a refund order no day: it is not counted.
NO_REFUND_DAY = "unparseable confirm_date"


@dataclass(frozen=True)
class Fact:
    dataset: str
    table: str
    key: str  # the record id; (key, line key) is the grain


FACTS = (Fact("sales_out", "dws_sale_out", "io_id"), Fact("after_sale", "dws_after_sale", "as_id"))


def _month(column: str) -> str:
    return f"(year({column}) * 100 + month({column}))"


def _latest(dataset: str, key: str) -> str:
    """DuckDB: the rows of each record's latest version (one staged day wins a tie)."""
    return f"""
        WITH pick AS (
            SELECT {key}, partition_day
            FROM (SELECT DISTINCT {key}, ts, modified, partition_day FROM dwd.{dataset})
            QUALIFY row_number() OVER (PARTITION BY {key}
                ORDER BY ts DESC NULLS LAST, modified DESC NULLS LAST, partition_day DESC) = 1)
        SELECT d.* FROM dwd.{dataset} d JOIN pick USING ({key}, partition_day)"""


def touched_months(conn: duckdb.DuckDBPyConnection, client: Client, fact: Fact, days: list[date]) -> set[int]:
    """Months whose contents the staged `days` may change: every month holding any version of a
    record staged on those days, or published from them (a re-run day may have lost its version,
    bringing an older one back), or naming a SKU that was missing from dim_sku and is found now."""
    published = client.query_df_arrow(
        f"SELECT DISTINCT {fact.key} AS key, toYYYYMM(biz_date) AS month FROM {fact.table} "
        "WHERE source_day IN {days:Array(Date)} "
        "OR (sku_missing = 1 AND sku_id IN (SELECT sku_id FROM dim_sku))",
        parameters={"days": days}, dataframe_library="polars")
    conn.register("published_keys", published.select("key").to_arrow())
    try:
        staged = conn.execute(f"""
            SELECT DISTINCT {_month("biz_date")} FROM dwd.{fact.dataset}
            WHERE {fact.key} IN (SELECT {fact.key} FROM dwd.{fact.dataset}
                                 WHERE partition_day IN (SELECT UNNEST(?::DATE[])))
               OR {fact.key} IN (SELECT key FROM published_keys)""", [days]).fetchall()
    finally:
        conn.unregister("published_keys")
    return {row[0] for row in staged} | set(published["month"].to_list())


BATCH_ROWS = 250_000  # rows moved from DuckDB to ClickHouse at a time: memory stays flat


@dataclass(frozen=True)
class Dimensions:
    """SKU and shop attributes joined onto facts (read once per refresh)."""

    skus: pl.DataFrame
    shops: pl.DataFrame

    @classmethod
    def read(cls, client: Client) -> "Dimensions":
        return cls(sku_attributes(client).with_columns(_in_dim=pl.lit(True)), shop_names(client))

    def join(self, frame: pl.DataFrame) -> pl.DataFrame:
        frame = frame.join(self.skus, on="sku_id", how="left").with_columns(
            i_id=pl.coalesce("i_id", "dim_i_id"),
            sku_missing=(pl.col("sku_id").is_not_null() & pl.col("_in_dim").is_null()).cast(pl.UInt8),
        )
        if "shop_id" in frame.columns:
            frame = frame.join(self.shops, on="shop_id", how="left").with_columns(
                shop_name=pl.coalesce("dim_shop_name", "shop_name"))
        return frame


def _published(frame: pl.DataFrame) -> pl.DataFrame:
    """Wide-table values from DWD ones (the insert keeps the table's columns)."""
    return frame.with_columns(
        ts=pl.col("ts").fill_null(0).cast(pl.UInt64),
        source_day=pl.col("partition_day"),
        **({"is_gift": pl.col("is_gift").fill_null(False).cast(pl.UInt8)}
           if "is_gift" in frame.columns else {}),
    )


def fact_rows(conn: duckdb.DuckDBPyConnection, dims: Dimensions, fact: Fact,
              months: set[int]) -> Iterator[pl.DataFrame]:
    """The wide-table rows of `months` for one fact dataset, a batch at a time."""
    reader = conn.execute(f"SELECT * FROM ({_latest(fact.dataset, fact.key)}) WHERE {_month('biz_date')} IN "
                          "(SELECT UNNEST(?::INT[]))", [sorted(months)]).to_arrow_reader(BATCH_ROWS)
    for arrow in reader:
        frame = dims.join(pl.from_arrow(arrow))
        if fact.dataset == "after_sale":
            frame = frame.with_columns(is_refund=(
                (pl.col("status") == "Confirmed") & (pl.col("refund") > 0)
                & ~pl.col("anomaly_reason").str.contains(NO_REFUND_DAY, literal=True)
            ).fill_null(False).cast(pl.UInt8))
        yield _published(frame)


def publish_fact(conn: duckdb.DuckDBPyConnection, client: Client, fact: Fact, days: list[date]) -> set[int]:
    """Rebuild every month of `fact.table` that `days` touch; the months rebuilt."""
    months = touched_months(conn, client, fact, days)
    if months:
        replace_months(client, fact.table, months, fact_rows(conn, Dimensions.read(client), fact, months))
    return months


def publish_inventory(
    conn: duckdb.DuckDBPyConnection, client: Client, days: list[date], loaded: list[date]
) -> set[int]:
    """Current stock per SKU, and end-of-day stock for every loaded day from the first of `days` on."""
    current = pl.from_arrow(conn.execute(_latest("inventory", "sku_id")).to_arrow_table())
    replace_all(client, "dws_inventory", _published(Dimensions.read(client).join(current)))
    # A version changes end-of-day stock from its day on; whole months are rebuilt.
    months = {day.year * 100 + day.month for day in loaded if day >= min(days)}
    stat_days = [day for day in loaded if day.year * 100 + day.month in months]
    daily = pl.from_arrow(
        conn.execute(
            """
        WITH v AS (SELECT sku_id, coalesce(ts, 0) AS ts, modified, qty, min_qty, is_anomaly
                   FROM dwd.inventory WHERE modified IS NOT NULL),
             d AS (SELECT UNNEST(?::DATE[]) AS stat_date)
        SELECT stat_date, sku_id, last.qty AS end_qty, last.min_qty AS min_qty, last.ts::UBIGINT AS ts,
               last.is_anomaly::UTINYINT AS is_anomaly
        FROM (SELECT d.stat_date, v.sku_id,
                     arg_max({'qty': qty, 'min_qty': min_qty, 'ts': ts, 'is_anomaly': is_anomaly},
                             (v.ts, v.modified)) AS last
              FROM d JOIN v ON v.modified < d.stat_date + INTERVAL 1 DAY GROUP BY ALL)""",
            [stat_days],
        ).to_arrow_table()
    )
    replace_months(client, "dws_inventory_daily", months, [daily])
    return months
