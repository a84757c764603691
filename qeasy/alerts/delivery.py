"""Exactly-once alert delivery per (rule, subject, day) and channel, with its state in `ops_alerts`.

Before sending, the pairs already 'sent' are read (FINAL); the rest go out batched per channel
(several alerts per message) and each attempt is recorded as 'sent' or 'failed' with its attempt
count (the table's version: the newest attempt wins). Failed pairs are retried by the next call for
the same alert, and by `pending` (the alert is stored with its outcome); sent pairs are never sent
again, across retries, re-runs and restarts. With no channel configured
the alerts are only logged and recorded under the channel 'log'.

The one remaining window is a crash between the bot accepting a message and its 'sent' rows being
written: the bots have no idempotency key, so such a message would be sent again on the next call.
"""

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

import httpx
from clickhouse_connect.driver.client import Client

from qeasy.alerts.channels import LOG, Channel, ChannelError, describe, send
from qeasy.alerts.rules import Alert

log = logging.getLogger(__name__)

ZONE = ZoneInfo("Asia/Shanghai")
BATCH = 20  # alerts per message: well under the bots' message size limits
COLUMNS = ["rule", "subject", "day", "channel", "value", "threshold", "message", "status", "attempts",
           "first_seen", "sent_at", "alert"]


@dataclass
class DeliveryReport:
    sent: int = 0  # (alert, channel) pairs delivered by this call
    skipped: int = 0  # pairs already sent before
    failed: int = 0  # pairs whose message was refused or not answered (retried by the next call)
    messages: int = 0  # messages accepted by the bots
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed == 0


def _state(client: Client, days: list[date]) -> dict[tuple[str, str, date, str], tuple[str, int, datetime]]:
    rows = client.query(
        "SELECT rule, subject, day, channel, status, attempts, first_seen FROM ops_alerts FINAL "
        "WHERE day IN {days:Array(Date)}", parameters={"days": days}).result_rows
    return {(rule, subject, day, channel): (status, attempts, first_seen)
            for rule, subject, day, channel, status, attempts, first_seen in rows}


def _dump(alert: Alert) -> str:
    return json.dumps(asdict(alert) | {"day": alert.day.isoformat()}, ensure_ascii=False)


def pending(client: Client) -> list[Alert]:
    """Every alert whose latest delivery attempt to some channel failed: to be sent again."""
    rows = client.query("SELECT DISTINCT alert FROM ops_alerts FINAL WHERE status = 'failed' AND alert != ''")
    alerts = []
    for (text,) in rows.result_rows:
        fields = json.loads(text)
        alerts.append(Alert(**(fields | {"day": date.fromisoformat(fields["day"])})))
    return alerts


def deliver(client: Client, alerts: Sequence[Alert], channels: Sequence[Channel], http: httpx.Client,
            clock: Callable[[], float] = time.time) -> DeliveryReport:
    """Send each alert not yet sent to every channel (only log it when there is none); record the outcome."""
    report = DeliveryReport()
    unique = list({alert.key: alert for alert in alerts}.values())
    if not unique:
        return report
    state = _state(client, sorted({alert.day for alert in unique}))
    for channel in channels or [None]:
        name = channel.name if channel else LOG
        pending = []
        for alert in unique:
            previous = state.get((*alert.key, name))
            if previous and previous[0] == "sent":
                report.skipped += 1
            else:
                pending.append(alert)
        for start in range(0, len(pending), BATCH):
            batch = pending[start:start + BATCH]
            error = None
            if channel is None:
                for alert in batch:
                    log.warning("alert: %s", describe(alert))
            else:
                try:
                    send(channel, batch, http, clock)
                except ChannelError as exc:
                    error = str(exc)
            now = datetime.fromtimestamp(clock(), ZONE)
            rows = []
            for alert in batch:
                _, attempts, first_seen = state.get((*alert.key, name), (None, 0, now))
                rows.append([alert.rule, alert.subject, alert.day, name, alert.value, alert.threshold,
                             describe(alert), "failed" if error else "sent", attempts + 1, first_seen,
                             None if error else now, _dump(alert)])
            client.insert("ops_alerts", rows, column_names=COLUMNS)
            if error:
                report.failed += len(batch)
                report.errors.append(error)
                log.error("alert delivery failed (%d alerts): %s", len(batch), error)
            else:
                report.sent += len(batch)
                report.messages += channel is not None
    return report
