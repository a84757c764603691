"""The ERP clients' shared HTTP layer, and the Jushuitan client: signed calls within the shared
budget, the error table, retries, token refresh.

Configuration errors (signature, token, IP, parameters, clock skew, permission) fail at once with
a message naming the cause; throttling, HTTP 429/5xx, timeouts and malformed JSON are retried
with exponential backoff and full jitter a bounded number of times. Secrets never appear in an
exception, a log line or a statistic.
"""

import random
import statistics
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

from qeasy.erp.budget import BULK, CallBudget
from qeasy.erp.endpoints import TOKEN_PATHS
from qeasy.erp.request import signed_form
from qeasy.erp.signing import sign

THROTTLED = {199, 200}
CONFIG_ERRORS = {
    10: "invalid signature: check JST_APP_KEY and JST_APP_SECRET",
    120: "invalid signature: check JST_APP_KEY and JST_APP_SECRET",
    110: "this machine's IP address is not on the app's whitelist",
    130: "a required parameter is missing",
    140: "a parameter is invalid",
    180: "the timestamp is more than 10 minutes off: check this machine's clock",
    190: "the app has no permission for this API",
}


class ErpConfigError(RuntimeError):
    """The ERP refused the request for a reason retrying cannot fix."""

    def __init__(self, code: int | str, message: str) -> None:
        super().__init__(f"ERP error {code}: {message}")
        self.code = code


class ErpGaveUp(RuntimeError):
    """A call still failed after every retry (throttling, HTTP errors, timeouts, bad JSON)."""


@dataclass
class CallStats:
    """What the calls of one unit of work cost: counts and latencies (thread-safe)."""

    calls: int = 0
    throttled: int = 0
    retries: int = 0
    errors: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **counts: float) -> None:
        with self._lock:
            for name, value in counts.items():
                if name == "latency_ms":
                    self.latencies_ms.append(value)
                else:
                    setattr(self, name, getattr(self, name) + value)

    def merge(self, other: "CallStats") -> None:
        """Add another unit's counts and latencies to these."""
        with self._lock:
            for name in ("calls", "throttled", "retries", "errors"):
                setattr(self, name, getattr(self, name) + getattr(other, name))
            self.latencies_ms.extend(other.latencies_ms)

    def percentile(self, share: float) -> float | None:
        with self._lock:
            if not self.latencies_ms:
                return None
            if len(self.latencies_ms) == 1:
                return round(self.latencies_ms[0], 1)
            return round(statistics.quantiles(self.latencies_ms, n=100)[int(share * 100) - 1], 1)

    def summary(self) -> dict[str, float | int | None]:
        return {"calls": self.calls, "throttled": self.throttled, "retries": self.retries,
                "errors": self.errors, "latency_p50_ms": self.percentile(0.5),
                "latency_p95_ms": self.percentile(0.95)}


@dataclass
class RetryPolicy:
    max_attempts: int = 8
    backoff_base: float = 0.25  # seconds; doubles per attempt
    backoff_cap: float = 8.0
    throttle_floor: float = 1.0  # a 199 waits at least this long (the second must slide)
    minute_floor: float = 5.0  # a 200 waits longer: another app may be using the account's minute


class HttpClient:
    """What every ERP protocol shares: one pooled HTTP client, the call budget, retries with
    backoff, and the transport errors every open API answers the same way. Thread-safe."""

    def __init__(self, base_url: str, budget: CallBudget | None, timeout: float = 30.0,
                 retry: RetryPolicy | None = None, priority: str = BULK,
                 settings: str = "the base URL") -> None:
        self.base_url = base_url.rstrip("/")
        self.budget = budget
        self.retry = retry or RetryPolicy()
        self.priority = priority
        self._settings = settings  # what to check when the host answers 4xx (named in the error)
        self._http = httpx.Client(timeout=timeout, limits=httpx.Limits(max_connections=32))

    def close(self) -> None:
        self._http.close()

    def budget_for(self, path: str) -> CallBudget:
        """The budget that calls to `path` wait for (the pull sizes its concurrency by it)."""
        return self.budget

    def _post(self, path: str, form: dict[str, str], stats: CallStats, url: str = "") -> object:
        """The decoded JSON answer to one call of `path` (posted to `url`, by default the base URL
        followed by the path), or (a str) a description of why there is none."""
        self.budget_for(path).acquire(self.priority)
        started = time.monotonic()
        try:
            response = self._http.post(url or self.base_url + path, data=form)
        except httpx.TimeoutException:
            stats.add(calls=1, errors=1)
            return f"timed out after {self._http.timeout.read} s"
        except httpx.HTTPError as exc:  # connection, protocol or decoding trouble
            stats.add(calls=1, errors=1)
            return f"connection failed: {_cause(exc)}"
        stats.add(calls=1, latency_ms=(time.monotonic() - started) * 1000)
        if response.status_code == 429:
            stats.add(throttled=1)
            return "HTTP 429"
        if response.status_code in (400, 401, 403, 404, 405):
            raise ErpConfigError(response.status_code, f"HTTP {response.status_code} from {path}: "
                                                       f"check {self._settings}")
        if response.status_code != 200:
            stats.add(errors=1)
            return f"HTTP {response.status_code}"
        try:
            return response.json()
        except ValueError:
            stats.add(errors=1)
            return "malformed JSON"

    def _backoff(self, attempt: int, floor: float = 0.0) -> None:
        ceiling = min(self.retry.backoff_cap, self.retry.backoff_base * 2 ** attempt)
        time.sleep(max(floor, random.uniform(0, ceiling)))

    def _where(self, path: str = "") -> str:
        """The URL called (the base URL followed by `path`), without any user or password."""
        return str(httpx.URL(self.base_url + path).copy_with(username=None, password=None))


