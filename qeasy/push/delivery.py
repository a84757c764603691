"""The daily push for one Beijing day, exactly once per (day, channel), with its state in `ops_pushes`.

The channels already 'sent' for the day are read first (FINAL) and never sent again, across retries,
re-runs and restarts; the others get the message, and each attempt is recorded as 'sent' or 'failed'
with its attempt count (the table's version: the newest attempt wins), so a retry sends only to the
channels that failed. With no channel configured the message is logged and recorded under 'log'.

As for the alerts (qeasy.alerts.delivery), a crash between a bot accepting the message and its 'sent'
row being written would send it again: the bots have no idempotency key.
"""

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import httpx
from clickhouse_connect.driver.client import Client

from qeasy.alerts.channels import LOG, Channel, ChannelError, post
from qeasy.erp.times import BEIJING
from qeasy.push.messages import PLAIN, PushOptions, push_message, text
from qeasy.push.summary import read_summary

log = logging.getLogger(__name__)

COLUMNS = ["day", "channel", "status", "attempts", "first_attempt", "sent_at", "error", "message"]


@dataclass
class PushReport:
    day: date
    sent: list[str] = field(default_factory=list)  # channels delivered by this call
    skipped: list[str] = field(default_factory=list)  # channels sent before
    failed: dict[str, str] = field(default_factory=dict)  # channel -> error (retried by the next call)

    @property
    def ok(self) -> bool:
        return not self.failed


def state(client: Client, day: date) -> dict[str, tuple[str, int, datetime]]:
    """channel -> (status, attempts, first attempt) of the pushes of `day`."""
    rows = client.query("SELECT channel, status, attempts, first_attempt FROM ops_pushes FINAL "
                        "WHERE day = {day:Date}", parameters={"day": day}).result_rows
    return {channel: (status, attempts, first) for channel, status, attempts, first in rows}


def push(client: Client, day: date, channels: Sequence[Channel], http: httpx.Client, min_orders: int,
         options: PushOptions = PLAIN, clock: Callable[[], float] = time.time) -> PushReport:
    """Send the push of `day` to each channel that has not had it yet; record every attempt."""
    report = PushReport(day)
    previous = state(client, day)
    todo: list[Channel | None] = []
    for channel in channels or [None]:
        if previous.get(channel.name if channel else LOG, ("",))[0] == "sent":
            report.skipped.append(channel.name if channel else LOG)
        else:
            todo.append(channel)
    if not todo:
        return report
    summary = read_summary(client, day, min_orders)
    message = text(summary, options)
    for channel in todo:
        name, error = channel.name if channel else LOG, None
        if channel is None:
            log.warning("daily push (no channel configured):\n%s", message)
        else:
            try:
                post(channel, push_message(channel.name, summary, options), http, clock)
            except ChannelError as exc:
                error = str(exc)
        now = datetime.fromtimestamp(clock(), BEIJING)
        _, attempts, first = previous.get(name, ("", 0, now))
        client.insert("ops_pushes", [[day, name, "failed" if error else "sent", attempts + 1, first,
                                      None if error else now, error or "", message]], column_names=COLUMNS)
        if error:
            report.failed[name] = error
            log.error("daily push of %s to %s failed: %s", day, name, error)
        else:
            report.sent.append(name)
    return report
