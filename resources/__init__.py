"""Dagster resources built from qeasy's settings: the ERP account, DuckDB staging, the ClickHouse
warehouse, the marts' settings, the data-quality settings, the alert channels and, when
QEASY_MYSQL_DSN is set, the MySQL sink."""

import os

import dagster as dg
from dagster_duckdb import DuckDBResource

from qeasy.settings import Settings
from resources.alerting import AlertingResource
from resources.clickhouse import ClickHouseResource
from resources.erp import ErpResource, JackyunResource, JushuitanResource
from resources.marts import MartsResource
from resources.mysql import MySqlResource
from resources.quality import QualityResource


def _env_or(name: str, fallback: str) -> str | dg.EnvVar:
    """EnvVar when the variable is set (Dagster then shows its name, never its value)."""
    return dg.EnvVar(name) if os.environ.get(name) else fallback


def _erp(settings: Settings) -> ErpResource:
    """The account of the ERP QEASY_ERP names."""
    shared = {"state_dir": str(settings.home), "budget_url": _env_or("QEASY_BUDGET_URL", settings.budget_url)}
    if settings.erp == "jackyun":
        pacing = settings.jackyun_pacing
        return JackyunResource(
            gateway=_env_or("JACKYUN_GATEWAY", settings.jackyun_gateway or ""),
            app_key=_env_or("JACKYUN_APP_KEY", settings.jackyun_app_key),
            app_secret=_env_or("JACKYUN_APP_SECRET", settings.jackyun_app_secret),
            token=_env_or("JACKYUN_TOKEN", settings.jackyun_token),
            version=settings.jackyun_version,
            rate_per_second=pacing.per_second,
            method_rates=dict(pacing.per_method),
            daily_quotas=dict(pacing.daily),
            **shared,
        )
    return JushuitanResource(
        base_url=_env_or("JST_BASE_URL", settings.jst_base_url or ""),
        app_key=_env_or("JST_APP_KEY", settings.jst_app_key),
        app_secret=_env_or("JST_APP_SECRET", settings.jst_app_secret),
        access_token=_env_or("JST_ACCESS_TOKEN", settings.jst_access_token),
        refresh_token=_env_or("JST_REFRESH_TOKEN", settings.jst_refresh_token),
        rate_per_second=settings.rate_per_second,
        rate_per_minute=settings.rate_per_minute,
        **shared,
    )


def build_resources(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    settings.home.mkdir(parents=True, exist_ok=True)
    sink = {"mysql": MySqlResource(dsn=_env_or("QEASY_MYSQL_DSN", settings.mysql_dsn))} \
        if settings.mysql_dsn else {}
    return sink | {
        "erp": _erp(settings),
        "staging": DuckDBResource(database=str(settings.home / "staging.duckdb")),
        "warehouse": ClickHouseResource(dsn=_env_or("QEASY_CLICKHOUSE_DSN", settings.clickhouse_dsn),
                                        database=settings.clickhouse_database,
                                        cluster=settings.clickhouse_cluster),
        "marts": MartsResource(commission_rates_file=settings.commission_rates_file or "",
                               lead_days=settings.lead_days, safety_days=settings.safety_days),
        "quality": QualityResource(status_labels_file=settings.status_labels_file or "",
                                   max_anomaly_rate=settings.max_anomaly_rate),
        "alerting": AlertingResource(
            feishu_webhook=_env_or("QEASY_FEISHU_WEBHOOK", settings.feishu_webhook or ""),
            feishu_secret=_env_or("QEASY_FEISHU_SECRET", settings.feishu_secret or ""),
            dingtalk_webhook=_env_or("QEASY_DINGTALK_WEBHOOK", settings.dingtalk_webhook or ""),
            dingtalk_secret=_env_or("QEASY_DINGTALK_SECRET", settings.dingtalk_secret or ""),
            after_sale_rate=settings.alert_after_sale_rate,
            min_orders=settings.alert_min_orders,
            dashboard_url=settings.dashboard_url,
            dingtalk_at_mobiles=list(settings.dingtalk_at_mobiles),
            dingtalk_at_all=settings.dingtalk_at_all,
            feishu_at=list(settings.feishu_at),
        ),
    }
