"""One ERP call budget per account, shared by every thread and process on the machine.

The API counts calls over sliding 1-second and 60-second spans (jushuitan-api.md). A token bucket
that allows a burst can break that, so the budget keeps the send times of recent calls in a small
file, under an exclusive `flock`, and admits a call only when both spans have room. A margin
absorbs the jitter between our send time and the server's arrival time.

Bulk work (backfills) uses the whole budget while it is alone. Once interactive work (the
near-real-time pull) has called or asked to call in the last two minutes, bulk work leaves it a
reserve of each span, so a backfill never starves it.
"""

import fcntl
import hashlib
import os
import time
from pathlib import Path

BULK, INTERACTIVE = "bulk", "interactive"
_CALL, _WISH = "c", "w"  # a call sent; an interactive caller waiting for room
_INTERACTIVE_MEMORY = 120.0


class CallBudget:
    """Blocks `acquire()` until a call fits within `per_second` and `per_minute`."""

    def __init__(self, directory: Path, account: str, per_second: int, per_minute: int,
                 margin_seconds: float = 0.1) -> None:
        if per_second < 1 or per_minute < 1:
            raise ValueError("the call budget needs at least 1 call/second and 1 call/minute")
        directory.mkdir(parents=True, exist_ok=True)
        # The account (app key) is hashed: file names are not a place for credentials.
        digest = hashlib.sha256(account.encode()).hexdigest()[:16]
        self.path = directory / f"erp-budget-{digest}.log"
        self._lock_path = directory / f"erp-budget-{digest}.lock"
        self.per_second = per_second
        self.per_minute = per_minute
        self.margin = margin_seconds

    def acquire(self, priority: str = BULK) -> float:
        """Wait until a call may be sent, record it, and return the seconds waited."""
        waited = 0.0
        while True:
            wait = self._try(priority)
            if wait <= 0:
                return waited
            time.sleep(min(wait, 1.0))
            waited += min(wait, 1.0)

    def _try(self, priority: str) -> float:
        """Record a call and return 0, or return how long to wait before trying again."""
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            now = time.time()
            minute = 60 + 10 * self.margin
            text = self.path.read_text() if self.path.exists() else ""
            entries = _parse(text, now - minute, now - _INTERACTIVE_MEMORY)
            per_second, per_minute = self._limits(priority, entries)
            sent = [t for t, kind, _ in entries if kind == _CALL and t > now - minute]
            recent = [t for t in sent if t > now - 1 - self.margin]
            wait = 0.0
            if len(recent) >= per_second:
                wait = recent[-per_second] + 1 + self.margin - now + 0.001
            elif len(sent) >= per_minute:
                wait = sent[-per_minute] + minute - now + 0.001
            if wait <= 0 or priority == INTERACTIVE:  # only interactive wishes are worth remembering
                entries.append((now, _WISH if wait > 0 else _CALL, priority))
            # Write aside, then rename: a process killed mid-write leaves the old log, never a
            # half one that would make every process think the spans were empty.
            scratch = self.path.with_suffix(f".{os.getpid()}.tmp")
            scratch.write_text("".join(f"{t:.6f} {kind} {who}\n" for t, kind, who in entries))
            os.replace(scratch, self.path)
            return wait
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    def _limits(self, priority: str, entries: list[tuple[float, str, str]]) -> tuple[int, int]:
        """(calls per second, calls per minute) this caller may use now."""
        if priority == INTERACTIVE or not any(who == INTERACTIVE for _, _, who in entries):
            return self.per_second, self.per_minute
        return (self.per_second - (1 if self.per_second > 2 else 0),
                self.per_minute - max(1, self.per_minute // 10))


def _parse(text: str, calls_since: float, interactive_since: float) -> list[tuple[float, str, str]]:
    """Entries still relevant: calls of the last minute, interactive ones of the last two."""
    entries = []
    for line in text.splitlines():
        parts = line.split()
        try:
            moment = float(parts[0])
        except (IndexError, ValueError):
            continue  # not ours to trust; the next write drops it
        if len(parts) != 3:
            continue
        if moment > calls_since or (parts[2] == INTERACTIVE and moment > interactive_since):
            entries.append((moment, parts[1], parts[2]))
    return entries
