"""Messages in the bots' real formats and their delivery.

- Feishu custom bot: an interactive card `{"msg_type": "interactive", "card": {...}}`; with a signing
  secret the body also carries `timestamp` (seconds, as a string) and
  `sign = base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b""))`. It answers `{"code": 0, ...}`.
- DingTalk robot: `{"msgtype": "markdown", "markdown": {"title", "text"}}`; with a signing secret the
  webhook gets the query parameters `timestamp` (milliseconds) and
  `sign = urlencode(base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}")))`.
  It answers `{"errcode": 0, "errmsg": "ok"}`.
A message carries several alerts; each names the rule, the subject, the day, the value and the threshold.
"""

import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote_plus

import httpx

from qeasy.alerts.rules import AFTER_SALE_SPIKE, KIND_LABELS, RULE_LABELS, STOCK_OUT, Alert

FEISHU = "feishu"
DINGTALK = "dingtalk"
LOG = "log"
TITLE = "qeasy 告警 alerts"


class ChannelError(RuntimeError):
    """A message was not accepted: transport error, non-2xx answer, or a non-zero `code`/`errcode`."""


@dataclass(frozen=True)
class Channel:
    name: str  # FEISHU or DINGTALK
    webhook: str = field(repr=False)
    secret: str | None = field(default=None, repr=False)


def channels_from_settings(settings) -> list[Channel]:
    """The configured bot channels of a `qeasy.settings.Settings` (none: alerts are only logged)."""
    channels = []
    if settings.feishu_webhook:
        channels.append(Channel(FEISHU, settings.feishu_webhook, settings.feishu_secret or None))
    if settings.dingtalk_webhook:
        channels.append(Channel(DINGTALK, settings.dingtalk_webhook, settings.dingtalk_secret or None))
    return channels


def _number(value: float) -> str:
    return f"{value:g}"


def describe(alert: Alert) -> str:
    """One line an operator reads: rule, subject, day, value and threshold."""
    subject = f"{KIND_LABELS.get(alert.kind, alert.kind)} {alert.subject_id}"
    if alert.subject_name:
        subject += f" {alert.subject_name}"
    rule = RULE_LABELS.get(alert.rule, alert.rule)
    if alert.rule == STOCK_OUT:
        shipped = f"，近7天出库 {alert.orders} 件" if alert.orders is not None else ""
        detail = (f"期末库存 end_qty = {_number(alert.value)}"
                  f"（阈值 threshold ≤ {_number(alert.threshold)}）{shipped}")
    elif alert.rule == AFTER_SALE_SPIKE:
        window = "近7天" if alert.kind == "sku" else "当日"
        orders = f"，出库单 out orders {alert.orders}" if alert.orders is not None else ""
        detail = (f"{window}售后率 after-sale rate = {alert.value:.2%}"
                  f"（阈值 threshold > {alert.threshold:.2%}）{orders}")
    elif alert.detail is not None:
        detail = alert.detail
    else:
        detail = f"value = {_number(alert.value)}, threshold = {_number(alert.threshold)}"
    return f"【{rule}】{subject} | {alert.day.isoformat()} | {detail}"


def feishu_sign(timestamp: int | str, secret: str) -> str:
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def dingtalk_sign(timestamp_ms: int | str, secret: str) -> str:
    """The base64 signature (not yet url-encoded)."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def feishu_message(alerts: Sequence[Alert], secret: str | None = None, now: float | None = None) -> dict:
    """A Feishu interactive card listing `alerts`, signed when `secret` is set."""
    elements: list[dict] = []
    for i, alert in enumerate(alerts):
        if i:
            elements.append({"tag": "hr"})
        elements.append({"tag": "div", "text": {"tag": "lark_md", "content": describe(alert)}})
    card = {
        "config": {"wide_screen_mode": True},
        "header": {"title": {"tag": "plain_text", "content": f"{TITLE} ({len(alerts)})"}, "template": "red"},
        "elements": elements,
    }
    return feishu_signed({"msg_type": "interactive", "card": card}, secret, now)


def feishu_signed(body: dict, secret: str | None, now: float | None = None) -> dict:
    """A Feishu body with `timestamp` and `sign` when `secret` is set (the bot signs the body)."""
    if not secret:
        return body
    timestamp = str(int(time.time() if now is None else now))
    return {"timestamp": timestamp, "sign": feishu_sign(timestamp, secret)} | body


def dingtalk_message(alerts: Sequence[Alert]) -> dict:
    """A DingTalk markdown message listing `alerts`."""
    lines = [f"### {TITLE} ({len(alerts)})", ""] + [f"- {describe(alert)}" for alert in alerts]
    title = f"{TITLE} ({len(alerts)})"
    return {"msgtype": "markdown", "markdown": {"title": title, "text": "\n".join(lines)}}


def dingtalk_url(webhook: str, secret: str | None, now: float | None = None) -> str:
    """The webhook with `timestamp` and `sign` appended when `secret` is set."""
    if not secret:
        return webhook
    timestamp = int((time.time() if now is None else now) * 1000)
    separator = "&" if "?" in webhook else "?"
    return f"{webhook}{separator}timestamp={timestamp}&sign={quote_plus(dingtalk_sign(timestamp, secret))}"


def send(channel: Channel, alerts: Sequence[Alert], http: httpx.Client,
         clock: Callable[[], float] = time.time) -> None:
    """POST one message carrying `alerts` to `channel`; ChannelError unless the bot accepted it."""
    if channel.name == FEISHU:
        body = feishu_message(alerts)
    elif channel.name == DINGTALK:
        body = dingtalk_message(alerts)
    else:
        raise ChannelError(f"unknown channel {channel.name!r}")
    post(channel, body, http, clock)


def post(channel: Channel, body: dict, http: httpx.Client, clock: Callable[[], float] = time.time) -> None:
    """POST `body`, a message in `channel`'s own format, signed as that bot requires; ChannelError
    unless the bot accepted it."""
    now = clock()
    if channel.name == FEISHU:
        url, body = channel.webhook, feishu_signed(body, channel.secret, now)
    elif channel.name == DINGTALK:
        url = dingtalk_url(channel.webhook, channel.secret, now)
    else:
        raise ChannelError(f"unknown channel {channel.name!r}")
    try:
        response = http.post(url, json=body, timeout=10)
    except httpx.HTTPError as exc:
        raise ChannelError(f"{channel.name}: {type(exc).__name__}") from None
    if not 200 <= response.status_code < 300:
        raise ChannelError(f"{channel.name}: HTTP {response.status_code}")
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if isinstance(answer, dict):
        code = answer.get("code", answer.get("errcode", answer.get("StatusCode", 0)))
        if code not in (0, "0", None):
            text = answer.get("msg") or answer.get("errmsg") or answer.get("StatusMessage") or ""
            raise ChannelError(f"{channel.name}: code {code} {str(text)[:200]}")
