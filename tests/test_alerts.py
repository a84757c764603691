"""Alert rules, bot messages and exactly-once delivery, against a real local HTTP receiver and chdb."""

from datetime import date

import httpx
import pytest

from qeasy.alerts.channels import (
    DINGTALK,
    FEISHU,
    Channel,
    ChannelError,
    channels_from_settings,
    describe,
    send,
)
from qeasy.alerts.delivery import BATCH, deliver
from qeasy.alerts.rules import AFTER_SALE_SPIKE, STOCK_OUT, Alert, evaluate
from qeasy.warehouse.clickhouse import session
from tests.webhook_receiver import Receiver, bots

DAY = date(2026, 11, 20)


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture
def http():
    with httpx.Client() as client:
        yield client


@pytest.fixture
def client(tmp_path):
    with session(f"chdb://{tmp_path}/ch", "qeasy") as c:
        yield c


ALERTS = [
    Alert(STOCK_OUT, "SKU-1", "红色T恤 M", DAY, 0.0, 0.0, "sku", 12),
    Alert(AFTER_SALE_SPIKE, "SKU-2", "蓝色卫衣", DAY, 0.125, 0.05, "sku", 40),
    Alert(AFTER_SALE_SPIKE, "101", "旗舰店", DAY, 0.08, 0.05, "shop", 25),
]


def test_messages_are_real_formats_signed_and_readable(client, receiver, http):
    report = deliver(client, ALERTS, bots(receiver), http)
    assert (report.sent, report.failed, report.messages) == (6, 0, 2), report.errors
    (feishu,) = [body for bot, body in receiver.accepted if bot == "feishu"]
    (dingtalk,) = [body for bot, body in receiver.accepted if bot == "dingtalk"]
    assert feishu["msg_type"] == "interactive" and set(feishu) == {"msg_type", "card", "timestamp", "sign"}
    assert feishu["card"]["header"]["title"]["tag"] == "plain_text"
    assert dingtalk["msgtype"] == "markdown" and set(dingtalk["markdown"]) == {"title", "text"}
    lines = receiver.alerts_received()
    assert len(lines) == 6
    for _, line in lines:  # every alert names rule, subject, day, value and threshold
        assert DAY.isoformat() in line
    for bot in ("feishu", "dingtalk"):
        mine = [line for b, line in lines if b == bot]
        assert "缺货" in mine[0] and "SKU-1" in mine[0] and "红色T恤 M" in mine[0]
        assert "end_qty = 0" in mine[0] and "12" in mine[0]
        assert "售后率" in mine[1] and "SKU-2 蓝色卫衣" in mine[1]
        assert "12.50%" in mine[1] and "5.00%" in mine[1]
        assert "售后率" in mine[2] and "101 旗舰店" in mine[2] and "8.00%" in mine[2] and "店铺" in mine[2]


def test_unsigned_feishu_has_no_sign_and_wrong_secret_is_a_failure(receiver, http):
    unsigned = Channel(FEISHU, f"{receiver.url}/feishu")
    with pytest.raises(ChannelError, match="19021"):  # the receiver requires a signature
        send(unsigned, ALERTS[:1], http)
    assert "sign" not in receiver.requests[-1][2] and "timestamp" not in receiver.requests[-1][2]
    with pytest.raises(ChannelError, match="310000"):
        send(Channel(DINGTALK, f"{receiver.url}/dingtalk?access_token=tok", "wrong"), ALERTS[:1], http)
    receiver.fail_next = 1
    with pytest.raises(ChannelError, match="HTTP 500"):
        send(bots(receiver)[0], ALERTS[:1], http)
    with pytest.raises(ChannelError, match="ConnectError"):
        send(Channel(FEISHU, "http://127.0.0.1:9/feishu"), ALERTS[:1], http)
    assert receiver.accepted == []


def test_delivering_twice_sends_nothing_new(client, receiver, http):
    first = deliver(client, ALERTS, bots(receiver), http)
    second = deliver(client, ALERTS + ALERTS, bots(receiver), http)  # duplicates in input too
    assert first.sent == 6 and (second.sent, second.skipped, second.messages) == (0, 6, 0)
    assert len(receiver.requests) == 2 and len(receiver.alerts_received()) == 6
    rows = client.query("SELECT channel, status, attempts, sent_at IS NOT NULL FROM ops_alerts FINAL "
                        "ORDER BY channel").result_rows
    assert rows == [("dingtalk", "sent", 1, True)] * 3 + [("feishu", "sent", 1, True)] * 3


def test_failing_receiver_then_recovery_delivers_each_alert_exactly_once(tmp_path, receiver, http):
    receiver.fail_next = 2  # both channels' first messages fail ...
    dsn = f"chdb://{tmp_path}/ch"
    reports = []
    for _ in range(3):  # ... each call in its own session: state survives restarts
        with session(dsn, "qeasy") as client:
            reports.append(deliver(client, ALERTS, bots(receiver), http))
        if len(reports) == 1:
            receiver.fail_next = 2  # the retry fails again
    assert [r.failed for r in reports] == [6, 6, 0] and [r.sent for r in reports] == [0, 0, 6]
    assert reports[2].skipped == 0
    lines = receiver.alerts_received()
    assert sorted(lines) == sorted(set(lines)) and len(lines) == 6
    with session(dsn, "qeasy") as client:
        assert deliver(client, ALERTS, bots(receiver), http).skipped == 6
        rows = client.query("SELECT status, attempts, first_seen < sent_at FROM ops_alerts FINAL").result_rows
    assert rows == [("sent", 3, True)] * 6
    assert len(receiver.alerts_received()) == 6


