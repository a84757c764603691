"""The simulated merchant's clock: the wall clock, or a pinned instant tests move by hand."""

import threading
import time

from qeasy.erp.times import parse_bj


class SimClock:
    """Epoch milliseconds 'now' for the merchant (signatures and rate limits use real time)."""

    def __init__(self, pinned: str | None = None) -> None:
        self._lock = threading.Lock()
        self._pinned: int | None = parse_bj(pinned) if pinned else None

    def now_ms(self) -> int:
        with self._lock:
            return self._pinned if self._pinned is not None else int(time.time() * 1000)

    @property
    def pinned(self) -> bool:
        return self._pinned is not None

    def pin(self, beijing_time: str | None) -> None:
        """Pin the clock at a Beijing time, or return to the wall clock with None."""
        with self._lock:
            self._pinned = parse_bj(beijing_time) if beijing_time else None

    def advance(self, seconds: float) -> None:
        """Move a pinned clock forward (the merchant's records keep changing as it moves)."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            if self._pinned is None:
                raise ValueError("the wall clock cannot be advanced; pin it first")
            self._pinned += int(seconds * 1000)
