"""The optional MySQL sink asset: the published unique-code flow copied to MySQL/MariaDB per day.

It exists only when QEASY_MYSQL_DSN is set (qeasy_assets.definitions). It reads ClickHouse only,
never DuckDB staging, so Celery may run it on any host (qeasy_assets.queues).
"""

import dagster as dg

from qeasy.sinks.mysql import GRAIN, published_rows, unpublished, write_days
from qeasy.sinks.mysql import TABLE as FLOW
from qeasy_assets.partitions import daily, partition_days
from resources.clickhouse import ClickHouseResource
from resources.mysql import MySqlResource

SINK = "sink_mysql_unique_code_flow"


@dg.asset(
    key=SINK,
    deps=[FLOW],
    description="The unique-code in/out flow (唯一码进出流水) copied to MySQL/MariaDB: per day one "
    "transaction that upserts the day's published rows and deletes the ones no longer published.",
    group_name="sink",
    kinds={"clickhouse", "mysql"},
    owners=["team:data-platform"],
    partitions_def=daily,
    backfill_policy=dg.BackfillPolicy.single_run(),
    metadata={"source": f"v_{FLOW}", "grain": ", ".join(GRAIN)},
)
def mysql_unique_code_flow(context: dg.AssetExecutionContext, warehouse: ClickHouseResource,
                           mysql: MySqlResource) -> dg.MaterializeResult:
    days = partition_days(context)
    target = mysql.target()
    # Read, then let the embedded warehouse go before the (possibly slow) writes.
    with warehouse.session() as client:
        missing = unpublished(client, days)
        if missing:  # writing nothing would delete the day's rows in MySQL
            raise dg.Failure(f"{FLOW} is not published for {', '.join(map(str, missing[:5]))}: "
                             "materialise the warehouse for those days first")
        rows = published_rows(client, days)
    written = write_days(target, days, rows, mysql.table)
    upserted, deleted = sum(w.upserted for w in written), sum(w.deleted for w in written)
    context.log.info(f"{target.where}.{mysql.table}: {len(written)} day(s), {upserted:,} rows upserted, "
                     f"{deleted:,} deleted")
    return dg.MaterializeResult(metadata={
        "target": f"{target.where}.{mysql.table}",  # never the user's password
        "days": len(written),
        "rows_upserted": dg.MetadataValue.int(upserted),
        "rows_deleted": dg.MetadataValue.int(deleted),
    })
