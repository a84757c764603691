"""Operations: the near-real-time job, the schedules, and the alert sensors against a real instance,
a real sandbox, embedded ClickHouse and a local webhook receiver playing the Feishu and DingTalk bots."""

from datetime import UTC, date, datetime

import dagster as dg
import pytest

from jobs.schedules import daily_refresh
from qeasy.erp.times import BEIJING
from qeasy.runner import run_job
from qeasy.settings import load_settings
from qeasy_assets.definitions import build_definitions
from sensors.failures import failure_alerts
from sensors.metrics import metric_alerts
from sensors.nrt import near_real_time
from tests.ingest_helpers import env_for, staged_latest, truth
from tests.warehouse_helpers import downstream_of_ods, duplicate_a_line_id, query
from tests.warehouse_oracle import oracle_ads
from tests.webhook_receiver import Receiver, bot_env

FAST = {"per_second": 10_000, "per_minute": 1_000_000}
QUIET_INSTANCE = {"telemetry": {"enabled": False}}


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


class Operated:
    """Definitions, a persistent Dagster instance and sensor ticks for one sandbox and QEASY_HOME."""

    def __init__(self, server, home, receiver: Receiver, **extra: str) -> None:
        self.home = home
        self.defs = build_definitions(load_settings(env_for(server, home, **bot_env(receiver), **extra)))
        (home / "dagster").mkdir(parents=True)
        self.instance = dg.DagsterInstance.local_temp(tempdir=str(home / "dagster"), overrides=QUIET_INSTANCE)
        self.cursors: dict[str, str | None] = {}

    def run(self, job: str, first: date | None = None, last: date | None = None, **kwargs):
        return run_job(self.defs, job, self.instance, first, last or first, **kwargs)

    def tick(self, sensor: dg.SensorDefinition, fresh: bool = False):
        """One sensor evaluation as the daemon does it; `fresh`: as after losing the sensor's state."""
        with dg.build_sensor_context(
                instance=self.instance, cursor=None if fresh else self.cursors.get(sensor.name),
                resources=self.defs.resources, definitions=self.defs) as context:
            result = sensor(context)
            self.cursors[sensor.name] = context.cursor
        return result


def _rules(receiver: Receiver) -> list[tuple[str, str]]:
    """(bot, rule label) of every alert line received."""
    return [(bot, line.split("】")[0].lstrip("【")) for bot, line in receiver.alerts_received()]


def test_the_near_real_time_job_reads_only_changes_and_the_metrics_follow_the_erp(make_sandbox, tmp_path,
                                                                                 receiver):
    server, caller = make_sandbox(clock="2026-11-20 10:00:00", **FAST)
    day = date(2026, 11, 20)
    ops = Operated(server, tmp_path / "home", receiver)
    assert ops.run("shops").success
    first = ops.run("nrt", day)
    assert first.success, first.failure
    before = query(ops.home, "SELECT sum(out_orders) AS n FROM v_ads_shop_daily WHERE stat_date = {d:Date}",
                   d=day)["n"][0]

    caller.admin("clock", {"advance_seconds": 1800})  # half an hour of new orders and edits
    second = ops.run("nrt", day)
    assert second.success, second.failure
    ods = {step.asset: step.metadata for step in second.steps if step.asset.startswith("ods_")}
    assert ods["ods_sales_out"]["read"] == "changes since the last pull"
    whole = {step.asset: step.metadata for step in first.steps}["ods_sales_out"]
    assert whole["read"] == "whole days" and ods["ods_sales_out"]["calls"] < whole["calls"]

    now = "2026-11-20 10:30:00"
    for dataset in ("sales_out", "after_sale", "inventory"):  # nothing missed, nothing stale
        staged = {k: v for k, v in staged_latest(ops.home, dataset).items()}
        assert staged == truth(server, dataset, "2026-11-20 00:00:00", now), dataset
    expected = oracle_ads(list(truth(server, "sales_out", "2026-11-20 00:00:00", now).values()),
                          list(truth(server, "after_sale", "2026-11-20 00:00:00", now).values()), [], [day])
    shops = expected["ads_shop_daily"].sort("shop_id")
    got = query(ops.home, "SELECT shop_id, out_orders, refund_orders FROM v_ads_shop_daily "
                          "WHERE stat_date = {d:Date} ORDER BY shop_id", d=day)
    assert got.rows() == shops.select("shop_id", "out_orders", "refund_orders").rows()
    assert got["out_orders"].sum() > before


