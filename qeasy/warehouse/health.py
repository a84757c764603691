"""ads_pipeline_health_hourly (screens.md): API health per hour and dataset, from `ops_api_calls`.

Rows are recorded when a pull stages what it read, so a new row lands in the hour of its writing,
at or after every earlier one. It is its own asset, apart from the refresh of the staged datasets:
it reads only the warehouse, so a distributed run computes it on any host. Each publish recomputes
the hours of the rows recorded since the newest one it had seen (its hour included, for rows
recorded later in it) and keeps that instant in `_refresh_state`; a warehouse without it
recomputes every hour.
"""

from datetime import date, datetime

from clickhouse_connect.driver.client import Client

from qeasy.erp.times import BEIJING
from qeasy.warehouse import state
from qeasy.warehouse.publish import upsert

TABLE = "ads_pipeline_health_hourly"
STATE = "api_calls_seen"  # the _refresh_state row: newest recorded_at published, epoch ms
HOURLY = """
SELECT toStartOfHour(recorded_at) AS stat_hour, dataset, sum(calls) AS calls, sum(errors) AS errors,
       sum(throttled) AS throttled, sum(retries) AS retries, sum(rows) AS rows,
       max(latency_p95_ms) AS latency_p95_ms, if(calls = 0, NULL, errors / calls) AS error_rate
FROM ops_api_calls WHERE toUnixTimestamp(toStartOfHour(recorded_at)) IN {hours:Array(UInt32)}
GROUP BY stat_hour, dataset"""


def publish_health(client: Client) -> tuple[int, list[date]]:
    """Recompute the hours with API-health rows recorded since the last publish; its publish version
    and the days of those hours."""
    last = client.query(f"SELECT max(publish_version) FROM {TABLE}").result_rows[0][0]
    version = state.next_version(int(last or 0))
    seen = state.mark(client, STATE)
    since = "" if seen is None else f"WHERE recorded_at >= fromUnixTimestamp64Milli(toInt64({seen}))"
    hours, newest = client.query(
        "SELECT groupUniqArray(toUnixTimestamp(toStartOfHour(recorded_at))), "
        f"max(toUnixTimestamp64Milli(recorded_at)) FROM ops_api_calls {since}").result_rows[0]
    if not hours:
        return version, []
    parameters = {"hours": sorted(hours)}
    upsert(client, TABLE, "stat_hour, dataset", "toUnixTimestamp(stat_hour) IN {hours:Array(UInt32)}",
           version, lambda stage: client.command(f"INSERT INTO {stage} SELECT *, 0, 0 FROM ({HOURLY})",
                                                 parameters=parameters), parameters=parameters)
    state.set_mark(client, STATE, int(newest), version)
    return version, sorted({datetime.fromtimestamp(hour, BEIJING).date() for hour in hours})
