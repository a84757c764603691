"""How fast and how often each 吉客云 method may be called. No official rate figure exists
(other-erps.md, "Rate limits and quotas"): integrators keep to about one call a second per method
and the console lists daily quotas per method, so both are settings, per method, with defaults.

Pacing is a `CallBudget` per method (shared by every process, or every host through Redis, like the
Jushuitan budget); the daily quota is a counter per method and Beijing day in the same kind of
shared log. A method whose quota is spent gives up at once, naming the quota, instead of sending
calls the gateway would refuse until midnight.
"""

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from qeasy.erp.budget import CallBudget, shared_log
from qeasy.erp.client import ErpGaveUp
from qeasy.erp.times import format_bj

DAY_SECONDS = 86_400


class QuotaSpent(ErpGaveUp):
    """A method's daily quota is used up: its calls wait for the next Beijing day."""


@dataclass(frozen=True)
class Pacing:
    """Calls per second per method (`per_method` overrides `per_second`) and calls per Beijing day
    per method (`daily`; a method not named has no quota)."""

    per_second: int = 1
    per_method: Mapping[str, int] = field(default_factory=dict)
    daily: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        rates = {"default": self.per_second, **self.per_method}
        bad = [f"{name}={rate}" for name, rate in rates.items() if rate < 1]
        bad += [f"{name}={quota}" for name, quota in self.daily.items() if quota < 0]
        if bad:
            raise ValueError("吉客云 pacing: calls per second must be at least 1 and quotas at least 0: "
                             + ", ".join(bad))

    def rate(self, method: str) -> int:
        return self.per_method.get(method, self.per_second)

    @property
    def fastest(self) -> int:
        """The most calls a second any method may make."""
        return max([self.per_second, *self.per_method.values()])


class MethodBudgets:
    """The pacing budget and the daily quota of every method of one app key."""

    def __init__(self, directory: Path, app_key: str, pacing: Pacing, shared_url: str = "",
                 margin_seconds: float = 0.1) -> None:
        self.pacing = pacing
        self._directory, self._app_key, self._url = directory, app_key, shared_url
        self._margin = margin_seconds
        self._budgets: dict[str, CallBudget] = {}
        self._quotas: dict[str, object] = {}  # each method's quota log, made on first use
        self._lock = threading.Lock()

    def budget(self, method: str) -> CallBudget:
        """The method's pacing budget (one per app key and method, made on first use)."""
        with self._lock:
            if method not in self._budgets:
                rate = self.pacing.rate(method)
                self._budgets[method] = CallBudget(self._directory, f"{self._app_key}:{method}", rate,
                                                   rate * 60, self._margin, self._url)
            return self._budgets[method]

    def spend(self, method: str) -> None:
        """Count one call of `method` against today's quota; QuotaSpent once it is used up."""
        quota = self.pacing.daily.get(method)
        if quota is None:
            return
        with self._quota_log(method).locked() as (text, now, save):
            today, used = _today(now), _used(text, now)
            if used >= quota:
                raise QuotaSpent(f"吉客云 {method}: today's quota of {quota} calls is used up "
                                 f"(JACKYUN_DAILY_QUOTAS); it renews at 00:00 Beijing time")
            save(f"{today} {used + 1}")

    def used(self, method: str) -> int:
        """Calls of `method` counted today (0 for a method without a quota)."""
        if method not in self.pacing.daily:
            return 0
        with self._quota_log(method).locked() as (text, now, _):
            return _used(text, now)

    def _quota_log(self, method: str):
        with self._lock:
            if method not in self._quotas:
                self._quotas[method] = shared_log(self._directory, f"{self._app_key}:{method}:daily",
                                                  self._url, ttl=2 * DAY_SECONDS)
            return self._quotas[method]


def _today(now: float) -> str:
    return format_bj(int(now * 1000))[:10]


def _used(text: str, now: float) -> int:
    """Today's count in a quota log ("YYYY-MM-DD N"); a log of another day counts 0."""
    day, _, count = text.partition(" ")
    return int(count) if day == _today(now) and count.strip().isdigit() else 0
