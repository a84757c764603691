"""The API's rate limits: admitted calls per app key over sliding 1-second and 60-second spans."""

import threading
import time
from collections import defaultdict, deque

OVER_SECOND, OVER_MINUTE = 199, 200


class SlidingLimiter:
    """Admits a call unless `per_second` calls were admitted in the last second or `per_minute`
    in the last minute; refused calls do not count."""

    def __init__(self, per_second: int, per_minute: int) -> None:
        self.per_second = per_second
        self.per_minute = per_minute
        self._lock = threading.Lock()
        self._admitted: dict[str, deque[float]] = defaultdict(deque)

    def set_limits(self, per_second: int, per_minute: int) -> None:
        """New limits, counted from an empty span (benchmarks start each run from rest)."""
        if per_second < 1 or per_minute < 1:
            raise ValueError("rate limits must be at least 1")
        with self._lock:
            self.per_second, self.per_minute = per_second, per_minute
            self._admitted.clear()

    def admit(self, app_key: str) -> int:
        """0 when admitted, else the refusal code (199 per second, 200 per minute)."""
        now = time.monotonic()
        with self._lock:
            calls = self._admitted[app_key]
            while calls and calls[0] <= now - 60:
                calls.popleft()
            if len(calls) >= self.per_second and calls[-self.per_second] > now - 1:
                return OVER_SECOND
            if len(calls) >= self.per_minute:
                return OVER_MINUTE
            calls.append(now)
            return 0
