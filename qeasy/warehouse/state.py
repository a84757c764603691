"""What the published tables hold, kept beside them in ClickHouse (so a wiped warehouse or a new
staging file starts over instead of trusting the other): the publish version of the last refresh,
the staging change sequence each dataset is published up to, the days that have metrics, and the
business days whose records were rewritten but whose metrics may not be yet (`_pending_days`,
written before the records: a refresh that dies in between leaves them to the next one, which
would otherwise find the new versions already published and miss the days of the old ones)."""

import time
from dataclasses import dataclass, field
from datetime import date

import polars as pl
from clickhouse_connect.driver.client import Client


@dataclass
class PublishState:
    """One refresh's view of the state: its own publish version (higher than every earlier one)
    and, per dataset, the change sequence already published (absent: publish everything)."""

    staging: str
    version: int
    published: dict[str, int] = field(default_factory=dict)


def begin(client: Client, staging: str) -> PublishState:
    """The state for a refresh of the warehouse from the staging file `staging`."""
    rows = client.query("SELECT name, value, staging FROM _refresh_state FINAL").result_rows
    last = max((value for name, value, _ in rows if name == "publish"), default=0)
    published = {name.removeprefix("seq:"): value for name, value, owner in rows
                 if name.startswith("seq:") and owner == staging}
    return PublishState(staging, next_version(last), published)


def next_version(last: int = 0) -> int:
    """A publish version above `last`: wall-clock microseconds keep versions readable; the +1 keeps
    them rising if the clock is not."""
    return max(last + 1, time.time_ns() // 1000)


def commit(client: Client, state: PublishState, sequences: dict[str, int]) -> None:
    """Record that the refresh published every change up to `sequences` (dataset -> sequence)."""
    rows = [("publish", state.version), *((f"seq:{name}", seq) for name, seq in sequences.items())]
    client.insert("_refresh_state", [(name, value, state.staging, state.version) for name, value in rows],
                  column_names=["name", "value", "staging", "publish_version"])
    state.published.update(sequences)


def mark(client: Client, name: str) -> int | None:
    """The value a mart keeps in `_refresh_state` under `name` (an instant, epoch ms), None if none."""
    known, value = client.query("SELECT count(), argMax(value, publish_version) FROM _refresh_state "
                                "WHERE name = {n:String}", parameters={"n": name}).result_rows[0]
    return int(value) if known else None


def set_mark(client: Client, name: str, value: int, version: int) -> None:
    """Keep `value` under `name` (any staging file's), as the refresh of publish `version`."""
    client.insert("_refresh_state", [(name, value, "", version)],
                  column_names=["name", "value", "staging", "publish_version"])


def published_days(client: Client) -> set[date]:
    """Days the metric tables have been computed for."""
    return {row[0] for row in client.query("SELECT day FROM _published_days FINAL").result_rows}


def add_published_days(client: Client, days: set[date]) -> None:
    if days:
        frame = pl.DataFrame({"day": sorted(days)}, schema={"day": pl.Date})
        client.insert_df_arrow("_published_days", frame)


def add_pending_days(client: Client, dataset: str, days: set[date]) -> None:
    """Note business days of `dataset` whose metrics must be recomputed."""
    if days:
        client.insert("_pending_days", [(dataset, day) for day in sorted(days)],
                      column_names=["dataset", "day"])


def pending_days(client: Client) -> dict[str, set[date]]:
    """dataset -> business days noted and not yet cleared (left by a refresh that died)."""
    days: dict[str, set[date]] = {}
    for dataset, day in client.query("SELECT DISTINCT dataset, day FROM _pending_days").result_rows:
        days.setdefault(dataset, set()).add(day)
    return days


def clear_pending_days(client: Client) -> None:
    """The metrics of every noted day are recomputed (refreshes run one at a time)."""
    client.command("TRUNCATE TABLE _pending_days")
