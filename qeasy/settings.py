"""qeasy's configuration from the environment (a `.env` file fills in what the environment lacks).

Every setting is checked at start-up; a wrong one fails with a message naming the variable.
"""

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from dotenv import load_dotenv

from qeasy.cleanse.labels import load_labels
from qeasy.dashboard.access import load_access
from qeasy.datasets import DATASETS, ERP, ERPS, PROBLEM
from qeasy.erp.jackyun.pacing import Pacing
from qeasy.erp.times import bj_today, default_first_day, parse_bj, parse_day
from qeasy.sandbox.config import SANDBOX_ACCESS_TOKEN, SANDBOX_APP_KEY, SANDBOX_APP_SECRET
from qeasy.warehouse.ads import LEAD_DAYS, SAFETY_DAYS
from qeasy.warehouse.commission import load_commission

SANDBOX_RATES = (40, 2400)  # calls/second, calls/minute when the embedded sandbox is used


class SettingsError(ValueError):
    """A configuration variable is missing or wrong; the message names it."""


@dataclass(frozen=True)
class Settings:
    """The resolved configuration (secrets are kept out of repr)."""

    home: Path
    clickhouse_dsn: str = field(repr=False)  # may carry a password
    clickhouse_database: str
    jst_base_url: str | None  # None: start and use the embedded sandbox
    jst_app_key: str
    jst_app_secret: str = field(repr=False)
    jst_access_token: str = field(repr=False)  # empty: obtained with getInitToken at start-up
    jst_refresh_token: str = field(default="", repr=False)
    rate_per_second: int = 5
    rate_per_minute: int = 100
    feishu_webhook: str | None = field(default=None, repr=False)
    feishu_secret: str | None = field(default=None, repr=False)
    dingtalk_webhook: str | None = field(default=None, repr=False)
    dingtalk_secret: str | None = field(default=None, repr=False)
    alert_after_sale_rate: float = 0.05
    alert_min_orders: int = 20
    sandbox_seed: int = 20261101
    sandbox_orders_per_hour: float = 2000.0
    sandbox_clock: str | None = None  # pin the embedded merchant's clock (demos, tests)
    status_labels_file: str | None = None  # JSON overrides of the BI status labels
    commission_rates_file: str | None = None  # JSON platform commission rates (finance mart)
    lead_days: int = LEAD_DAYS  # days of supply a suggested reorder covers: lead time ...
    safety_days: int = SAFETY_DAYS  # ... plus safety stock
    max_anomaly_rate: float = 0.05  # above it the anomaly-rate check warns
    first_day: date = field(default_factory=default_first_day)  # the first Beijing day of history
    budget_url: str = field(default="", repr=False)  # Redis holding the call budget of every host
    clickhouse_cluster: str = ""  # a server cluster the schema is replicated on (qeasy.warehouse.cluster)
    celery_broker: str = field(default="", repr=False)  # set: steps run on Celery workers (jobs.distributed)
    celery_backend: str = field(default="rpc://", repr=False)  # where Celery workers put step results
    dashboard_access_file: str | None = None  # who may sign in to the dashboard, and their shops
    dashboard_secret: str = field(default="", repr=False)  # signs its session cookies (default: in home)
    # The daily push (qeasy.push): its Beijing time, the dashboard link and the @-mentions it carries.
    push_at: str = "08:30"
    dashboard_url: str = ""
    dingtalk_at_mobiles: tuple[str, ...] = field(default=(), repr=False)  # personal data
    dingtalk_at_all: bool = False
    feishu_at: tuple[str, ...] = ()  # open_ids, or "all"
    mysql_dsn: str = field(default="", repr=False)  # set: the unique-code flow is copied to MySQL
    erp: str = "jushuitan"  # the ERP read (QEASY_ERP): its datasets are the built-in ones
    # 吉客云: the gateway (None: the embedded sandbox's), the app, and each method's pacing and quota.
    jackyun_gateway: str | None = None
    jackyun_app_key: str = SANDBOX_APP_KEY
    jackyun_app_secret: str = field(default=SANDBOX_APP_SECRET, repr=False)
    jackyun_token: str = field(default="", repr=False)  # ISV mode only
    jackyun_version: str = "v1.0"
    jackyun_pacing: Pacing = field(default_factory=Pacing)

    @property
    def uses_sandbox(self) -> bool:
        return (self.jst_base_url if self.erp == "jushuitan" else self.jackyun_gateway) is None


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Settings from `env` (default: the process environment after reading `.env`)."""
    env = _environment(env)
    get = _getter(env)

    home = _home(get("QEASY_HOME") or ".qeasy")
    dsn = get("QEASY_CLICKHOUSE_DSN") or f"chdb://{home / 'clickhouse'}"
    if not re.match(r"^(chdb|https?)://\S+$", dsn):
        raise SettingsError("QEASY_CLICKHOUSE_DSN must look like chdb:///path or http(s)://user:pass@host:port")
    database = get("QEASY_CLICKHOUSE_DATABASE") or "qeasy"
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", database):
        raise SettingsError(f"QEASY_CLICKHOUSE_DATABASE must be a plain identifier, not {database!r}")
    cluster = get("QEASY_CLICKHOUSE_CLUSTER") or ""
    if cluster and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", cluster):
        raise SettingsError(f"QEASY_CLICKHOUSE_CLUSTER must be a plain identifier, not {cluster!r}")
    if cluster and dsn.startswith("chdb://"):
        raise SettingsError("QEASY_CLICKHOUSE_CLUSTER needs QEASY_CLICKHOUSE_DSN to name a server "
                            "(http(s)://...), not the embedded engine")
    base_url = get("JST_BASE_URL")
    if base_url is not None and not re.match(r"^https?://\S+$", base_url):
        raise SettingsError("JST_BASE_URL must be an http(s):// URL (unset it to use the embedded sandbox)")
    # The embedded sandbox has its own documented credentials; JST_* describe a real account.
    credentials = {"JST_APP_KEY": SANDBOX_APP_KEY, "JST_APP_SECRET": SANDBOX_APP_SECRET}
    token = SANDBOX_ACCESS_TOKEN
    if base_url is not None:
        for name in credentials:
            credentials[name] = get(name) or ""
            if not credentials[name]:
                raise SettingsError(f"{name} is required when JST_BASE_URL points at a real ERP")
        token = get("JST_ACCESS_TOKEN") or ""
    # The embedded sandbox serves faster than the real API unless a budget is configured:
    # its limits always match the budget, so qeasy never trips them.
    rates_set = get("QEASY_RATE_PER_SECOND") or get("QEASY_RATE_PER_MINUTE")
    default_rates = (5, 100) if base_url or rates_set else SANDBOX_RATES
    budget_url = get("QEASY_BUDGET_URL") or ""
    if budget_url and not re.match(r"^(rediss?|unix)://\S+$", budget_url):
        raise SettingsError("QEASY_BUDGET_URL must be a Redis URL, redis://host:6379/0 (unset: the call "
                            "budget lives in QEASY_HOME, for one host)")
    celery_broker, celery_backend = _celery(get)
    for name in ("QEASY_FEISHU_WEBHOOK", "QEASY_DINGTALK_WEBHOOK"):
        if get(name) and not re.match(r"^https?://\S+$", get(name)):
            raise SettingsError(f"{name} must be an http(s):// URL")
    return Settings(
        home=home,
        clickhouse_dsn=dsn,
        clickhouse_database=database,
        clickhouse_cluster=cluster,
        jst_base_url=base_url.rstrip("/") if base_url else None,
        jst_app_key=credentials["JST_APP_KEY"],
        jst_app_secret=credentials["JST_APP_SECRET"],
        jst_access_token=token,
        jst_refresh_token=get("JST_REFRESH_TOKEN") or "",
        rate_per_second=_number(get, "QEASY_RATE_PER_SECOND", default_rates[0], int, 1, 1_000_000),
        rate_per_minute=_number(get, "QEASY_RATE_PER_MINUTE", default_rates[1], int, 1, 60_000_000),
        feishu_webhook=get("QEASY_FEISHU_WEBHOOK"),
        feishu_secret=get("QEASY_FEISHU_SECRET"),
        dingtalk_webhook=get("QEASY_DINGTALK_WEBHOOK"),
        dingtalk_secret=get("QEASY_DINGTALK_SECRET"),
        alert_after_sale_rate=_ratio(get, "QEASY_ALERT_AFTER_SALE_RATE", 0.05),
        alert_min_orders=_number(get, "QEASY_ALERT_MIN_ORDERS", 20, int, 0, 1_000_000_000),
        sandbox_seed=_number(get, "QEASY_SANDBOX_SEED", 20261101, int, 0, 2**32 - 1),
        sandbox_orders_per_hour=_number(get, "QEASY_SANDBOX_ORDERS_PER_HOUR", 2000.0, float, 0, 1_000_000),
        sandbox_clock=_clock(get("QEASY_SANDBOX_CLOCK")),
        status_labels_file=_readable(get("QEASY_STATUS_LABELS"), load_labels),
        commission_rates_file=_readable(get("QEASY_COMMISSION_RATES"), load_commission),
        lead_days=_number(get, "QEASY_LEAD_DAYS", LEAD_DAYS, int, 0, 365),
        safety_days=_number(get, "QEASY_SAFETY_DAYS", SAFETY_DAYS, int, 0, 365),
        max_anomaly_rate=_ratio(get, "QEASY_MAX_ANOMALY_RATE", 0.05),
        first_day=first_day(env),
        budget_url=budget_url,
        celery_broker=celery_broker,
        celery_backend=celery_backend,
        dashboard_access_file=_readable(get("QEASY_DASHBOARD_ACCESS"), load_access),
        dashboard_secret=get("QEASY_DASHBOARD_SECRET") or "",
        mysql_dsn=_mysql(get("QEASY_MYSQL_DSN")),
        **_push(get),
        **_jackyun(get),
    )


def _mysql(dsn: str | None) -> str:
    """QEASY_MYSQL_DSN checked (never echoed: it holds a password), with PyMySQL installed."""
    if dsn is None:
        return ""
    from qeasy.sinks.mysql import parse_dsn

    try:
        parse_dsn(dsn)
    except ValueError as exc:
        raise SettingsError(f"QEASY_MYSQL_DSN {exc} (unset it to copy nothing to MySQL)") from None
    try:
        import pymysql  # noqa: F401
    except ImportError:
        raise SettingsError("QEASY_MYSQL_DSN is set but PyMySQL is not installed: "
                            "pip install 'qeasy[mysql]'") from None
    return dsn


def _celery(get: Callable[[str], str | None]) -> tuple[str, str]:
    """QEASY_CELERY_BROKER and QEASY_CELERY_BACKEND (default rpc://, which needs an AMQP broker)."""
    broker, backend = get("QEASY_CELERY_BROKER") or "", get("QEASY_CELERY_BACKEND") or "rpc://"
    if broker and not re.match(r"^(py)?amqps?://\S+$|^rediss?://\S+$", broker):
        raise SettingsError("QEASY_CELERY_BROKER must be a RabbitMQ or Redis URL, "
                            "pyamqp://user:password@host:5672// or redis://host:6379/1 (unset: no Celery)")
    if broker and backend == "rpc://" and broker.startswith("redis"):
        raise SettingsError("QEASY_CELERY_BACKEND must be set with a Redis broker (rpc:// results need "
                            "RabbitMQ), e.g. redis://host:6379/2")
    return broker, backend


def first_day(env: Mapping[str, str] | None = None) -> date:
    """QEASY_FIRST_DAY, the first Beijing day of history (default: `default_first_day`): the daily
    partitions, built when qeasy_assets is imported, and the embedded sandbox's orders start there."""
    text = _getter(_environment(env))("QEASY_FIRST_DAY")
    if text is None:
        return default_first_day()
    try:
        day = parse_day(text)
    except ValueError as exc:
        raise SettingsError(f"QEASY_FIRST_DAY must be a day written YYYY-MM-DD (like 2024-01-01), "
                            f"not {text!r}") from exc
    if day > bj_today():
        raise SettingsError(f"QEASY_FIRST_DAY must not be after today (Beijing time), not {text!r}")
    return day


def _environment(env: Mapping[str, str] | None) -> Mapping[str, str]:
    """`env`, or the process environment after reading `.env` into it."""
    if env is None:
        load_dotenv(Path.cwd() / ".env", override=False)  # the environment wins over .env
        env = os.environ
    return env


def _getter(env: Mapping[str, str]) -> Callable[[str], str | None]:
    """A reader of `env`'s values, blank ones as None."""

    def get(name: str) -> str | None:
        value = env.get(name, "").strip()
        return value or None

    return get


def _readable(path: str | None, load: Callable[[str], object]) -> str | None:
    """`path` once `load` reads it (None stays None); SettingsError with the loader's message."""
    if path is not None:
        try:
            load(path)
        except ValueError as exc:  # AccessError is one
            raise SettingsError(str(exc)) from exc
    return path


def _clock(text: str | None) -> str | None:
    if text is not None:
        try:
            parse_bj(text)
        except ValueError as exc:
            raise SettingsError(f"QEASY_SANDBOX_CLOCK must look like 2026-11-20 12:00:00, not {text!r}") \
                from exc
    return text


def _home(text: str) -> Path:
    """QEASY_HOME resolved, and checked to be (or to be creatable as) a writable directory."""
    home = Path(text).expanduser().resolve()
    existing = next(path for path in (home, *home.parents) if path.exists())
    if not existing.is_dir():
        what = "is" if existing == home else f"lies under {existing}, which is"
        raise SettingsError(f"QEASY_HOME {home} {what} a file, not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        read_only = os.statvfs(existing).f_flag & os.ST_RDONLY
        why = "is on a read-only file system" if read_only else "is not writable by this user"
        where = "" if existing == home else f" ({existing}, where it would be created)"
        raise SettingsError(f"QEASY_HOME {home}{where} {why}: point it at a writable directory")
    return home


def _number(get, name: str, default, kind, minimum, maximum):
    text = get(name)
    if text is None:
        return default
    try:
        value = kind(text)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a{'n' if kind is int else ''} {kind.__name__}, "
                            f"not {text!r}") from exc
    if not minimum <= value <= maximum:
        raise SettingsError(f"{name} must be between {minimum:,} and {maximum:,}, not {text!r}")
    return value


def _ratio(get, name: str, default: float) -> float:
    """A share strictly between 0 and 1: a user who writes 5 for 5% is told, not ignored."""
    text = get(name)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < 1:
        raise SettingsError(f"{name} must be a ratio between 0 and 1 (0.05 means 5%), not {text!r}")
    return value


def _jackyun(get) -> dict:
    """QEASY_ERP and the 吉客云 settings: JACKYUN_GATEWAY (unset: the embedded sandbox), JACKYUN_APP_KEY,
    JACKYUN_APP_SECRET, JACKYUN_TOKEN, JACKYUN_VERSION, and the pacing no official figure fixes:
    JACKYUN_RATE_PER_SECOND (per method), JACKYUN_METHOD_RATES and JACKYUN_DAILY_QUOTAS
    (`method=number,...`)."""
    if PROBLEM:
        raise SettingsError(PROBLEM)
    erp = (get("QEASY_ERP") or "jushuitan").strip().lower()
    if erp not in ERPS:
        raise SettingsError(f"QEASY_ERP must be one of {', '.join(ERPS)}, not {erp!r}")
    if erp != ERP:  # the declarations were chosen when qeasy was imported
        raise SettingsError(f"QEASY_ERP is {erp!r} here but was {ERP!r} in the environment qeasy started "
                            "with: set it in the environment, not only in .env")
    gateway = get("JACKYUN_GATEWAY")
    if gateway is not None and not re.match(r"^https?://\S+$", gateway):
        raise SettingsError("JACKYUN_GATEWAY must be an http(s):// URL, such as "
                            "https://open.jackyun.com/open/openapi/do (unset it to use the embedded sandbox)")
    found = {"jackyun_gateway": gateway}
    if gateway is not None:
        for name in ("JACKYUN_APP_KEY", "JACKYUN_APP_SECRET"):
            if not get(name):
                raise SettingsError(f"{name} is required when JACKYUN_GATEWAY points at the real gateway")
            found[name.lower()] = get(name)
        found["jackyun_token"] = get("JACKYUN_TOKEN") or ""
    version = get("JACKYUN_VERSION") or "v1.0"
    if version not in ("v1.0", "1.0"):
        raise SettingsError(f"JACKYUN_VERSION must be v1.0 or 1.0, not {version!r}")
    # The sandbox answers faster than anyone would call the real gateway: its pacing matches.
    rate = _number(get, "JACKYUN_RATE_PER_SECOND", 1 if gateway else SANDBOX_RATES[0], int, 1, 10_000)
    try:
        pacing = Pacing(rate, _per_method(get, "JACKYUN_METHOD_RATES"),
                        _per_method(get, "JACKYUN_DAILY_QUOTAS"))
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
    if get("QEASY_MYSQL_DSN") and "unique_code" not in DATASETS:
        raise SettingsError(f"QEASY_MYSQL_DSN copies the unique-code flow, which QEASY_ERP={erp} has no "
                            "dataset for: unset it")
    return found | {"erp": erp, "jackyun_version": version, "jackyun_pacing": pacing}


def _per_method(get, name: str) -> dict[str, int]:
    """`method=number,...` as a dict."""
    found = {}
    for part in filter(None, (p.strip() for p in (get(name) or "").split(","))):
        method, _, number = part.partition("=")
        if not method.strip() or not number.strip().isdigit():
            raise SettingsError(f"{name} must read method=number,..., like oms.trade.fullinfoget=1, "
                                f"not {part!r}")
        found[method.strip()] = int(number)
    return found


def _push(get) -> dict:
    """The daily push's settings: QEASY_PUSH_AT (HH:MM, Beijing), QEASY_DASHBOARD_URL, and the
    @-mentions QEASY_DINGTALK_AT_MOBILES, QEASY_DINGTALK_AT_ALL, QEASY_FEISHU_AT."""
    push_at = get("QEASY_PUSH_AT") or "08:30"
    if not re.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]", push_at):
        raise SettingsError(f"QEASY_PUSH_AT must be a Beijing time written HH:MM (like 08:30), "
                            f"not {push_at!r}")
    dashboard = get("QEASY_DASHBOARD_URL") or ""
    if dashboard and not re.match(r"^https?://\S+$", dashboard):
        raise SettingsError("QEASY_DASHBOARD_URL must be an http(s):// URL")
    mobiles = tuple(m.strip() for m in (get("QEASY_DINGTALK_AT_MOBILES") or "").split(",") if m.strip())
    for mobile in mobiles:
        if not re.fullmatch(r"\+?[0-9][0-9-]{4,19}", mobile):
            raise SettingsError(f"QEASY_DINGTALK_AT_MOBILES must be mobile numbers separated by commas, "
                                f"not {mobile!r}")
    at_all = (get("QEASY_DINGTALK_AT_ALL") or "false").lower()
    if at_all not in ("true", "false"):
        raise SettingsError(f"QEASY_DINGTALK_AT_ALL must be true or false, not {at_all!r}")
    feishu = tuple(i.strip() for i in (get("QEASY_FEISHU_AT") or "").split(",") if i.strip())
    for open_id in feishu:
        if not re.fullmatch(r"[A-Za-z0-9_-]+", open_id):
            raise SettingsError(f"QEASY_FEISHU_AT must be open_ids (ou_...) separated by commas, or all, "
                                f"not {open_id!r}")
    return {"push_at": push_at, "dashboard_url": dashboard, "dingtalk_at_mobiles": mobiles,
            "dingtalk_at_all": at_all == "true", "feishu_at": feishu}
