"""Dagster jobs. `main`: every day-partitioned asset for a day range (ingest, cleanse, dimensions,
wide tables, metrics); `nrt`: the same for today, reading only what changed since the last pull, in
one process; `shops`: the shop list and its dimension (unpartitioned); `ingest`: only the ODS pulls;
`push`: the daily push (`jobs/push.py`).

Schedules are in `jobs/schedules.py`."""

import dagster as dg

from jobs.push import push_job
from qeasy.datasets import CLEANSED, ENDPOINTS

SHOPS = dg.AssetSelection.assets("ods_shop", "dim_shop")
DAY_ASSETS = dg.AssetSelection.all() - SHOPS
# Every run that writes the DuckDB staging file carries this tag: the run queue lets one at a time
# through (dagster.yaml, `qeasy.runner.dagster_home`), so runs never fight over its single-writer lock.
STAGING = {"qeasy/staging": "write"}

main_job = dg.define_asset_job(
    "main",
    selection=DAY_ASSETS,
    tags=STAGING,
    description="Ingest every ERP dataset for the days, cleanse and check it, publish wide tables "
    "and metrics.",
)
nrt_job = dg.define_asset_job(
    "nrt",
    selection=DAY_ASSETS,
    # A run takes seconds to a minute: one still going after 15 minutes is hung, and Dagster's run
    # monitoring fails it so that the near-real-time trigger starts the next.
    tags=STAGING | {"dagster/max_runtime": "900"},
    # One process: no 2-4 s start-up per step, which the 60-second freshness target cannot afford.
    executor_def=dg.in_process_executor,
    config={"ops": {
        **{f"ods_{name}": {"config": {"since_staged": True}}
           for name, endpoint in ENDPOINTS.items() if endpoint.partitioned},
        **{f"dwd_{name}": {"config": {"changed_only": True}} for name in CLEANSED},
    }},
    description="Near-real-time refresh of today: pull what changed in the ERP since the last pull, "
    "cleanse just that, republish the records it changes and recompute the metric days they touch.",
)
shops_job = dg.define_asset_job(
    "shops",
    selection=SHOPS,
    tags=STAGING,
    description="Pull the shop list and publish dim_shop.",
)
ingest_job = dg.define_asset_job(
    "ingest",
    selection=dg.AssetSelection.groups("ods") - SHOPS,
    tags=STAGING,
    description="Pull every day-partitioned ERP dataset into DuckDB staging (ODS) only.",
)
jobs = [main_job, nrt_job, shops_job, ingest_job, push_job]
