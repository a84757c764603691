"""The metric alerts of warehouse.md (stock-out, after-sale spike), delivered once per (rule, subject,
day) and channel, and every earlier failed delivery retried.

Each tick reads the `ads_shop_daily` materialisations since the sensor's cursor (one per partition,
never coalesced), evaluates the rules for the last day each run covered, and delivers through
`ops_alerts`, which remembers what was sent across retries, re-runs and daemon restarts. The cursor
moves only once delivery was recorded; a warehouse busy with a run is tried again next tick.
"""

from collections import defaultdict
from datetime import date

import dagster as dg

from qeasy.warehouse.clickhouse import WarehouseBusy
from resources.alerting import AlertingResource
from resources.clickhouse import ClickHouseResource

WATCHED = dg.AssetKey("ads_shop_daily")  # the ADS tables are refreshed together, in one step
BATCH = 500
WAIT_SECONDS = 20  # for the embedded warehouse's lock; a sensor tick has about a minute in all


def last_days(records) -> list[date]:
    """The last day each run materialised (the rules are evaluated for it), in order."""
    per_run: dict[str, str] = defaultdict(str)
    for record in records:
        if record.partition_key:
            per_run[record.run_id] = max(per_run[record.run_id], record.partition_key)
    return sorted({date.fromisoformat(day) for day in per_run.values()})


@dg.sensor(minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Stock-out and after-sale alerts to Feishu / DingTalk, once each; failed sends "
           "retried.")
def metric_alerts(context: dg.SensorEvaluationContext, warehouse: ClickHouseResource,
                  alerting: AlertingResource):
    found = context.instance.fetch_materializations(WATCHED, limit=BATCH, cursor=context.cursor,
                                                    ascending=True)
    days = last_days(found.records)
    try:
        with warehouse.session(wait=WAIT_SECONDS) as client:
            alerts = [alert for day in days for alert in alerting.evaluate(client, day)]
            report = alerting.deliver(client, alerts)
    except WarehouseBusy as exc:
        return dg.SkipReason(f"{exc}; trying again next tick")
    if found.records:
        context.update_cursor(found.cursor)
    return dg.SkipReason(
        f"days {', '.join(map(str, days)) or 'none new'}: {len(alerts)} alert(s); {report.sent} sent, "
        f"{report.skipped} already sent, {report.failed} failed (retried next tick)"
        + (f"; {report.errors[0]}" if report.errors else ""))
