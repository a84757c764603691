"""The open API's protocol over the merchant: authentication, limits, parameters, paging, envelope."""

import json
import math
import secrets
import threading
import time
from collections import defaultdict
from dataclasses import dataclass

from qeasy.erp.endpoints import BY_PATH, TOKEN_PATHS, Endpoint
from qeasy.erp.signing import sign
from qeasy.erp.times import parse_bj
from qeasy.sandbox.clock import SimClock
from qeasy.sandbox.config import SandboxConfig
from qeasy.sandbox.faults import Faults
from qeasy.sandbox.merchant import Merchant
from qeasy.sandbox.randomness import unit
from qeasy.sandbox.ratelimit import SlidingLimiter

MESSAGES = {
    0: "执行成功",
    10: "签名错误 (invalid signature)",
    100: "access_token无效或已过期 (access_token invalid or expired)",
    130: "缺少参数 (missing parameter)",
    140: "参数错误 (invalid parameter)",
    180: "时间戳超出允许范围 (timestamp skew over 10 minutes)",
    190: "无此接口权限 (no permission for this API)",
    199: "请求过于频繁，超过每秒5次 (over the per-second limit)",
    200: "请求过于频繁，超过每分钟100次 (over the per-minute limit)",
}
SYSTEM_FIELDS = ("app_key", "timestamp", "charset", "sign")


class ApiError(Exception):
    """A business error answered in the envelope with HTTP 200, as the real API does."""

    def __init__(self, code: int, detail: str = "") -> None:
        super().__init__(code, detail)
        self.code = code
        self.detail = detail


@dataclass
class CallStats:
    calls: int = 0
    ok: int = 0
    throttled: int = 0
    errors: int = 0
    rows: int = 0


