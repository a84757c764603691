"""Dagster jobs: `ingest` pulls every partitioned ERP dataset for a day range; `ingest_shops` the
shop list (unpartitioned)."""

import dagster as dg

ingest_job = dg.define_asset_job(
    "ingest",
    selection=dg.AssetSelection.groups("ods") - dg.AssetSelection.assets("ods_shop"),
    description="Pull every day-partitioned ERP dataset into DuckDB staging (ODS).",
)
ingest_shops_job = dg.define_asset_job(
    "ingest_shops", selection=dg.AssetSelection.assets("ods_shop"),
    description="Pull the shop list into DuckDB staging (ODS).",
)
jobs = [ingest_job, ingest_shops_job]
