"""Switchable faults: latency, HTTP errors, slow and cut-short answers, throttle bursts, page drift
and stale counts."""

import random
import threading
from dataclasses import dataclass

from qeasy.sandbox.config import FaultSettings
from qeasy.sandbox.randomness import unit


@dataclass(frozen=True)
class Verdict:
    """What the fault layer does to one call before and after the API answers it."""

    delay: float = 0.0  # seconds to wait before answering
    http_status: int | None = None  # answer with this HTTP error instead
    code: int | None = None  # answer with this business error code instead (burst of 199/200)
    truncate: bool = False  # cut the body short


class Faults:
    """Draws each call's fault from the current settings with a seeded generator."""

    def __init__(self, settings: FaultSettings, seed: int) -> None:
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self._seed = seed
        self._burst_left = 0
        self._burst_code = 199
        self.settings = settings

    def update(self, changes: dict) -> FaultSettings:
        with self._lock:
            self.settings = self.settings.updated(changes)
            self._burst_left = 0
            return self.settings

    def draw(self) -> Verdict:
        with self._lock:
            s, r = self.settings, self._random
            delay = s.latency_ms / 1000
            if s.slow and r.random() < s.slow:
                delay += s.slow_seconds
            if s.http_5xx and r.random() < s.http_5xx:
                return Verdict(delay, http_status=r.choice((500, 502, 503)))
            if s.http_429 and r.random() < s.http_429:
                return Verdict(delay, http_status=429)
            if self._burst_left == 0 and s.burst and r.random() < s.burst:
                self._burst_left = max(1, s.burst_length)
                self._burst_code = r.choice((199, 200))
            if self._burst_left:
                self._burst_left -= 1
                return Verdict(delay, code=self._burst_code)
            return Verdict(delay, truncate=bool(s.malformed_json) and r.random() < s.malformed_json)

    def stale_count(self, *window: int | str) -> bool:
        """Whether this window's count is one too many, as a lagging count cache reports it; from a
        hash of the window, so every page of it (and every retry) says the same."""
        rate = self.settings.stale_counts
        return bool(rate) and unit(self._seed, "stale-count", *window) < rate

    def drift(self, *request: int | str) -> float | None:
        """A uniform number choosing the row to modify, or None when this page does not drift.

        Both follow from a hash of the request (dataset, biz, page), not from the shared generator,
        so which row moves cannot depend on how concurrent calls interleave.
        """
        rate = self.settings.page_drift
        if rate and unit(self._seed, "drift", *request) < rate:
            return unit(self._seed, "drift-row", *request)
        return None