def test_one_channel_failing_does_not_block_or_repeat_the_other(client, receiver, http):
    channels = bots(receiver, feishu_secret="wrong")
    first = deliver(client, ALERTS, channels, http)
    assert (first.sent, first.failed) == (3, 3) and "19021" in first.errors[0]
    second = deliver(client, ALERTS, bots(receiver), http)  # secret fixed
    assert (second.sent, second.skipped, second.failed) == (3, 3, 0)
    assert sorted(b for b, _ in receiver.alerts_received()) == ["dingtalk"] * 3 + ["feishu"] * 3


def test_alerts_are_batched_several_per_message(client, receiver, http):
    many = [Alert(STOCK_OUT, f"SKU-{i:03}", None, DAY, 0.0, 0.0, "sku", 1) for i in range(BATCH * 2 + 5)]
    report = deliver(client, many, bots(receiver)[:1], http)
    assert report.messages == 3 and report.sent == len(many)
    assert [len(body["card"]["elements"]) for _, body in receiver.accepted] == [BATCH * 2 - 1] * 2 + [9]
    assert len(set(receiver.alerts_received())) == len(many)


def test_without_channels_alerts_are_only_recorded(client, http, caplog):
    first = deliver(client, ALERTS, [], http)
    second = deliver(client, ALERTS, [], http)
    assert (first.sent, first.messages, second.skipped) == (3, 0, 3)
    rows = client.query("SELECT DISTINCT channel, status FROM ops_alerts FINAL").result_rows
    assert rows == [("log", "sent")]
    assert sum("缺货" in r.getMessage() for r in caplog.records) == 1


def test_channels_from_settings():
    class S:
        feishu_webhook, feishu_secret, dingtalk_webhook, dingtalk_secret = "https://f", "", None, "x"

    assert channels_from_settings(S()) == [Channel(FEISHU, "https://f", None)]
    assert "SKU-1 红色T恤 M" in describe(ALERTS[0])


def test_evaluate_on_a_hand_built_state(client):
    other = date(2026, 11, 19)
    turnover = ["stat_date", "sku_id", "sku_name", "end_qty", "min_qty", "out_qty_7d", "turnover_days",
                "below_min"]
    client.insert("ads_inventory_turnover", [
        [DAY, "A", "缺货款", 0, 5, 7, 0.0, True],  # fires
        [DAY, "B", "滞销款", 0, None, 0, None, None],  # no sales in 7 days: not a stock-out
        [DAY, "C", "有货", 3, None, 7, 3.0, None],
        [other, "D", "昨天缺货", 0, None, 7, 0.0, None],  # another day
    ], column_names=turnover)
    sku = ["stat_date", "sku_id", "sku_name", "out_orders_7d", "refund_orders_7d", "after_sale_rate_7d"]
    client.insert("ads_sku_after_sale_7d", [
        [DAY, "S1", "高售后", 20, 2, 0.1],  # fires: at the order minimum
        [DAY, "S2", "订单少", 19, 5, 5 / 19],  # below the order minimum
        [DAY, "S3", "刚好阈值", 40, 2, 0.05],  # not above the rate
        [DAY, "S4", "无出库", 0, 0, None],
        [other, "S5", "昨天", 50, 20, 0.4],
    ], column_names=sku)
    shop = ["stat_date", "shop_id", "shop_name", "out_orders", "out_qty", "out_amount", "refund_orders",
            "refund_amount", "after_sale_rate"]
    client.insert("ads_shop_daily", [
        [DAY, 7, "七号店", 30, 40, 100, 3, 10, 0.1],  # fires
        [DAY, 8, "八号店", 10, 10, 100, 5, 10, 0.5],  # too few orders
        [DAY, 9, "九号店", 100, 100, 100, 1, 10, 0.01],
    ], column_names=shop)
    alerts = evaluate(client, DAY, 0.05, 20)
    assert alerts == [
        Alert(STOCK_OUT, "A", "缺货款", DAY, 0.0, 0.0, "sku", 7),
        Alert(AFTER_SALE_SPIKE, "7", "七号店", DAY, 0.1, 0.05, "shop", 30),
        Alert(AFTER_SALE_SPIKE, "S1", "高售后", DAY, 0.1, 0.05, "sku", 20),
    ]
    assert [a.subject for a in evaluate(client, DAY, 0.2, 5)] == ["sku:A", "shop:8", "sku:S2"]
    assert [a.subject for a in evaluate(client, other, 0.05, 20)] == ["sku:D", "sku:S5"]
    assert evaluate(client, date(2026, 11, 21), 0.05, 20) == []