class OpenApi:
    """Answers one form-encoded POST the way the Jushuitan open API does."""

    def __init__(self, config: SandboxConfig, clock: SimClock, merchant: Merchant) -> None:
        self.config = config
        self.clock = clock
        self.merchant = merchant
        self.limiter = SlidingLimiter(config.per_second, config.per_minute)
        self.faults = Faults(config.faults, config.seed)
        self.denied: set[str] = set()  # datasets answered with code 190
        self._lock = threading.Lock()
        self._tokens = {config.access_token: time.time() + config.token_ttl_seconds}
        self._refresh_tokens = {config.refresh_token}
        self.stats: dict[str, CallStats] = defaultdict(CallStats)

    # ---- entry point -----------------------------------------------------------------------
    def handle(self, path: str, form: dict[str, str]) -> tuple[int, bytes]:
        """(HTTP status, body) for one call, faults included."""
        verdict = self.faults.draw()
        if verdict.delay:
            time.sleep(verdict.delay)
        stats = self.stats[path]
        with self._lock:
            stats.calls += 1
        if verdict.http_status:
            self._count(stats, throttled=verdict.http_status == 429, error=verdict.http_status != 429)
            return verdict.http_status, b"<html><body>Service Unavailable</body></html>"
        try:
            if verdict.code:
                raise ApiError(verdict.code, "burst")
            data, rows = self._answer(path, form)
            body = _envelope(0, MESSAGES[0], data)
            self._count(stats, rows=rows)
        except ApiError as exc:
            body = _envelope(exc.code, f"{MESSAGES.get(exc.code, '错误')} {exc.detail}".strip(), None)
            self._count(stats, throttled=exc.code in (199, 200), error=exc.code not in (199, 200))
        if verdict.truncate:
            with self._lock:
                stats.errors += 1
            return 200, body[: max(1, len(body) // 2)]
        return 200, body

    def _count(self, stats: CallStats, rows: int = 0, throttled: bool = False,
               error: bool = False) -> None:
        with self._lock:
            stats.rows += rows
            stats.throttled += throttled
            stats.errors += error
            stats.ok += not (throttled or error)

    # ---- authentication ------------------------------------------------------------------
    def _answer(self, path: str, form: dict[str, str]) -> tuple[object, int]:
        endpoint = BY_PATH.get(path)
        if endpoint is None and path not in TOKEN_PATHS.values():
            raise ApiError(140, f"unknown API {path}")
        for name in SYSTEM_FIELDS:
            if not form.get(name):
                raise ApiError(130, name)
        if form["app_key"] != self.config.app_key or sign(form, self.config.app_secret) != form["sign"]:
            raise ApiError(10)
        try:
            skew = abs(time.time() - int(form["timestamp"]))
        except ValueError as exc:
            raise ApiError(140, "timestamp") from exc
        if skew > self.config.max_skew_seconds:
            raise ApiError(180)
        refusal = self.limiter.admit(form["app_key"])
        if refusal:
            raise ApiError(refusal)
        if endpoint is None:
            return self._token(path, form), 0
        if self._tokens.get(form.get("access_token", ""), 0) < time.time():
            raise ApiError(100)
        if endpoint.dataset in self.denied:
            raise ApiError(190)
        try:
            biz = json.loads(form.get("biz") or "{}")
        except json.JSONDecodeError as exc:
            raise ApiError(140, "biz is not JSON") from exc
        if not isinstance(biz, dict):
            raise ApiError(140, "biz must be a JSON object")
        return self._query(endpoint, biz)

    def _token(self, path: str, form: dict[str, str]) -> dict:
        grant = form.get("grant_type", "")
        if path == TOKEN_PATHS["refresh"]:
            if grant != "refresh_token" or not form.get("refresh_token"):
                raise ApiError(130, "grant_type=refresh_token and refresh_token")
            if form["refresh_token"] not in self._refresh_tokens:
                raise ApiError(100, "refresh_token")
        elif grant != "authorization_code" or len(form.get("code", "")) != 6:
            raise ApiError(140, "grant_type=authorization_code and a 6-character code")
        token, refresh = secrets.token_hex(16), secrets.token_hex(16)
        with self._lock:
            self._tokens[token] = time.time() + self.config.token_ttl_seconds
            self._refresh_tokens.add(refresh)
        return {"access_token": token, "expires_in": self.config.token_ttl_seconds,
                "refresh_token": refresh, "scope": "all"}

    def expire_tokens(self) -> None:
        """Make every access token invalid (the next business call gets code 100)."""
        with self._lock:
            self._tokens = dict.fromkeys(self._tokens, 0.0)

    # ---- queries -------------------------------------------------------------------------
    def _query(self, endpoint: Endpoint, biz: dict) -> tuple[object, int]:
        page_index = _int(biz, "page_index", 1)
        page_size = _int(biz, "page_size", endpoint.page_size_default)
        if page_index < 1 or not 1 <= page_size <= endpoint.page_size_max:
            raise ApiError(140, f"page_size must be 1..{endpoint.page_size_max}")
        now = self.clock.now_ms()
        keys, window_mode = self._select(endpoint, biz, now, page_index * page_size + 1)
        start = (page_index - 1) * page_size
        page_keys = [int(k) for k in keys[start:start + page_size]]
        rows = [self.merchant.render(endpoint.dataset, k, now) for k in page_keys]
        if page_index > 1 and start <= len(keys) and _dirty_page(self, endpoint, biz, page_index):
            rows.insert(0, self.merchant.render(endpoint.dataset, int(keys[start - 1]), now))
        has_next = start + page_size < len(keys)
        if window_mode and has_next:
            pick = self.faults.drift()
            if pick is not None:  # an already served row changes: later rows shift up a place
                victim = int(keys[int(pick * (start + len(page_keys)))])
                self.merchant.touch(endpoint.dataset, victim, now)
        if endpoint.rows_key is None:
            return rows, len(rows)
        data: dict = {"page_index": page_index, "page_size": page_size}
        if endpoint.has_counts:
            counted = str(biz.get("is_get_total", "true")).lower() != "false"
            data["data_count"] = len(keys) if counted else 0
            data["page_count"] = math.ceil(len(keys) / page_size) if counted else 0
        data["has_next"] = has_next
        data[endpoint.rows_key] = rows
        return data, len(rows)

    def _select(self, endpoint: Endpoint, biz: dict, now: int, need: int):
        """(sorted keys, whether this is window paging) for the request's mode."""
        merchant, dataset = self.merchant, endpoint.dataset
        if dataset == "shop":
            return merchant.shops(), False
        for param, limit in endpoint.id_params.items():
            if biz.get(param) not in (None, "", []):
                values = biz[param]
                values = values.split(",") if isinstance(values, str) else list(values)
                if len(values) > limit:
                    raise ApiError(140, f"{param} takes at most {limit} ids")
                return merchant.lookup(dataset, param, values, now), False
        if endpoint.cursor_param and biz.get(endpoint.cursor_param) not in (None, ""):
            return merchant.cursor(dataset, _int(biz, endpoint.cursor_param, 0), now, need), False
        begin_name, end_name = endpoint.window_params
        if biz.get(begin_name) in (None, "") or biz.get(end_name) in (None, ""):
            raise ApiError(130, f"{begin_name}/{end_name}")
        try:
            begin, end = parse_bj(str(biz[begin_name])), parse_bj(str(biz[end_name]))
        except ValueError as exc:
            raise ApiError(140, "times are yyyy-MM-dd HH:mm:ss") from exc
        if end < begin or end - begin > endpoint.window_days * 86_400_000:
            raise ApiError(140, f"the window must run forward and span at most "
                                f"{endpoint.window_days} days")
        by_io_date = dataset == "sales_out" and _int(biz, "date_type", 0) == 2
        status = biz.get("status") or None
        return merchant.window(dataset, begin, end, now, by_io_date, status), True


def _dirty_page(api: OpenApi, endpoint: Endpoint, biz: dict, page_index: int) -> bool:
    """Whether this page repeats the previous page's last row (fixed by the request, not by luck)."""
    rate = api.config.dirty.duplicate_rows
    return rate > 0 and unit(api.config.seed, "dup", endpoint.dataset,
                             json.dumps(biz, sort_keys=True), page_index) < rate


def _int(biz: dict, name: str, default: int) -> int:
    value = biz.get(name, default)
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise ApiError(140, f"{name} must be an integer") from exc


def _envelope(code: int, msg: str, data: object) -> bytes:
    body = {"code": code, "msg": msg, "data": data}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
