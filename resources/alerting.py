"""Alert channels and thresholds as a Dagster resource: what the alert sensors deliver through."""

from collections.abc import Sequence
from datetime import date

import dagster as dg
import httpx
from clickhouse_connect.driver.client import Client

from qeasy.alerts.channels import channels_from_settings
from qeasy.alerts.delivery import DeliveryReport, deliver, pending
from qeasy.alerts.rules import Alert, evaluate
from qeasy.push.delivery import PushReport, push
from qeasy.push.messages import PushOptions


class AlertingResource(dg.ConfigurableResource):
    """Feishu / DingTalk custom bots (webhooks and signing secrets are secrets), the rule thresholds
    and the daily push's link and @-mentions.

    With no webhook configured, alerts are logged and recorded under the channel 'log'.
    """

    feishu_webhook: str = ""
    feishu_secret: str = ""
    dingtalk_webhook: str = ""
    dingtalk_secret: str = ""
    after_sale_rate: float = 0.05
    min_orders: int = 20
    # The daily push (qeasy.push): the dashboard link and the @-mentions it carries.
    dashboard_url: str = ""
    dingtalk_at_mobiles: list[str] = []
    dingtalk_at_all: bool = False
    feishu_at: list[str] = []  # open_ids, or "all"

    def evaluate(self, client: Client, day: date) -> list[Alert]:
        """The metric alerts that fire on `day`."""
        return evaluate(client, day, self.after_sale_rate, self.min_orders)

    def deliver(self, client: Client, alerts: Sequence[Alert], retry_failed: bool = True) -> DeliveryReport:
        """Deliver `alerts` once each per channel, and (by default) every earlier failed delivery."""
        with httpx.Client(timeout=10) as http:
            return deliver(client, [*alerts, *(pending(client) if retry_failed else [])],
                           channels_from_settings(self), http)

    def push(self, client: Client, day: date) -> PushReport:
        """The daily push of `day` to every channel that has not had it (qeasy.push.delivery)."""
        options = PushOptions(self.dashboard_url, tuple(self.dingtalk_at_mobiles), self.dingtalk_at_all,
                              tuple(self.feishu_at))
        with httpx.Client(timeout=10) as http:
            return push(client, day, channels_from_settings(self), http, self.min_orders, options)
