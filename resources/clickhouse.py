"""The ClickHouse warehouse as a Dagster resource: embedded (`chdb://path`) or a server."""

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from clickhouse_connect.driver.client import Client

from qeasy.warehouse.clickhouse import session


class ClickHouseResource(dg.ConfigurableResource):
    """Where the contract tables live. Sessions are exclusive per embedded path (see qeasy.warehouse)."""

    dsn: str  # chdb:///abs/path or http(s)://user:password@host:port
    database: str = "qeasy"
    cluster: str = ""  # a server cluster to replicate the schema on (one shard); empty: one server

    @contextmanager
    def session(self, wait: float | None = None) -> Iterator[Client]:
        """A migrated client; `wait` bounds the wait for another process's embedded session."""
        with session(self.dsn, self.database, wait, self.cluster) as client:
            yield client
