"""A screen's numbers for one user and day: its queries run with bound parameters, rows as JSON values."""

import time
from datetime import date, datetime
from decimal import Decimal

from clickhouse_connect.driver.client import Client

from qeasy.dashboard.access import User
from qeasy.dashboard.screens import LATEST_COMPLETE_DAY, Screen


def _json(value):
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def rows(client: Client, sql: str, parameters: dict) -> list[dict]:
    """The query's rows as dicts of JSON values."""
    result = client.query(sql, parameters=parameters)
    return [dict(zip(result.column_names, map(_json, row), strict=True)) for row in result.result_rows]


def parameters(user: User, day: date, wanted: set[int] | None, min_orders: int) -> dict:
    """The bound parameters of every screen query: the day and the shops this request may read."""
    shops = user.visible(wanted)
    return {"day": day, "all_shops": int(shops is None), "shops": sorted(shops or ()),
            "min_orders": min_orders}


def read(client: Client, screen: Screen, user: User, day: date, wanted: set[int] | None = None,
         min_orders: int = 0) -> dict:
    """Each section of `screen` for `user` on `day`; stock sections withheld from users without it."""
    bound = parameters(user, day, wanted, min_orders)
    started = time.perf_counter()
    sections, hidden = {}, []
    for name, sql in screen.queries.items():
        if name in screen.inventory and not user.inventory:
            hidden.append(name)
            continue
        if not user.all_shops or wanted is not None:
            sql = screen.restricted.get(name, sql)
        sections[name] = rows(client, sql, bound)
    return {"screen": screen.number, "title": screen.title, "reads": list(screen.reads),
            "day": day.isoformat(), "sections": sections, "hidden": hidden,
            "query_ms": round((time.perf_counter() - started) * 1000, 1)}


def latest_complete_day(client: Client, today: date) -> date:
    """The latest day before `today` with metrics (today when there is none)."""
    found = client.query(LATEST_COMPLETE_DAY, parameters={"today": today}).result_rows
    latest = found[0][0] if found else None
    return latest if isinstance(latest, date) and latest.year > 1970 else today

