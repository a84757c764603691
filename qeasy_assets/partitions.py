"""The one partitioning of qeasy: Beijing calendar days, from the first day the ERP has data."""

import dagster as dg

FIRST_DAY = "2026-01-01"

# end_offset=1 keeps today's partition, which the near-real-time pull refreshes while it grows.
daily = dg.DailyPartitionsDefinition(start_date=FIRST_DAY, timezone="Asia/Shanghai", end_offset=1)
