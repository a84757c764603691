"""The code location Dagster loads (`workspace.yaml`, `dagster ... -m qeasy_assets.definitions`)."""

import warnings

import dagster as dg

from jobs import jobs
from jobs.distributed import executor
from jobs.push import push_schedule
from jobs.schedules import schedules
from qeasy.progress import progress
from qeasy.settings import Settings, load_settings
from resources import build_resources
from sensors import sensors

# Partitioned asset checks and backfill policies are marked preview/beta in dagster 1.13; we pin
# the version, so the warnings only repeat on every import.
warnings.filterwarnings("ignore", category=dg.PreviewWarning)
warnings.filterwarnings("ignore", category=dg.BetaWarning)

# noqa: E402 below: the assets are defined after the filters above.
from qeasy_assets.dims.assets import dim_shop, dim_sku  # noqa: E402
from qeasy_assets.dwd.assets import dwd_assets  # noqa: E402
from qeasy_assets.ods.assets import ods_assets  # noqa: E402
from qeasy_assets.sinks.assets import mysql_unique_code_flow  # noqa: E402
from qeasy_assets.warehouse.assets import pipeline_health, warehouse_assets  # noqa: E402

ASSETS = [*ods_assets, *dwd_assets, dim_sku, dim_shop, warehouse_assets, pipeline_health]
# Evaluates the assets' automation conditions (the daily shop list); on by default, like the schedules.
AUTOMATION = dg.AutomationConditionSensorDefinition(
    "automation", target=dg.AssetSelection.all(), default_status=dg.DefaultSensorStatus.RUNNING)

# A run uses the loggers its run config names, Dagster's console when it names none; `progress` is
# named by `qeasy run` only. `console` stays listed so run configs that name it remain valid.
LOGGERS = {"console": dg.colored_console_logger, "progress": progress}


def build_definitions(settings: Settings) -> dg.Definitions:
    """Everything Dagster serves, wired to the resources the settings describe."""
    # The MySQL sink exists only with a DSN: without one nothing is attempted.
    sinks = [mysql_unique_code_flow] if settings.mysql_dsn else []
    return dg.Definitions(assets=[*ASSETS, *sinks], jobs=jobs,
                          schedules=[*schedules, push_schedule(settings.push_at)],
                          sensors=[*sensors, AUTOMATION],
                          resources=build_resources(settings), loggers=LOGGERS, executor=executor(settings))


defs = build_definitions(load_settings())
