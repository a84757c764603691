"""The 吉客云 (Jackyun) open-platform gateway over the sandbox merchant (other-erps.md, 吉客云).

One POST to /open/openapi/do names its method in the form. This module holds the protocol: the
form's system fields, the signature, the envelope and sub-codes, subscription, pacing, faults and
call statistics; `methods` holds what each method selects and how it pages.
"""

import hashlib
import json
import logging
import re
import threading
import time
from collections import defaultdict

from qeasy.erp.jackyun.signing import sign
from qeasy.erp.times import parse_bj
from qeasy.sandbox.api import CallStats, OpenApi
from qeasy.sandbox.clock import SimClock
from qeasy.sandbox.config import SandboxConfig
from qeasy.sandbox.faults import Faults
from qeasy.sandbox.jackyun.errors import (
    BAD_PARAM,
    GOODS_OK,
    INVALID_SIGN,
    NOT_SUBSCRIBED,
    THROTTLED,
    UNKNOWN_APPKEY,
    JackyunError,
    bad_param,
)
from qeasy.sandbox.jackyun.methods import GOODS, Methods
from qeasy.sandbox.merchant import Merchant
from qeasy.sandbox.ratelimit import SlidingLimiter

PATH = "/open/openapi/do"
REQUIRED = ("method", "appkey", "version", "contenttype", "timestamp", "bizcontent", "sign")
REJECTED = ("app_key", "biz_content", "format", "v")  # other gateways' names: this one refuses them
VERSIONS = ("v1.0", "1.0")  # both reported to work (other-erps.md)
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
NO_MINUTE_LIMIT = 1_000_000_000  # pacing is per second only; the limiter also wants a minute cap
UNKNOWN_METHOD = "jackyun:unknown"  # every unknown method counts here: a scanner must not grow stats
INTERNAL_ERROR = b"<html><body>Internal Server Error</body></html>"
UNAVAILABLE = b"<html><body>Service Unavailable</body></html>"

log = logging.getLogger(__name__)


