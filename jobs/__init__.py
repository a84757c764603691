"""Dagster jobs. `main`: every day-partitioned asset for a day range (ingest, cleanse, dimensions,
wide tables, metrics); `shops`: the shop list and its dimension (unpartitioned); `ingest`: only the
ODS pulls of a day range."""

import dagster as dg

SHOPS = dg.AssetSelection.assets("ods_shop", "dim_shop")

main_job = dg.define_asset_job(
    "main",
    selection=dg.AssetSelection.all() - SHOPS,
    description="Ingest every ERP dataset for the days, cleanse and check it, publish wide tables "
    "and metrics.",
)
shops_job = dg.define_asset_job(
    "shops",
    selection=SHOPS,
    description="Pull the shop list and publish dim_shop.",
)
ingest_job = dg.define_asset_job(
    "ingest",
    selection=dg.AssetSelection.groups("ods") - SHOPS,
    description="Pull every day-partitioned ERP dataset into DuckDB staging (ODS) only.",
)
jobs = [main_job, shops_job, ingest_job]
