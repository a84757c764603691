"""`dq_quarantine`: every flagged or unkeepable record with its reason and raw JSON.

An entry keeps the time it was first seen across re-runs, so re-running a day changes nothing.
"""

from datetime import datetime

import polars as pl
from clickhouse_connect.driver.client import Client

from qeasy.erp.times import BEIJING
from qeasy.warehouse.publish import insert

KEY = ["dataset", "record_key", "reason"]


def publish_quarantine(client: Client, entries: pl.DataFrame) -> int:
    """Upsert quarantine entries (cleanse.QUARANTINE_SCHEMA); returns how many were new."""
    if not entries.height:
        return 0
    seen = client.query_df_arrow(
        "SELECT dataset, record_key, reason, min(first_seen) AS first_seen FROM dq_quarantine "
        "WHERE dataset IN {datasets:Array(String)} AND record_key IN {keys:Array(String)} GROUP BY ALL",
        parameters={
            "datasets": entries["dataset"].unique().to_list(),
            "keys": entries["record_key"].unique().to_list(),
        },
        dataframe_library="polars",
    )
    seen = (
        seen.with_columns(pl.col("first_seen").dt.replace_time_zone(None))
        if seen.height
        else pl.DataFrame(schema={**dict.fromkeys(KEY, pl.String), "first_seen": pl.Datetime("ms")})
    )
    now = datetime.now(BEIJING).replace(tzinfo=None)
    rows = entries.join(seen, on=KEY, how="left")
    new = rows["first_seen"].null_count()
    rows = rows.with_columns(pl.col("first_seen").fill_null(now))
    insert(
        client,
        "dq_quarantine",
        rows.select("dataset", "record_key", "reason", "raw", "first_seen", "partition_day", "version"),
    )
    return new
