"""The open API's protocol over the merchant: authentication, limits, parameters, paging, envelope."""

import hashlib
import json
import logging
import math
import threading
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import date

import numpy as np

from qeasy.datasets import JUSHUITAN
from qeasy.erp.endpoints import TOKEN_PATHS, Endpoint
from qeasy.erp.signing import sign
from qeasy.erp.times import parse_bj
from qeasy.sandbox.clock import SimClock
from qeasy.sandbox.config import SandboxConfig
from qeasy.sandbox.declared import DeclaredSource
from qeasy.sandbox.faults import Faults
from qeasy.sandbox.merchant import SIMULATED, Merchant
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
BY_PATH = {d.endpoint.path: d.endpoint for d in JUSHUITAN.values()}
KNOWN_PATHS = frozenset(BY_PATH) | frozenset(TOKEN_PATHS.values())
UNKNOWN_PATH = "unknown"  # every other path counts here: a scanner must not grow the stats table
INT_ID_PARAMS = frozenset({"io_ids", "o_ids", "as_ids"})  # ids the API reads as int64
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
INTERNAL_ERROR = b"<html><body>Internal Server Error</body></html>"

log = logging.getLogger(__name__)


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
        # Datasets of no built-in simulation, served from their declarations.
        self.declared = {name: DeclaredSource(d, config.seed, date.fromisoformat(config.epoch))
                         for name, d in JUSHUITAN.items() if d.sandbox is not None}
        self._lock = threading.Lock()
        self._tokens = {config.access_token: time.time() + config.token_ttl_seconds}
        self._refresh_tokens = {config.refresh_token}
        self._issued = 0  # tokens handed out so far: with the seed, it fixes the next token's bytes
        self.stats: dict[str, CallStats] = defaultdict(CallStats)

    # ---- entry point -----------------------------------------------------------------------
    def handle(self, path: str, form: dict[str, str]) -> tuple[int, bytes]:
        """(HTTP status, body) for one call, faults included."""
        verdict = self.faults.draw()
        if verdict.delay:
            time.sleep(verdict.delay)
        stats = self._stats_for(path)
        if verdict.http_status:
            self._count(stats, throttled=verdict.http_status == 429, error=verdict.http_status != 429)
            return verdict.http_status, b"<html><body>Service Unavailable</body></html>"
        try:
            if verdict.code:
                raise ApiError(verdict.code, "burst")
            data, rows = self._answer(path, form)
            body = _envelope(0, MESSAGES[0], data)
            if verdict.truncate:  # the client cannot read this answer: it is an error, not an ok
                self._count(stats, error=True)
                return 200, body[: max(1, len(body) // 2)]
            self._count(stats, rows=rows)
        except ApiError as exc:
            body = _envelope(exc.code, f"{MESSAGES.get(exc.code, '错误')} {exc.detail}".strip(), None)
            self._count(stats, throttled=exc.code in (199, 200), error=exc.code not in (199, 200))
        except Exception:  # a bug in the sandbox costs one answer, never the client's connection
            log.exception("sandbox failed to answer %s", path)
            self._count(stats, error=True)
            return 500, INTERNAL_ERROR
        if verdict.truncate:  # an error answer cut short is still counted as that error
            return 200, body[: max(1, len(body) // 2)]
        return 200, body

    def _stats_for(self, path: str) -> CallStats:
        """The path's statistics, with this call counted."""
        with self._lock:
            stats = self.stats[path if path in KNOWN_PATHS else UNKNOWN_PATH]
            stats.calls += 1
            return stats

    def stats_snapshot(self) -> dict[str, dict]:
        """Statistics per path, read under the lock that calls update them with."""
        with self._lock:
            return {path: asdict(s) for path, s in self.stats.items()}

    def reset_stats(self) -> None:
        with self._lock:
            self.stats.clear()

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
        except (ValueError, OverflowError) as exc:  # OverflowError: too large for a float
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
        except (json.JSONDecodeError, RecursionError) as exc:  # RecursionError: nested too deep
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
        with self._lock:
            token, refresh = self._new_token(), self._new_token()
            self._tokens[token] = time.time() + self.config.token_ttl_seconds
            self._refresh_tokens.add(refresh)
        return {"access_token": token, "expires_in": self.config.token_ttl_seconds,
                "refresh_token": refresh, "scope": "all"}

    def _new_token(self) -> str:
        """Random-looking hex fixed by the seed and the issue count (same seed, same bytes); the app
        secret keeps it unguessable to anyone who knows only the seed. Call under the lock."""
        self._issued += 1
        text = f"{self.config.seed}:{self._issued}:{self.config.app_secret}"
        return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()

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
        source = self.declared.get(endpoint.dataset)
        if source is not None:
            records = source.window(*self._window(endpoint, biz), now)
            keys, mode = np.arange(len(records)), "declared"

            def render(key: int) -> dict:
                return records[key]
        elif endpoint.dataset not in SIMULATED:
            raise ApiError(190, f"the sandbox simulates no {endpoint.dataset}: its declaration has no rows")
        else:
            keys, mode = self._select(endpoint, biz, now, page_index * page_size + 1)

            def render(key: int) -> dict:
                return self.merchant.render(endpoint.dataset, key, now)
        start = (page_index - 1) * page_size
        rows = [render(int(k)) for k in keys[start:start + page_size]]
        if page_index > 1 and start <= len(keys) and _dirty_page(self, endpoint, biz, page_index):
            rows.insert(0, render(int(keys[start - 1])))
        has_next = start + page_size < len(keys)
        if mode == "window" and has_next and self.merchant.can_touch(endpoint.dataset):
            self._drift(endpoint, biz, page_index, keys[:start + len(rows)], now)
        if endpoint.rows_key is None:
            return rows, len(rows)
        data: dict = {"page_index": page_index, "page_size": page_size}
        if endpoint.has_counts:
            # A cursor answer holds only the rows this page needs: there is no total to report.
            counted = mode != "cursor" and str(biz.get("is_get_total", "true")).lower() != "false"
            window = json.dumps({k: v for k, v in biz.items() if k not in ("page_index", "page_size")},
                                sort_keys=True)
            stale = counted and mode in ("window", "declared") and \
                self.faults.stale_count(endpoint.dataset, window)
            data["data_count"] = len(keys) + stale if counted else 0
            data["page_count"] = math.ceil(len(keys) / page_size) if counted else 0
        data["has_next"] = has_next
        data[endpoint.rows_key] = rows
        return data, len(rows)

    def _drift(self, endpoint: Endpoint, biz: dict, page_index: int, served: np.ndarray, now: int) -> None:
        """Maybe modify one already served row: later rows shift up a place (the page drift fault)."""
        pick = self.faults.drift(endpoint.dataset, json.dumps(biz, sort_keys=True), page_index)
        if pick is not None:
            self.merchant.touch(endpoint.dataset, int(served[int(pick * len(served))]), now)

    def _select(self, endpoint: Endpoint, biz: dict, now: int, need: int):
        """(sorted keys, mode: "all", "ids", "cursor" or "window") for the request."""
        merchant, dataset = self.merchant, endpoint.dataset
        if dataset == "shop":
            return merchant.shops(), "all"
        for param, limit in endpoint.id_params.items():
            if biz.get(param) not in (None, "", []):
                values = _id_values(param, biz[param], limit)
                return merchant.lookup(dataset, param, values, now), "ids"
        if endpoint.cursor_param and biz.get(endpoint.cursor_param) not in (None, ""):
            keys = merchant.cursor(dataset, _int(biz, endpoint.cursor_param, 0), now, need)
            return keys, "cursor"
        begin, end = self._window(endpoint, biz)
        by_io_date = dataset == "sales_out" and _int(biz, "date_type", 0) == 2
        status = biz.get("status") or None
        if status is not None and not isinstance(status, str):
            raise ApiError(140, "status must be a string")
        return merchant.window(dataset, begin, end, now, by_io_date, status), "window"


    @staticmethod
    def _window(endpoint: Endpoint, biz: dict) -> tuple[int, int]:
        """The request's time window (epoch ms), checked as the API checks it."""
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
        return begin, end


def _id_values(param: str, values: object, limit: int) -> list:
    """The ids of an id-list parameter (a JSON list or a comma-separated string); else code 140."""
    if isinstance(values, str):
        values = [value for value in values.split(",") if value.strip()]  # "1,2," names two ids
    elif not isinstance(values, list):
        raise ApiError(140, f"{param} must be a list of ids")
    if len(values) > limit:
        raise ApiError(140, f"{param} takes at most {limit} ids")
    if param in INT_ID_PARAMS:
        return [_long(value, param) for value in values]
    if any(isinstance(value, bool) or not isinstance(value, str | int) for value in values):
        raise ApiError(140, f"{param} takes strings")
    return values


def _long(value: object, name: str) -> int:
    """An int64 id: a JSON integer or a string of digits ("²" and 20-digit numbers are not)."""
    text = value.strip() if isinstance(value, str) else value
    if isinstance(text, bool) or not isinstance(text, str | int) or (
            isinstance(text, str) and not (text.isascii() and text.removeprefix("-").isdigit())):
        raise ApiError(140, f"{name} takes integer ids")
    number = int(text)
    if not INT64_MIN <= number <= INT64_MAX:
        raise ApiError(140, f"{name} takes integer ids")
    return number


def _dirty_page(api: OpenApi, endpoint: Endpoint, biz: dict, page_index: int) -> bool:
    """Whether this page repeats the previous page's last row (fixed by the request, not by luck)."""
    rate = api.config.dirty.duplicate_rows
    return rate > 0 and unit(api.config.seed, "dup", endpoint.dataset,
                             json.dumps(biz, sort_keys=True), page_index) < rate


def _int(biz: dict, name: str, default: int) -> int:
    """An integer parameter (numbers as strings accepted) within int64, as the API reads it."""
    value = biz.get(name, default)
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError) as exc:  # OverflowError: 1e999 is infinite
        raise ApiError(140, f"{name} must be an integer") from exc
    if not INT64_MIN <= number <= INT64_MAX:
        raise ApiError(140, f"{name} must be an integer")
    return number


def _envelope(code: int, msg: str, data: object) -> bytes:
    body = {"code": code, "msg": msg, "data": data}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
