"""One ERP call budget per account, shared by every thread and process on the machine, or by every
host when they share a Redis server.

The API counts calls over sliding 1-second and 60-second spans (jushuitan-api.md). A token bucket
that allows a burst can break that, so the budget keeps the send times of recent calls and admits
a call only when both spans have room. A margin absorbs the jitter between our send time and the
server's arrival time. The send times live in a small file under an exclusive `flock` (one host:
the default), or in Redis under a Redis lock, timed by the Redis server's clock so that hosts whose
clocks differ still agree (`QEASY_BUDGET_URL`).

Bulk work (backfills) uses the whole budget while it is alone. Once interactive work (the
near-real-time pull) has called or asked to call in the last two minutes, bulk work leaves it a
reserve of each span, so a backfill never starves it.
"""

import contextlib
import fcntl
import hashlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

BULK, INTERACTIVE = "bulk", "interactive"
_CALL, _WISH = "c", "w"  # a call sent; an interactive caller waiting for room
_INTERACTIVE_MEMORY = 120.0


Spans = Iterator[tuple[str, float, Callable[[str], None]]]  # (the log, now, save a new log)


class BudgetUnavailable(RuntimeError):
    """The shared budget's store cannot be reached: no call may be sent without it."""


class _FileSpans:
    """The log in a file of the state directory, under an exclusive `flock`: one host."""

    def __init__(self, directory: Path, digest: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"erp-budget-{digest}.log"
        self._lock_path = directory / f"erp-budget-{digest}.lock"

    @contextlib.contextmanager
    def locked(self) -> Spans:
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield (self.path.read_text() if self.path.exists() else ""), time.time(), self._save
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    def _save(self, text: str) -> None:
        # Write aside, then rename: a process killed mid-write leaves the old log, never a half one
        # that would make every process think the spans were empty.
        scratch = self.path.with_suffix(f".{os.getpid()}.tmp")
        scratch.write_text(text)
        os.replace(scratch, self.path)


class _RedisSpans:
    """The log in a Redis key, under a Redis lock, timed by the Redis server: every host."""

    def __init__(self, url: str, digest: str, ttl: int = 300) -> None:
        import redis

        self._errors = (redis.RedisError,)
        self._client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._where = redis.connection.parse_url(url).get("host") or "a unix socket"
        self.key = f"qeasy:erp-budget:{digest}"
        self.ttl = ttl  # seconds the log outlives its last write

    @contextlib.contextmanager
    def locked(self) -> Spans:
        # The lock expires after 10 s, so a process that dies holding it stops no one for long.
        lock = self._client.lock(self.key + ":lock", timeout=10, sleep=0.002, blocking_timeout=30)
        try:
            if not lock.acquire():
                raise BudgetUnavailable(f"the shared ERP call budget in Redis ({self._where}) stayed locked "
                                        "for 30 s")
            seconds, micros = self._client.time()
            text = (self._client.get(self.key) or b"").decode()
        except self._errors as exc:
            raise self._unavailable(exc) from None
        try:
            yield text, seconds + micros / 1e6, self._save
        finally:
            with contextlib.suppress(*self._errors):  # expired: the next caller has taken it over
                lock.release()

    def _save(self, text: str) -> None:
        try:
            self._client.set(self.key, text, ex=self.ttl)
        except self._errors as exc:
            raise self._unavailable(exc) from None

    def _unavailable(self, exc: Exception) -> BudgetUnavailable:
        return BudgetUnavailable(f"the shared ERP call budget in Redis ({self._where}) cannot be used: "
                                 f"{type(exc).__name__}: {exc} (QEASY_BUDGET_URL)")


def shared_log(directory: Path, account: str, shared_url: str = "",
               ttl: int = 300) -> _FileSpans | _RedisSpans:
    """A small text log every caller of `account` reads and rewrites under one lock: a file in
    `directory` (this host), or a Redis key at `shared_url` (every host) kept `ttl` s after a write."""
    # The account (app key) is hashed: file names and keys are not a place for credentials.
    digest = hashlib.sha256(account.encode()).hexdigest()[:16]
    return _RedisSpans(shared_url, digest, ttl) if shared_url else _FileSpans(directory, digest)


class CallBudget:
    """Blocks `acquire()` until a call fits within `per_second` and `per_minute`.

    The send times are kept in `directory` (this host), or in the Redis server at `shared_url`
    (every host using it)."""

    def __init__(self, directory: Path, account: str, per_second: int, per_minute: int,
                 margin_seconds: float = 0.1, shared_url: str = "") -> None:
        if per_second < 1 or per_minute < 1:
            raise ValueError("the call budget needs at least 1 call/second and 1 call/minute")
        self._spans = shared_log(directory, account, shared_url)
        self.per_second = per_second
        self.per_minute = per_minute
        self.margin = margin_seconds

    @property
    def path(self) -> Path | None:
        """The log file of a single-host budget (None when it lives in Redis)."""
        return getattr(self._spans, "path", None)

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
        with self._spans.locked() as (text, now, save):
            minute = 60 + 10 * self.margin
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
            save("".join(f"{t:.6f} {kind} {who}\n" for t, kind, who in entries))
            return wait

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
