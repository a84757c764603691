"""The dashboard's access file as ClickHouse users, a read-only role and row policies (screens.md).

For a ClickHouse server a BI tool (Superset, Metabase, DataEase, Grafana) connects as one of these
users and sees what the dashboard would show that person:
- role `qeasy_bi`: SELECT on the tables the screens read (and their `v_` views, and on a cluster
  their Distributed `_all` companions), nothing else; every user gets `readonly = 1`;
- a table with a `shop_id` column gets one row policy per user, `USING shop_id IN (...)` (or `1`
  for users of every shop). ClickHouse shows no rows of a table with policies to a user none of
  them names, so the writer qeasy connects as gets `USING 1` too;
- merchant-wide stock tables only for users whose access says `inventory`; the merchant-wide SKU
  after-sale table only for users of every shop (the others' numbers would include other shops).
ClickHouse cannot check argon2 hashes, so each BI user gets a password generated here, printed once.
"""

import re
import secrets
from dataclasses import dataclass

from qeasy.dashboard.access import User
from qeasy.dashboard.screens import SCREENS
from qeasy.warehouse.cluster import DISTRIBUTED_SUFFIX, read_tables
from qeasy.warehouse.schema import MIGRATIONS

ROLE = "qeasy_bi"
USER_PREFIX = "bi_"
WRITER_POLICY = "qeasy_writer_all_rows"
STOCK = frozenset({"ads_inventory_overview", "ads_inventory_turnover", "ads_replenishment",
                   "dws_inventory", "dws_inventory_daily"})
ALL_SHOPS_ONLY = frozenset({"ads_sku_after_sale_7d"})
# The tables the screens read, and what the dashboard reads to compute a ranking over some shops.
EXPOSED = frozenset({table for screen in SCREENS.values() for table in screen.reads}
                    | {"dim_shop", "dim_sku", "dws_sale_out", "dws_after_sale", "dws_inventory_daily"})
_CREATE = re.compile(r"^CREATE TABLE IF NOT EXISTS ([A-Za-z_][A-Za-z0-9_]*) \((.*?)\)\s*ENGINE", re.S)


def shop_tables() -> frozenset[str]:
    """The tables whose rows belong to a shop (a `shop_id` column), from the migrations."""
    found = set()
    for _, _, statements in MIGRATIONS:
        for statement in statements:
            match = _CREATE.match(statement.strip())
            if match and re.search(r"(^|[\s,(])shop_id\s", match.group(2)):
                found.add(match.group(1))
    return frozenset(found)


@dataclass(frozen=True)
class Grants:
    statements: list[str]
    passwords: dict[str, str]  # BI user -> the password generated for it


def bi_user(user: User) -> str:
    """The ClickHouse user a dashboard user becomes."""
    return USER_PREFIX + re.sub(r"[^A-Za-z0-9_]", "_", user.name)


def _tables(table: str, cluster: str) -> list[str]:
    """The table, and on a cluster the Distributed companion its view reads."""
    return [table, f"{table}{DISTRIBUTED_SUFFIX}"] if cluster and table in read_tables() else [table]


def _names(table: str, cluster: str) -> list[str]:
    """What reading `table` takes: the table(s) and its `v_` view."""
    return [*_tables(table, cluster), f"v_{table}"]


def _condition(user: User) -> str:
    if user.all_shops:
        return "1"
    return f"shop_id IN ({', '.join(map(str, sorted(user.shops)))})" if user.shops else "0"


def grants(users: dict[str, User], database: str, writer: str, cluster: str = "") -> Grants:
    """The statements that create the role, the BI users and their row policies; idempotent."""
    on = f" ON CLUSTER {cluster}" if cluster else ""
    shops = shop_tables()
    statements = [f"CREATE ROLE IF NOT EXISTS {ROLE}{on}"]
    common = sorted(EXPOSED - STOCK - ALL_SHOPS_ONLY)
    statements += [f"GRANT{on} SELECT ON {database}.{name} TO {ROLE}"
                   for table in common for name in _names(table, cluster)]
    passwords = {}
    for user in users.values():
        bi = bi_user(user)
        passwords[bi] = secrets.token_urlsafe(18)
        statements += [
            f"CREATE USER OR REPLACE {bi}{on} IDENTIFIED WITH sha256_password BY '{passwords[bi]}' "
            f"DEFAULT ROLE {ROLE} SETTINGS readonly = 1",
            f"GRANT{on} {ROLE} TO {bi}",
        ]
        extra = (STOCK if user.inventory else set()) | (ALL_SHOPS_ONLY if user.all_shops else set())
        statements += [f"GRANT{on} SELECT ON {database}.{name} TO {bi}"
                       for table in sorted(extra & EXPOSED) for name in _names(table, cluster)]
    for table in sorted(shops & EXPOSED):
        for name in _tables(table, cluster):
            statements.append(f"CREATE ROW POLICY OR REPLACE {WRITER_POLICY} ON {database}.{name}{on} "
                              f"FOR SELECT USING 1 TO {writer}")
            statements += [f"CREATE ROW POLICY OR REPLACE qeasy_shops_{bi_user(user)} ON {database}.{name}"
                           f"{on} FOR SELECT USING {_condition(user)} TO {bi_user(user)}"
                           for user in users.values()]
    return Grants(statements, passwords)
