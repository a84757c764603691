"""The code location Dagster loads (`workspace.yaml`, `dagster ... -m qeasy_assets.definitions`)."""

import dagster as dg

defs = dg.Definitions(assets=[], resources={})