class ErpClient(HttpClient):
    """Calls one Jushuitan account. Thread-safe; share one per process and budget."""

    def __init__(self, base_url: str, app_key: str, app_secret: str, access_token: str | None,
                 budget: CallBudget, refresh_token: str | None = None, timeout: float = 30.0,
                 retry: RetryPolicy | None = None, priority: str = BULK) -> None:
        super().__init__(base_url, budget, timeout, retry, priority, settings="JST_BASE_URL")
        self.app_key = app_key
        self._secret = app_secret
        self._token = access_token
        self._refresh_token = refresh_token
        self._token_lock = threading.Lock()

    def call(self, path: str, biz: Mapping[str, object], stats: CallStats) -> object:
        """The `data` of a successful business call; ErpConfigError or ErpGaveUp otherwise."""
        self._ensure_token(stats)
        refreshed = False
        last_problem = ""
        for attempt in range(self.retry.max_attempts):
            if attempt:
                stats.add(retries=1)
            token = self._token
            form = signed_form(self.app_key, self._secret, token or "", biz)
            outcome = self._send(path, form, stats)
            if isinstance(outcome, str):  # transport trouble: retry
                last_problem = outcome
                self._backoff(attempt)
                continue
            code, msg, data = outcome
            if code == 0:
                return data
            if code in THROTTLED:
                stats.add(throttled=1)
                last_problem = f"throttled (code {code})"
                floor = self.retry.minute_floor if code == 200 else self.retry.throttle_floor
                self._backoff(attempt, floor=floor)
                continue
            if code == 100 and not refreshed and self._refresh_token:
                self._refresh(token, stats)
                refreshed = True
                continue
            if code == 100:
                raise ErpConfigError(100, "the access token is invalid or expired: set JST_ACCESS_TOKEN "
                                          "(or JST_REFRESH_TOKEN so qeasy can renew it)")
            if code in CONFIG_ERRORS:
                raise ErpConfigError(code, f"{CONFIG_ERRORS[code]} (ERP says: {msg}; API {path})")
            last_problem = f"unexpected ERP code {code}: {msg}"
            stats.add(errors=1)
            self._backoff(attempt)
        raise ErpGaveUp(f"{self._where(path)}: gave up after {self.retry.max_attempts} attempts; "
                        f"last: {last_problem}")

    def _send(self, path: str, form: dict[str, str], stats: CallStats) -> tuple[int, str, object] | str:
        """(code, msg, data) of an answer, or a description of why there is none."""
        body = self._post(path, form, stats)
        if isinstance(body, str):
            return body
        try:
            return int(body["code"]), str(body.get("msg", "")), body.get("data")
        except (KeyError, TypeError, ValueError):
            stats.add(errors=1)
            return "malformed JSON"

    # ---- tokens --------------------------------------------------------------------------
    def _ensure_token(self, stats: CallStats) -> None:
        """Without a configured token, a self-developed app gets one from getInitToken."""
        if self._token:
            return
        with self._token_lock:
            if not self._token:
                data = self._token_call(TOKEN_PATHS["init"], {"grant_type": "authorization_code",
                                                              "code": "qeasy1"}, stats)
                self._token = data["access_token"]
                self._refresh_token = data.get("refresh_token") or self._refresh_token

    def _refresh(self, stale: str | None, stats: CallStats) -> None:
        with self._token_lock:
            if self._token != stale:
                return  # another thread renewed it meanwhile
            data = self._token_call(TOKEN_PATHS["refresh"], {"grant_type": "refresh_token",
                                                             "refresh_token": self._refresh_token,
                                                             "scope": "all"}, stats)
            self._token = data["access_token"]
            self._refresh_token = data.get("refresh_token") or self._refresh_token

    def _token_call(self, path: str, fields: dict[str, object], stats: CallStats) -> dict:
        last_problem = ""
        for attempt in range(self.retry.max_attempts):
            form = {"app_key": self.app_key, "timestamp": str(int(time.time())), "charset": "utf-8",
                    **{k: str(v) for k, v in fields.items()}}
            form["sign"] = sign(form, self._secret)
            outcome = self._send(path, form, stats)
            if isinstance(outcome, tuple) and outcome[0] == 0:
                return outcome[2]
            if isinstance(outcome, tuple) and outcome[0] not in THROTTLED:
                code = outcome[0]
                raise ErpConfigError(code, f"could not obtain an access token: "
                                           f"{CONFIG_ERRORS.get(code, outcome[1])}")
            last_problem = outcome if isinstance(outcome, str) else f"throttled (code {outcome[0]})"
            self._backoff(attempt, floor=1.0 if isinstance(outcome, tuple) else 0.0)
        raise ErpGaveUp(f"{self._where(path)}: gave up after {self.retry.max_attempts} attempts; "
                        f"last: {last_problem}")


def _cause(exc: httpx.HTTPError) -> str:
    """The innermost reason a request failed, such as `[Errno 111] Connection refused`."""
    inner: BaseException = exc
    while inner.__cause__ is not None or inner.__context__ is not None:
        inner = inner.__cause__ or inner.__context__
    return str(inner) or str(exc) or type(exc).__name__