class JackyunGateway:
    """Answers one form-encoded POST the way the Jackyun open platform does.

    Given the sandbox's `OpenApi`, it shares its fault switches (so `/__sandbox/faults` drives both
    protocols) and its statistics table (so `/__sandbox/stats` lists calls under the method name).
    """

    def __init__(self, config: SandboxConfig, clock: SimClock, merchant: Merchant,
                 api: OpenApi | None = None) -> None:
        self.config = config
        self.clock = clock
        self.merchant = merchant
        self.faults = api.faults if api is not None else Faults(config.faults, config.seed)
        self.methods = Methods(config, merchant, self.faults)
        self.limiter = SlidingLimiter(config.jackyun_per_method_per_second, NO_MINUTE_LIMIT)
        # The Jushuitan side's table and lock: one statistics view over both protocols.
        self.stats: dict[str, CallStats] = api.stats if api is not None else defaultdict(CallStats)
        self._stats_lock = api._lock if api is not None else threading.Lock()
        self._lock = threading.Lock()
        self._answered = 0

    # ---- entry point -----------------------------------------------------------------------
    def handle(self, form: dict[str, str]) -> tuple[int, bytes]:
        """(HTTP status, body) for one call, faults included."""
        verdict = self.faults.draw()
        if verdict.delay:
            time.sleep(verdict.delay)
        method = form.get("method", "")
        stats = self._stats_for(method)
        if verdict.http_status:
            self._count(stats, throttled=verdict.http_status == 429, error=verdict.http_status != 429)
            return verdict.http_status, UNAVAILABLE
        context_id = self._context_id()
        try:
            if verdict.code:
                raise JackyunError(THROTTLED, "调用过于频繁，请稍后再试 (burst)")
            data, rows = self._answer(method, form)
            ok_code, ok_msg = (GOODS_OK, "操作成功") if method == GOODS else ("", "")
            body = _envelope(200, ok_msg, data, context_id, ok_code)
            if verdict.truncate:  # the client cannot read this answer: it is an error, not an ok
                self._count(stats, error=True)
                return 200, body[: max(1, len(body) // 2)]
            self._count(stats, rows=rows)
        except JackyunError as exc:
            body = _envelope(0, exc.msg, None, context_id, exc.sub_code)
            throttled = exc.sub_code == THROTTLED
            self._count(stats, throttled=throttled, error=not throttled)
        except Exception:  # a bug in the sandbox costs one answer, never the client's connection
            log.exception("sandbox failed to answer Jackyun method %s", method)
            self._count(stats, error=True)
            return 500, INTERNAL_ERROR
        if verdict.truncate:  # an error answer cut short is still counted as that error
            return 200, body[: max(1, len(body) // 2)]
        return 200, body

    def _answer(self, method: str, form: dict[str, str]) -> tuple[object, int]:
        for name in REJECTED:
            if name in form:
                raise bad_param(f"unknown field {name}: the gateway's names are appkey, bizcontent, "
                                f"contenttype and version")
        for name in REQUIRED:
            if not form.get(name):
                raise bad_param(f"{name} is required")
        if form["appkey"] != self.config.app_key:
            raise JackyunError(UNKNOWN_APPKEY, "appkey不存在 (unknown appkey)")
        if sign(form, self.config.app_secret) != form["sign"]:
            raise JackyunError(INVALID_SIGN, "签名无效 (invalid sign)")
        if form["version"] not in VERSIONS:
            raise bad_param(f"version must be one of {', '.join(VERSIONS)}")
        if form["contenttype"] != "json":
            raise bad_param("contenttype must be json")
        self._check_timestamp(form["timestamp"])
        if method not in self.config.jackyun_methods or method not in self.methods.names:
            raise JackyunError(NOT_SUBSCRIBED, "未查询到应用或应用未订阅此API")
        if self.limiter.admit(f"{form['appkey']}\n{method}"):
            raise JackyunError(THROTTLED, "调用过于频繁 (over the per-second limit of this method)")
        try:
            biz = json.loads(form["bizcontent"])
        except (json.JSONDecodeError, RecursionError) as exc:  # RecursionError: nested too deep
            raise bad_param("bizcontent is not JSON") from exc
        if not isinstance(biz, dict):
            raise bad_param("bizcontent must be a JSON object")
        return self.methods.answer(method, biz, self.clock.now_ms())

    def _check_timestamp(self, text: str) -> None:
        """Beijing wall-clock `yyyy-MM-dd HH:mm:ss`, within the allowed skew of the real clock
        (signatures age in real time whatever the merchant's clock says)."""
        if not TIMESTAMP.fullmatch(text):
            raise JackyunError(BAD_PARAM, "timestamp must be yyyy-MM-dd HH:mm:ss (Beijing time)")
        try:
            sent = parse_bj(text)
        except ValueError as exc:  # 2026-13-45 matches the pattern yet is no time
            raise JackyunError(BAD_PARAM, "timestamp must be yyyy-MM-dd HH:mm:ss (Beijing time)") from exc
        skew = abs(time.time() - sent / 1000)
        if skew > self.config.max_skew_seconds:
            raise JackyunError(BAD_PARAM, f"timestamp is off by {skew:.0f} s from the server's clock "
                                          f"(at most {self.config.max_skew_seconds} s): 时间戳超出允许范围")

    # ---- statistics ------------------------------------------------------------------------
    def _stats_for(self, method: str) -> CallStats:
        """The method's statistics, with this call counted."""
        with self._stats_lock:
            stats = self.stats[method if method in self.methods.names else UNKNOWN_METHOD]
            stats.calls += 1
            return stats

    def _count(self, stats: CallStats, rows: int = 0, throttled: bool = False, error: bool = False) -> None:
        with self._stats_lock:
            stats.rows += rows
            stats.throttled += throttled
            stats.errors += error
            stats.ok += not (throttled or error)

    def _context_id(self) -> str:
        """A per-call id like the platform's (seeded, numbered: the same run gives the same ids)."""
        with self._lock:
            self._answered += 1
            number = self._answered
        return hashlib.blake2b(f"{self.config.seed}:{number}".encode(), digest_size=8).hexdigest()


def _envelope(code: int, msg: str, data: object, context_id: str, sub_code: str) -> bytes:
    body = {"code": code, "msg": msg, "result": {"data": data, "contextId": context_id}, "subCode": sub_code}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
