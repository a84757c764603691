"""The one partitioning of qeasy: Beijing calendar days, from the first day of history on."""

from datetime import date, timedelta

import dagster as dg

from qeasy.settings import first_day

# QEASY_FIRST_DAY as the environment (and `.env`) says now: every asset module builds on `daily`
# when it is imported, so the partitions are fixed for the life of the code location.
FIRST_DAY = first_day()

# end_offset=1 keeps today's partition, which the near-real-time pull refreshes while it grows.
daily = dg.DailyPartitionsDefinition(start_date=FIRST_DAY.isoformat(), timezone="Asia/Shanghai",
                                     end_offset=1)

# Every day-partitioned asset is re-materialised for today every few seconds by the near-real-time
# sensor (runs back to back), and freshness counts the newest materialisation of any partition: five
# minutes without one means runs are failing or stuck (warn), fifteen that today's figures are stale.
NEAR_REAL_TIME = dg.FreshnessPolicy.time_window(fail_window=timedelta(minutes=15),
                                                warn_window=timedelta(minutes=5))


def partition_days(context: dg.AssetExecutionContext) -> list[date]:
    """The Beijing days of the partition range being materialised."""
    start, end = (date.fromisoformat(key) for key in (context.partition_key_range.start,
                                                      context.partition_key_range.end))
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]
