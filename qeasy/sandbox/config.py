"""Settings of the sandbox: credentials, limits, the simulated merchant, dirty data and faults."""

from dataclasses import asdict, dataclass, field, fields, replace

from qeasy.erp.times import default_first_day, parse_day

# Documented local-only credentials: they open nothing but the sandbox.
SANDBOX_APP_KEY = "qeasy-sandbox-app-key"
SANDBOX_APP_SECRET = "qeasy-sandbox-app-secret"
SANDBOX_ACCESS_TOKEN = "qeasy-sandbox-access-token"
SANDBOX_REFRESH_TOKEN = "qeasy-sandbox-refresh-token"
# The 吉客云 (Jackyun) methods the sandbox serves at /open/openapi/do (other-erps.md).
JACKYUN_METHODS = ("oms.trade.fullinfoget", "ass-business.returnchange.fullinfoget", "erp.stockquantity.get",
                   "erp.storage.goodslist", "erp.sales.get", "erp.warehouse.get", "erp.allocate.get")


@dataclass(frozen=True)
class DirtyRates:
    """How often the merchant's records carry the defects real ERPs produce (0 switches one off)."""

    negative_qty: float = 0.002  # order/after-sale lines and inventory rows with qty < 0
    unknown_status: float = 0.002  # orders and after-sales whose status is outside the vocabulary
    hidden_sku: float = 0.01  # SKUs absent from window queries, found only by `sku_ids`
    ghost_sku: float = 0.0005  # order lines naming a SKU that exists nowhere
    numeric_strings: float = 0.05  # rows whose numbers arrive as strings
    null_fields: float = 0.01  # rows with empty optional fields (shop_name, so_id, confirm_date)
    bad_values: float = 0.001  # rows with an unparseable number or time
    missing_key: float = 0.0005  # order lines without a sku_id
    duplicate_rows: float = 0.02  # pages that repeat the previous page's last row
    ms_times: float = 0.1  # rows whose times carry milliseconds
    loose_provinces: float = 0.03  # receiver provinces written short (浙江) or with stray spaces
    bad_inout_type: float = 0.001  # unique-code rows whose inout_type is outside 1..18 or not a number


@dataclass(frozen=True)
class FaultSettings:
    """Faults, off by default; the server swaps them at runtime (`POST /__sandbox/faults`)."""

    latency_ms: float = 0.0  # added to every call
    http_5xx: float = 0.0  # share of calls answered 500/502/503
    http_429: float = 0.0  # share answered with a real HTTP 429
    malformed_json: float = 0.0  # share whose body is cut short
    slow: float = 0.0  # share answered only after `slow_seconds`
    slow_seconds: float = 30.0
    burst: float = 0.0  # chance per call that a burst of code 199/200 answers begins
    burst_length: int = 5
    page_drift: float = 0.0  # chance per window page that an already served row is modified
    stale_counts: float = 0.0  # chance per window that data_count says one row more than it holds

    def updated(self, changes: dict) -> "FaultSettings":
        """A copy with `changes` applied; unknown names raise ValueError."""
        names = {f.name for f in fields(self)}
        unknown = set(changes) - names
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        return replace(self, **changes)


@dataclass(frozen=True)
class SandboxConfig:
    """Everything that defines one sandbox; the same config and clock give the same bytes."""

    seed: int = 20261101
    app_key: str = SANDBOX_APP_KEY
    app_secret: str = SANDBOX_APP_SECRET
    access_token: str = SANDBOX_ACCESS_TOKEN
    refresh_token: str = SANDBOX_REFRESH_TOKEN
    token_ttl_seconds: int = 30 * 86_400
    per_second: int = 5
    per_minute: int = 100
    max_skew_seconds: int = 600
    # First Beijing day with orders (qeasy passes QEASY_FIRST_DAY); nothing exists before it.
    epoch: str = field(default_factory=lambda: default_first_day().isoformat())
    clock: str | None = None  # None: the wall clock; else a pinned Beijing time
    orders_per_hour: float = 2000.0
    profile: str = "daily"  # "daily" rhythm or "peak" (flat, use with 50_000 orders/hour)
    skus: int = 2000
    shops: int = 10
    dirty: DirtyRates = field(default_factory=DirtyRates)
    faults: FaultSettings = field(default_factory=FaultSettings)
    # Jackyun side: the methods the app has subscribed (others get 0130020310), calls admitted per
    # method per appkey in any sliding second (no official figure: UNCONFIRMED), and the longest
    # after-sale window (integrators pull day by day; the real limit is UNCONFIRMED).
    jackyun_methods: tuple[str, ...] = JACKYUN_METHODS
    jackyun_per_method_per_second: int = 5
    jackyun_after_sale_window_days: int = 1

    def __post_init__(self) -> None:
        if self.profile not in ("daily", "peak"):
            raise ValueError(f"profile must be 'daily' or 'peak', not {self.profile!r}")
        if self.per_second < 1 or self.per_minute < 1:
            raise ValueError("rate limits must be at least 1")
        if self.jackyun_per_method_per_second < 1 or self.jackyun_after_sale_window_days < 1:
            raise ValueError("the Jackyun pacing and after-sale window must be at least 1")
        parse_day(self.epoch)

    def public(self) -> dict:
        """The settings without the secrets, for the introspection endpoint."""
        data = asdict(self)
        for secret in ("app_secret", "access_token", "refresh_token"):
            data.pop(secret)
        return data