def test_today_is_asked_for_whenever_no_nrt_run_is_going_and_yesterday_at_night(tmp_path):
    instance = dg.DagsterInstance.local_temp(tempdir=str(tmp_path), overrides=QUIET_INSTANCE)
    today = datetime.now(BEIJING).date().isoformat()
    assert near_real_time(dg.build_sensor_context(instance=instance)).partition_key == today
    instance.add_run(dg.DagsterRun(job_name="nrt", run_id="a" * 32, status=dg.DagsterRunStatus.STARTED))
    skipped = near_real_time(dg.build_sensor_context(instance=instance))
    assert isinstance(skipped, dg.SkipReason) and "a" * 32 in skipped.skip_message

    night = datetime(2026, 11, 21, 17, 30, tzinfo=UTC)  # 01:30 on the 22nd in Beijing
    request = daily_refresh(dg.build_schedule_context(instance=instance, scheduled_execution_time=night))
    assert (request.partition_key, request.run_key) == ("2026-11-21", "daily-2026-11-21")


def test_metric_alerts_reach_both_bots_once_across_reruns_restarts_and_a_failing_bot(make_sandbox, tmp_path,
                                                                                     receiver):
    server, _ = make_sandbox(clock="2026-11-21 06:00:00", **FAST)
    # A low threshold makes the after-sale rule fire on ordinary sandbox days.
    ops = Operated(server, tmp_path / "home", receiver, QEASY_ALERT_AFTER_SALE_RATE="0.01",
                   QEASY_ALERT_MIN_ORDERS="5")
    assert ops.tick(metric_alerts).skip_message.startswith("days none new")
    assert ops.run("shops").success and ops.run("main", date(2026, 11, 18), date(2026, 11, 19)).success
    ops.tick(metric_alerts)
    received = receiver.alerts_received()
    with_day = [line for _, line in received]
    assert received and all("2026-11-19" in line for line in with_day)  # the last day the run covered
    assert len(set(received)) == len(received)  # each alert once per bot
    assert sorted(line for bot, line in received if bot == "feishu") == sorted(
        line for bot, line in received if bot == "dingtalk")
    logged = query(ops.home, "SELECT count() AS n FROM ops_alerts FINAL WHERE status = 'sent'")["n"][0]
    assert logged == len(received)

    assert ops.run("main", date(2026, 11, 19)).success  # the same day again
    ops.tick(metric_alerts)
    ops.tick(metric_alerts, fresh=True)  # a daemon that lost the sensor's cursor
    assert receiver.alerts_received() == received

    receiver.fail_next = 2  # the bots refuse the next two messages
    assert ops.run("main", date(2026, 11, 20)).success
    assert "40 failed" in ops.tick(metric_alerts).skip_message
    ops.tick(metric_alerts)  # no new materialisation: the failed deliveries alone are retried
    last = ops.tick(metric_alerts).skip_message
    assert last.endswith("0 sent, 0 already sent, 0 failed (retried next tick)")
    new = receiver.alerts_received()[len(received):]
    assert new and all("2026-11-20" in line for _, line in new) and len(set(new)) == len(new)
    assert sorted(line for bot, line in new if bot == "feishu") == sorted(
        line for bot, line in new if bot == "dingtalk")
    sent = query(ops.home, "SELECT count() AS n FROM ops_alerts FINAL WHERE day = '2026-11-20' "
                           "AND status = 'sent'")["n"][0]
    assert sent == len(new)


def test_a_failed_blocking_check_and_its_failed_run_alert_once_whatever_the_retries(make_sandbox, tmp_path,
                                                                                   receiver):
    server, _ = make_sandbox(clock="2026-11-05 00:00:00", orders_per_hour=60.0, **FAST)
    ops, day = Operated(server, tmp_path / "home", receiver), date(2026, 11, 4)
    assert ops.run("shops").success and ops.run("main", day).success
    ops.tick(failure_alerts)
    assert receiver.alerts_received() == []  # successful runs raise nothing
    duplicate_a_line_id(ops.home)
    downstream = downstream_of_ods(ops.defs)
    for _ in range(2):  # the failure, then its retry failing the same way
        assert not ops.run("main", day, assets=downstream).success
        ops.tick(failure_alerts)
    ops.tick(failure_alerts, fresh=True)
    rules = _rules(receiver)
    assert sorted(rules) == sorted([(bot, rule) for bot in ("feishu", "dingtalk")
                                    for rule in ("检查失败 blocking check failed", "运行失败 run failed")])
    lines = [line for bot, line in receiver.alerts_received() if bot == "feishu"]
    assert any("dwd_sales_out.schema 2026-11-04" in line for line in lines)
    assert any("main 2026-11-04" in line and "dwd_sales_out.schema" in line for line in lines)
