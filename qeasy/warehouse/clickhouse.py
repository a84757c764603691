"""Sessions with ClickHouse through clickhouse-connect: embedded (`chdb://path`) or a server.

The embedded engine allows one process per path, and its own lock loses committed inserts when
processes take turns (platform-notes). So embedded sessions hold an exclusive `flock` on a
sidecar file from open to close: concurrent steps, runs, sensors and CLI commands queue up
instead of failing or losing data. Inside one process, nested and concurrent sessions share one
client (the engine serves one path per process). A server needs no lock.
"""

import fcntl
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from qeasy.warehouse.migrate import migrate


class WarehouseError(RuntimeError):
    """ClickHouse cannot be reached or refused a statement; the message never carries a password."""


def redact(dsn: str, text: str | None = None) -> str:
    """`text` (default: the DSN itself) with the DSN's password masked."""
    password = urlsplit(dsn).password if "://" in dsn else None
    text = dsn if text is None else text
    if password:
        text = text.replace(password, "***")
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", text)


def embedded_path(dsn: str) -> Path | None:
    """The database directory of a `chdb://` DSN, None for a server."""
    return Path(dsn.removeprefix("chdb://")).resolve() if dsn.startswith("chdb://") else None


class _Embedded:
    """The one client of this process for an embedded path, with its file lock and users."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.users = 0
        self.client: Client | None = None
        self.lock_file = None


_embedded: dict[Path, _Embedded] = {}
_registry = threading.Lock()


def _open(dsn: str, settings: dict | None = None) -> Client:
    try:
        return clickhouse_connect.get_client(dsn=dsn, settings=settings)
    except Exception as exc:
        raise WarehouseError(
            f"cannot open ClickHouse at {redact(dsn)}: {type(exc).__name__}: {redact(dsn, str(exc))[:300]}"
        ) from None


class WarehouseBusy(WarehouseError):
    """Another process held the embedded warehouse for longer than the caller would wait."""


def _lock(lock_file, path: Path, wait: float | None) -> None:
    """Take the process-exclusive lock: block (wait None), or poll until `wait` seconds have passed."""
    if wait is None:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        return
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                lock_file.close()
                raise WarehouseBusy(f"the embedded warehouse {path} is in use by another process "
                                    f"(waited {wait:g} s)") from None
            time.sleep(0.2)


@contextmanager
def _embedded_client(path: Path, wait: float | None) -> Iterator[Client]:
    with _registry:
        entry = _embedded.setdefault(path, _Embedded(path))
        if entry.users == 0:
            path.parent.mkdir(parents=True, exist_ok=True)
            entry.lock_file = open(path.parent / f".{path.name}.lock", "a")  # noqa: SIM115
            _lock(entry.lock_file, path, wait)  # other processes hold it while they write
            try:
                entry.client = _open(f"chdb://{path}")
            except Exception:
                entry.lock_file.close()
                raise
        entry.users += 1
    try:
        yield entry.client
    finally:
        with _registry:
            entry.users -= 1
            if entry.users == 0:
                try:
                    entry.client.close()
                finally:  # other processes wait on this lock: release it whatever happens
                    entry.client = None
                    fcntl.flock(entry.lock_file, fcntl.LOCK_UN)
                    entry.lock_file.close()


@contextmanager
def session(dsn: str, database: str, wait: float | None = None, cluster: str = "") -> Iterator[Client]:
    """A client whose database exists and is migrated; embedded sessions are exclusive per path.

    `wait`: how long to wait for another process's embedded session (None: as long as it takes);
    past it, WarehouseBusy. Sensors wait briefly and try again on their next tick.
    `cluster`: the server's cluster the schema is replicated on (qeasy.warehouse.cluster).
    """
    path = embedded_path(dsn)
    if path is not None:
        if cluster:
            raise WarehouseError("QEASY_CLICKHOUSE_CLUSTER needs a ClickHouse server DSN, not chdb://")
        with _embedded_client(path, wait) as client:
            migrate(client, database)
            yield client
        return
    # Replicated tables drop an insert identical to a recent one: qeasy re-inserts identical rows
    # on purpose (a pending day noted again after it was cleared), so nothing may be dropped.
    client = _open(dsn, {"insert_deduplicate": 0} if cluster else None)
    try:
        migrate(client, database, cluster)
        yield client
    finally:
        client.close()
