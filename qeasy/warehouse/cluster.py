"""The migrations rendered for a ClickHouse cluster (setting QEASY_CLICKHOUSE_CLUSTER).

One shard, any number of replicas: every table is created `ON CLUSTER` as a `Replicated*MergeTree`
(so the migration record `_migrations` is one table that every replica shares), and every table a
reader's `v_` view shows gets a `Distributed` companion `<table>_all` that the view reads, so a BI
tool connected to any node reads a healthy replica. qeasy itself writes and reads the replicated
tables on the node it is connected to: it sees its own writes at once, with no replication lag.
Records are not sharded: the refresh's upsert and FINAL need every version of a record on one node
(`check_topology` refuses a cluster of several shards).

The migrations stay written once, for one server (`qeasy.warehouse.schema`); this module rewrites
each statement and fails loudly on a statement form it does not know, so a new migration cannot
silently skip the cluster.
"""

import re
from functools import cache

from clickhouse_connect.driver.client import Client

from qeasy.warehouse import declared
from qeasy.warehouse.schema import MIGRATIONS

ZOOKEEPER_PATH = "/clickhouse/tables/{{shard}}/{database}/{table}"  # {shard} is a server macro
DISTRIBUTED_SUFFIX = "_all"
NAME = r"[A-Za-z_][A-Za-z0-9_]*"

_CREATE_TABLE = re.compile(
    rf"^CREATE TABLE IF NOT EXISTS ({NAME}) (\(.*\))\s*ENGINE = (\w+)(?:\(([^)]*)\))?(.*)$", re.S)
_CREATE_VIEW = re.compile(rf"^CREATE VIEW IF NOT EXISTS ({NAME}) AS (.*)$", re.S)
_DROP = re.compile(rf"^DROP (TABLE|VIEW) IF EXISTS ({NAME})$")
_ALTER = re.compile(rf"^ALTER TABLE ({NAME}) (.*)$", re.S)
_CREATE_DATABASE = re.compile(rf"^CREATE DATABASE IF NOT EXISTS ({NAME})$")


class ClusterError(ValueError):
    """A migration statement has a form the cluster rendering does not know, or the cluster is not
    one the warehouse can use."""


@cache
def read_tables() -> frozenset[str]:
    """Tables some `v_` view reads: they get a Distributed companion."""
    tables = set()
    for statements in [*(each for _, _, each in MIGRATIONS), declared.statements()]:
        for statement in statements:
            if match := _CREATE_VIEW.match(statement.strip()):
                tables.update(re.findall(rf"\bFROM ({NAME})\b", match.group(2)))
    return frozenset(tables)


def on_cluster(statement: str, database: str, cluster: str) -> list[str]:
    """`statement` (one of the forms the migrations use) as the statements a cluster runs."""
    statement = statement.strip()
    where = f"ON CLUSTER {cluster}"
    if match := _CREATE_DATABASE.match(statement):
        return [f"CREATE DATABASE IF NOT EXISTS {match.group(1)} {where}"]
    if match := _CREATE_TABLE.match(statement):
        table, columns, engine, arguments, layout = match.groups()
        if engine not in ("MergeTree", "ReplacingMergeTree"):
            raise ClusterError(f"no replicated form known for engine {engine} (table {table})")
        path = ZOOKEEPER_PATH.format(database=database, table=table)
        replicated = ", ".join([f"'{path}'", "'{replica}'", *([arguments] if arguments else [])])
        rendered = [f"CREATE TABLE IF NOT EXISTS {table} {where} {columns}\n    "
                    f"ENGINE = Replicated{engine}({replicated}){layout}"]
        if table in read_tables():
            rendered.append(f"CREATE TABLE IF NOT EXISTS {table}{DISTRIBUTED_SUFFIX} {where} AS {table} "
                            f"ENGINE = Distributed({cluster}, {database}, {table})")
        return rendered
    if match := _CREATE_VIEW.match(statement):
        view, body = match.groups()
        # Through the Distributed companions; a subquery over one must be GLOBAL to run once.
        body = re.sub(rf"\bFROM ({NAME})\b",
                      lambda m: f"FROM {m.group(1)}{DISTRIBUTED_SUFFIX}" if m.group(1) in read_tables()
                      else m.group(0), body)
        body = body.replace(" IN (SELECT", " GLOBAL IN (SELECT")
        return [f"CREATE VIEW IF NOT EXISTS {view} {where} AS {body}"]
    if match := _DROP.match(statement):
        kind, name = match.groups()
        # SYNC: a re-created replicated table reuses the ZooKeeper path the dropped one frees.
        names = [f"{name}{DISTRIBUTED_SUFFIX}", name] if kind == "TABLE" and name in read_tables() else [name]
        return [f"DROP {kind} IF EXISTS {each} {where} SYNC" for each in names]
    if match := _ALTER.match(statement):
        table, change = match.groups()
        names = [table, f"{table}{DISTRIBUTED_SUFFIX}"] if table in read_tables() else [table]
        return [f"ALTER TABLE {each} {where} {change}" for each in names]
    if statement.startswith("INSERT INTO "):
        return [statement]  # into a replicated table: written once, replicated to every node
    raise ClusterError(f"no cluster form known for the migration statement: {statement[:120]}")


def render(statements: list[str], database: str, cluster: str) -> list[str]:
    """The statements to run: as written for one server (`cluster` empty), or for the cluster."""
    if not cluster:
        return statements
    return [rendered for statement in statements for rendered in on_cluster(statement, database, cluster)]


def check_topology(client: Client, cluster: str) -> None:
    """Refuse a cluster the server does not define, or one of several shards (see the module)."""
    shards = client.query("SELECT count(DISTINCT shard_num) FROM system.clusters WHERE cluster = {c:String}",
                          parameters={"c": cluster}).result_rows[0][0]
    if shards == 0:
        raise ClusterError(f"QEASY_CLICKHOUSE_CLUSTER: the server defines no cluster {cluster!r} "
                           "(see system.clusters)")
    if shards > 1:
        raise ClusterError(f"QEASY_CLICKHOUSE_CLUSTER: cluster {cluster!r} has {shards} shards; qeasy writes "
                           "one shard with any number of replicas (a record's versions must share a node)")
