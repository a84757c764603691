"""The daily push: its content against a built warehouse, exactly once per (day, channel) through real
runs of the `push` job, the bots' formats and signatures (tests/webhook_receiver.py), its settings."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import dagster as dg
import httpx
import polars as pl
import pytest

from jobs.push import OP, request_for
from qeasy.alerts.channels import DINGTALK, FEISHU, Channel
from qeasy.erp.times import BEIJING
from qeasy.push import messages
from qeasy.push.delivery import push
from qeasy.push.summary import read_summary
from qeasy.settings import SettingsError, load_settings
from qeasy.warehouse.clickhouse import session
from qeasy_assets.definitions import build_definitions
from tests.conftest import FAST
from tests.warehouse_helpers import Chain, query
from tests.webhook_receiver import DINGTALK_SECRET, Receiver, bot_env, bots

DAY = date(2026, 11, 19)  # the day before the sandbox's pinned clock
MIN_ORDERS = 10
PUSH_ENV = {"QEASY_DASHBOARD_URL": "https://bi.example.com/qeasy", "QEASY_FEISHU_AT": "ou_abc,ou_def",
            "QEASY_DINGTALK_AT_MOBILES": "13800000000, 13900000000", "QEASY_DINGTALK_AT_ALL": "true",
            "QEASY_ALERT_MIN_ORDERS": str(MIN_ORDERS)}


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


def run_push(defs: dg.Definitions, day: date, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    return defs.resolve_job_def("push").execute_in_process(
        run_config={"ops": {OP: {"config": {"day": str(day)}}}}, instance=instance, raise_on_error=False)


def money(value) -> str:
    return f"¥{Decimal(str(value)):,.2f}"


def expected_sections(home, day: date) -> list[str]:
    """The card's sections as the warehouse's views say they must read (written from screens.md)."""
    shops = query(home, "SELECT * FROM v_ads_shop_daily WHERE stat_date = {d:Date}", d=day)
    turnover = query(home, "SELECT * FROM v_ads_inventory_turnover WHERE stat_date = {d:Date}", d=day)
    reorder = query(home, "SELECT * FROM v_ads_replenishment WHERE stat_date = {d:Date}", d=day)
    skus = query(home, "SELECT * FROM v_ads_sku_after_sale_7d WHERE stat_date = {d:Date}", d=day)
    out, refunds = shops["out_orders"].sum(), shops["refund_orders"].sum()
    top_shops = (shops.filter(pl.col("out_orders") > 0)
                 .sort(["out_amount", "shop_id"], descending=[True, False]).head(5))
    top_skus = (skus.filter((pl.col("out_orders_7d") >= MIN_ORDERS) & (pl.col("refund_orders_7d") > 0))
                .sort(["after_sale_rate_7d", "out_orders_7d", "sku_id"], descending=[True, True, False])
                .head(3))
    assert top_shops.height == 5 and top_skus.height == 3, "the built day must fill the rankings"
    stock_outs = turnover.filter((pl.col("end_qty") == 0) & (pl.col("out_qty_7d") > 0)).height
    return [
        "\n".join([f"**出库 out**: {out:,} 单 orders, {money(shops['out_amount'].sum())}",
                   f"**退款 refunds**: {refunds:,} 单 orders, {money(shops['refund_amount'].sum())}",
                   f"**售后率 after-sale rate**: {refunds / out:.2%}"]),
        "\n".join(["**店铺出库金额 TOP 5 shops by out amount**"] + [
            f"{i}. {row['shop_name']} ({row['shop_id']}): {money(row['out_amount'])}, "
            f"{row['out_orders']:,} 单"
            for i, row in enumerate(top_shops.to_dicts(), 1)]),
        "\n".join([f"**缺货 stock-outs**: {stock_outs:,} SKU (期末库存 0 且近7天有出库 end_qty 0, "
                   "shipped in 7 days)",
                   f"**待补货 to reorder**: {reorder.filter(pl.col('suggested_qty') > 0).height:,} SKU "
                   "(建议补货量 suggested_qty > 0)"]),
        "\n".join([f"**近7天售后率 TOP 3 SKUs by 7-day after-sale rate** (≥ {MIN_ORDERS:,} 出库单 "
                   "orders)"] + [
            f"{i}. {row['sku_id']} {row['sku_name']}: {row['after_sale_rate_7d']:.2%} "
            f"({row['refund_orders_7d']:,}/{row['out_orders_7d']:,})"
            for i, row in enumerate(top_skus.to_dicts(), 1)]),
    ]


def test_the_push_of_a_built_day_says_what_the_warehouse_says_on_both_bots(make_sandbox, tmp_path,
                                                                          receiver) -> None:
    server, _ = make_sandbox(**FAST)
    home = tmp_path / "home"
    chain = Chain(server, home, **bot_env(receiver), **PUSH_ENV)
    assert chain.shops().success and chain.main(DAY - timedelta(days=2), DAY).success
    assert run_push(chain.defs, DAY, chain.instance).success
    sections = expected_sections(home, DAY)
    title = f"qeasy 日报 daily report {DAY}"
    link = "[打开看板 Open the dashboard](https://bi.example.com/qeasy)"

    [(_, feishu)] = [(bot, body) for bot, body in receiver.accepted if bot == FEISHU]
    assert set(feishu) == {"timestamp", "sign", "msg_type", "card"} and feishu["msg_type"] == "interactive"
    card = feishu["card"]
    assert card["header"]["title"] == {"tag": "plain_text", "content": title}
    texts = [e["text"]["content"] for e in card["elements"] if e["tag"] == "div"]
    assert all(e["text"]["tag"] == "lark_md" for e in card["elements"] if e["tag"] == "div")
    assert texts == [*sections, f"{link}\n<at id=ou_abc></at> <at id=ou_def></at>"]

    [(_, dingtalk)] = [(bot, body) for bot, body in receiver.accepted if bot == DINGTALK]
    assert dingtalk["msgtype"] == "markdown" and dingtalk["markdown"]["title"] == title
    assert dingtalk["markdown"]["text"] == "\n\n".join(
        [f"### {title}", *(section.replace("\n", "\n\n") for section in sections), link,
         "@13800000000 @13900000000"])
    assert dingtalk["at"] == {"atMobiles": ["13800000000", "13900000000"], "isAtAll": True}

    with session(f"chdb://{home / 'clickhouse'}", "qeasy") as client:
        recorded = dict(client.query("SELECT channel, message FROM ops_pushes FINAL").result_rows)
    assert set(recorded) == {FEISHU, DINGTALK} and sections[2] in recorded[FEISHU]


def test_two_runs_and_a_failing_bot_give_each_channel_one_message(tmp_path, receiver) -> None:
    home = tmp_path / "home"
    defs = build_definitions(load_settings({"QEASY_HOME": str(home), **bot_env(receiver)}))
    instance = dg.DagsterInstance.ephemeral()
    receiver.fail_next = 1  # Feishu's first message gets HTTP 500; DingTalk's goes through
    first = run_push(defs, DAY, instance)
    assert first.success
    retried = [e for e in first.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]
    assert len(retried) == 1  # the step failed once, and its retry sent only to Feishu
    assert [bot for bot, _, _ in receiver.requests] == [FEISHU, DINGTALK, FEISHU]
    assert run_push(defs, DAY, instance).success  # the same day again: nothing sent
    assert len(receiver.requests) == 3 and sorted(bot for bot, _ in receiver.accepted) == [DINGTALK, FEISHU]
    for _, body in receiver.accepted:  # an empty warehouse: the message says so
        assert "暂无数据 no data" in str(body) and "出库 out" not in str(body)
    with session(f"chdb://{home / 'clickhouse'}", "qeasy") as client:
        rows = client.query("SELECT channel, status, attempts, sent_at IS NOT NULL FROM ops_pushes FINAL "
                            "ORDER BY channel").result_rows
    assert rows == [(DINGTALK, "sent", 1, True), (FEISHU, "sent", 2, True)]


def test_a_failed_channel_is_retried_alone_and_without_channels_the_push_is_logged(tmp_path, receiver,
                                                                                  caplog) -> None:
    with session(f"chdb://{tmp_path / 'ch'}", "qeasy") as client, httpx.Client() as http:
        wrong = [Channel(FEISHU, f"{receiver.url}/feishu", "wrong"),
                 Channel(DINGTALK, f"{receiver.url}/dingtalk?access_token=tok", DINGTALK_SECRET)]
        first = push(client, DAY, wrong, http, MIN_ORDERS)
        assert first.sent == [DINGTALK] and "19021" in first.failed[FEISHU]
        second = push(client, DAY, bots(receiver), http, MIN_ORDERS)  # secret fixed
        assert (second.sent, second.skipped, second.ok) == ([FEISHU], [DINGTALK], True)
        assert sorted(bot for bot, _ in receiver.accepted) == [DINGTALK, FEISHU]
        assert push(client, DAY, bots(receiver), http, MIN_ORDERS).sent == []

        logged = [push(client, DAY, [], http, MIN_ORDERS) for _ in range(2)]
        assert (logged[0].sent, logged[1].skipped) == (["log"], ["log"])
        assert sum("暂无数据" in record.getMessage() for record in caplog.records) == 1
        assert push(client, DAY + timedelta(days=1), [], http, MIN_ORDERS).sent == ["log"]  # a new day


def test_the_schedule_follows_qeasy_push_at_and_pushes_the_day_before_its_tick(tmp_path) -> None:
    defs = build_definitions(load_settings({"QEASY_HOME": str(tmp_path), "QEASY_PUSH_AT": "07:05"}))
    schedule = defs.resolve_schedule_def("daily_push")
    assert (schedule.cron_schedule, schedule.execution_timezone, schedule.job_name) == (
        "5 7 * * *", "Asia/Shanghai", "push")
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    tick = datetime(2026, 11, 20, 7, 5, tzinfo=BEIJING)
    request = request_for(tick, tick + timedelta(minutes=40))  # a daemon back 40 minutes late
    assert request.run_key == "push-2026-11-19" and request.run_config == {
        "ops": {OP: {"config": {"day": "2026-11-19"}}}}
    assert request_for(tick, tick + timedelta(hours=16, minutes=54)).run_key == "push-2026-11-19"  # 23:59
    assert isinstance(request_for(tick, tick + timedelta(hours=17)), dg.SkipReason)  # the next day: stale
    # Ticks are evaluated in UTC by some callers: the Beijing day is what counts.
    assert request_for(tick.astimezone(UTC), tick).run_key == "push-2026-11-19"


@pytest.mark.parametrize("name, value, message", [
    ("QEASY_PUSH_AT", "8:30", "HH:MM"), ("QEASY_PUSH_AT", "24:00", "HH:MM"),
    ("QEASY_DASHBOARD_URL", "bi.example.com", "http"), ("QEASY_DINGTALK_AT_MOBILES", "138x", "mobile"),
    ("QEASY_DINGTALK_AT_ALL", "yes", "true or false"), ("QEASY_FEISHU_AT", "ou abc", "open_ids"),
])
def test_wrong_push_settings_are_refused_naming_the_variable(tmp_path, name, value, message) -> None:
    with pytest.raises(SettingsError, match=f"{name}.*{message}"):
        load_settings({"QEASY_HOME": str(tmp_path), name: value})
    settings = load_settings({"QEASY_HOME": str(tmp_path), **PUSH_ENV, "QEASY_FEISHU_AT": "all"})
    assert (settings.push_at, settings.feishu_at, settings.dingtalk_at_all) == ("08:30", ("all",), True)
    assert settings.dingtalk_at_mobiles == ("13800000000", "13900000000")


def test_rankings_order_by_amount_and_rate_with_ties_and_filters(tmp_path) -> None:
    """Hand-built ADS rows where id order and ranking order differ, with ties and rows the filters drop."""
    other = DAY - timedelta(days=1)
    with session(f"chdb://{tmp_path / 'ch'}", "qeasy") as client:
        shop = ["stat_date", "shop_id", "shop_name", "out_orders", "out_qty", "out_amount", "refund_orders",
                "refund_amount", "after_sale_rate", "publish_version", "is_deleted"]
        client.insert("ads_shop_daily", [
            [DAY, 1, "一号店", 10, 10, Decimal("100.00"), 1, Decimal("5.50"), 0.1, 1, 0],
            [DAY, 2, "二号店", 20, 20, Decimal("900.00"), 0, Decimal("0"), 0.0, 1, 0],
            [DAY, 3, "三号店", 5, 5, Decimal("900.00"), 2, Decimal("1.25"), 0.4, 1, 0],  # ties with 2
            [DAY, 4, "四号店", 0, 0, Decimal("0"), 1, Decimal("3.00"), None, 1, 0],  # refunds only
            [DAY, 5, "五号店", 1, 1, Decimal("0.01"), 0, Decimal("0"), 0.0, 1, 0],
            [DAY, 6, "六号店", 2, 2, Decimal("1234567.89"), 0, Decimal("0"), 0.0, 1, 0],
            [DAY, 7, "七号店", 3, 3, Decimal("50.00"), 0, Decimal("0"), 0.0, 1, 0],
            [DAY, 8, "删除店", 99, 99, Decimal("99999.00"), 0, Decimal("0"), 0.0, 1, 1],  # deleted row
            [other, 9, "昨天", 100, 100, Decimal("99999.00"), 0, Decimal("0"), 0.0, 1, 0],
        ], column_names=shop)
        sku = ["stat_date", "sku_id", "sku_name", "out_orders_7d", "refund_orders_7d", "after_sale_rate_7d",
               "publish_version", "is_deleted"]
        client.insert("ads_sku_after_sale_7d", [
            [DAY, "A", "甲", 10, 1, 0.1, 1, 0],
            [DAY, "B", "乙", 20, 2, 0.1, 1, 0],  # ties with A: more orders first
            [DAY, "C", "丙", 9, 9, 1.0, 1, 0],  # below the minimum orders
            [DAY, "D", None, 40, 10, 0.25, 1, 0],
            [DAY, "E", "戊", 50, 0, 0.0, 1, 0],  # no refund
            [DAY, "F", "己", 10, 1, 0.1, 1, 0],  # ties with A: SKU id
        ], column_names=sku)
        summary = read_summary(client, DAY, MIN_ORDERS)
    assert [shop.shop_id for shop in summary.top_shops] == [6, 2, 3, 1, 7]
    assert [sku.sku_id for sku in summary.top_skus] == ["D", "B", "A"]
    assert (summary.out_orders, summary.out_amount, summary.refund_orders, summary.refund_amount) == (
        41, Decimal("1236517.90"), 4, Decimal("9.75"))
    assert summary.after_sale_rate == pytest.approx(4 / 41) and summary.has_data
    assert (summary.stock_outs, summary.to_reorder) == (0, 0)
    sections = messages.sections(summary)
    assert sections[0][0] == "**出库 out**: 41 单 orders, ¥1,236,517.90" and sections[0][2].endswith("9.76%")
    assert sections[1][1] == "1. 六号店 (6): ¥1,234,567.89, 2 单"
    assert sections[3][1] == "1. D: 25.00% (10/40)"  # no name known
