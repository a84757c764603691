"""The 吉客云 client: signed calls to the gateway within each method's pacing and daily quota.

Configuration refusals (signature, appkey, token, subscription, parameters) fail at once naming the
cause; throttling, HTTP 429/5xx, timeouts and unreadable answers are retried with backoff a bounded
number of times; 未知错误 is retried once. The secret never appears in an error or a statistic.
"""

import time
from collections.abc import Mapping

from qeasy.erp.budget import BULK, CallBudget
from qeasy.erp.client import CallStats, ErpConfigError, ErpGaveUp, HttpClient, RetryPolicy
from qeasy.erp.jackyun.envelope import CONFIG_ERRORS, RETRY_ONCE, SUCCESS_SUBCODES, THROTTLED, read
from qeasy.erp.jackyun.pacing import MethodBudgets
from qeasy.erp.jackyun.signing import signed_form


class JackyunClient(HttpClient):
    """Calls one 吉客云 app through its gateway URL. Thread-safe; share one per process."""

    def __init__(self, gateway: str, app_key: str, app_secret: str, budgets: MethodBudgets, *,
                 token: str = "", version: str = "v1.0", success: tuple[str, ...] = SUCCESS_SUBCODES,
                 timeout: float = 30.0, retry: RetryPolicy | None = None, priority: str = BULK) -> None:
        super().__init__(gateway, None, timeout, retry, priority, settings="JACKYUN_GATEWAY")
        self.app_key = app_key
        self._secret = app_secret
        self._token = token
        self.version = version
        self.success = success
        self.budgets = budgets

    def budget_for(self, path: str) -> CallBudget:
        return self.budgets.budget(path)

    def call(self, path: str, biz: Mapping[str, object], stats: CallStats) -> object:
        """The decoded `result.data` of a successful call of method `path`; ErpConfigError (its
        code the sub-code) or ErpGaveUp (QuotaSpent among them) otherwise."""
        last_problem, unknown, attempt = "", 0, 0
        for attempt in range(self.retry.max_attempts):
            if attempt:
                stats.add(retries=1)
            self.budgets.spend(path)
            form = signed_form(path, self.app_key, self._secret, biz, version=self.version,
                               timestamp_ms=int(time.time() * 1000), token=self._token)
            body = self._post(path, form, stats, url=self.base_url)
            answer = None if isinstance(body, str) else read(body, self.success)
            if answer is None:
                last_problem = body if isinstance(body, str) else "not a 吉客云 answer"
                if not isinstance(body, str):
                    stats.add(errors=1)
                self._backoff(attempt)
                continue
            if answer.ok:
                return answer.data
            said = f"{answer.msg} (method {path})" if answer.msg else f"method {path}"
            if answer.sub_code in CONFIG_ERRORS:
                raise ErpConfigError(answer.sub_code,
                                     f"吉客云 {CONFIG_ERRORS[answer.sub_code]}; it says: {said}")
            if answer.sub_code in THROTTLED:
                stats.add(throttled=1)
                last_problem = f"throttled (sub-code {answer.sub_code})"
                self._backoff(attempt, floor=self.retry.throttle_floor)
                continue
            stats.add(errors=1)
            last_problem = f"sub-code {answer.sub_code or '(none)'}: {said}"
            if answer.sub_code in RETRY_ONCE:
                unknown += 1
                if unknown > 1:
                    break
            self._backoff(attempt)
        tried = attempt + 1 if self.retry.max_attempts else 0
        raise ErpGaveUp(f"{self._where()} {path}: gave up after {tried} attempts; last: {last_problem}")
