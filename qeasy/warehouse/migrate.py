"""Applying the schema migrations to a server, a cluster or the embedded engine."""

from clickhouse_connect.driver.client import Client

from qeasy.warehouse import declared
from qeasy.warehouse.cluster import check_topology, render
from qeasy.warehouse.schema import MIGRATIONS, MIGRATIONS_TABLE


def migrate(client: Client, database: str, cluster: str = "") -> None:
    """Create `database` if needed, apply the migrations it lacks, bring the tables made from declarations in
    line with them (qeasy.warehouse.declared), and make it the client's default; with
    `cluster`, every statement is run `ON CLUSTER` in its replicated form (qeasy.warehouse.cluster)."""
    if cluster:
        check_topology(client, cluster)
    for statement in render([f"CREATE DATABASE IF NOT EXISTS {database}"], database, cluster):
        client.command(statement)
    client.database = database
    for statement in render([MIGRATIONS_TABLE], database, cluster):
        client.command(statement)
    applied = {row[0] for row in client.query("SELECT version FROM _migrations").result_rows}
    for version, description, statements in MIGRATIONS:
        if version in applied:
            continue
        for statement in [*render(statements, database, cluster), record(version, description)]:
            client.command(statement)
    for table in declared.tables():
        for statement in render(declared.catch_up(client, table), database, cluster):
            client.command(statement)


def record(version: int, description: str) -> str:
    """The statement recording that migration `version` is applied."""
    quoted = description.replace("\\", "\\\\").replace("'", "\\'")
    return f"INSERT INTO _migrations VALUES ({version}, '{quoted}', now())"


def schema_statements(database: str, cluster: str = "") -> list[str]:
    """Every statement a new warehouse runs, in order (`qeasy schema` prints them for a DBA)."""
    statements = [*render([f"CREATE DATABASE IF NOT EXISTS {database}"], database, cluster),
                  f"USE {database}", *render([MIGRATIONS_TABLE], database, cluster)]
    for version, description, each in MIGRATIONS:
        statements += [*render(each, database, cluster), record(version, description)]
    return statements + render(declared.statements(), database, cluster)
