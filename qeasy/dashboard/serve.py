"""The dashboard wired to qeasy's settings: the warehouse, the access file and the session key."""

import ipaddress
import secrets
from pathlib import Path

from starlette.applications import Starlette

from qeasy.dashboard.access import load_access
from qeasy.dashboard.app import Dashboard, build_app
from qeasy.runner import instance_for
from qeasy.settings import Settings, SettingsError


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def session_key(settings: Settings) -> str:
    """QEASY_DASHBOARD_SECRET, else a key kept in the home (so sign-ins survive a restart)."""
    if settings.dashboard_secret:
        return settings.dashboard_secret
    path = Path(settings.home) / "dashboard.secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(32))
    return path.read_text().strip()


def dashboard_app(settings: Settings, host: str) -> Starlette:
    """The application for `settings`; without an access file only a loopback `host` is allowed."""
    users = load_access(settings.dashboard_access_file) if settings.dashboard_access_file else None
    if users is None and not is_loopback(host):
        raise SettingsError(f"serving the dashboard on {host} needs QEASY_DASHBOARD_ACCESS (who may sign "
                            "in and which shops they see); without it, only 127.0.0.1 is allowed")
    dashboard = Dashboard(settings.clickhouse_dsn, settings.clickhouse_database, users, settings.first_day,
                          settings.alert_min_orders, settings.alert_after_sale_rate,
                          instance_for(settings.home))
    return build_app(dashboard, session_key(settings))
