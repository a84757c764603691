"""The daily push's schedule through a real `dagster-daemon` on the instance qeasy writes: a daemon
that saw the schedule, was down at push time and came back sends the push once per channel."""

import time
from datetime import datetime, timedelta
from pathlib import Path

import dagster as dg
from dagster._core.definitions.run_request import InstigatorType  # these two: not exported by dagster
from dagster._core.scheduler.instigation import TickStatus

from qeasy.erp.times import BEIJING
from qeasy.push.messages import TITLE
from qeasy.runner import DAGSTER_YAML
from qeasy.sandbox.process import free_port
from qeasy.warehouse.clickhouse import session
from tests.dev_helpers import stop
from tests.test_production import STOPPED_SENSORS, Services, bin_of, clean_environment
from tests.webhook_receiver import Receiver, bot_env

ROOT = Path(__file__).resolve().parents[1]
SETUP_SECONDS = 55  # code server, sensors stopped, the daemon sees the schedule, daemon stopped


def _pushes(receiver: Receiver) -> list[str]:
    """The bots of the accepted daily-push messages (alerts would be other messages)."""
    return [bot for bot, body in receiver.accepted
            if TITLE in (body.get("card", {}).get("header", {}).get("title", {}).get("content", "")
                         + body.get("markdown", {}).get("title", ""))]


def test_a_daemon_down_at_push_time_sends_the_push_once_when_it_comes_back(tmp_path) -> None:
    now = datetime.now(BEIJING)
    tick = (now + timedelta(seconds=SETUP_SECONDS + 60)).replace(second=0, microsecond=0)
    day = tick.date() - timedelta(days=1)
    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text(DAGSTER_YAML)  # what `qeasy dev` / `qeasy run` write
    receiver = Receiver()
    code_port = free_port()
    env = clean_environment() | bot_env(receiver) | {
        "QEASY_HOME": str(tmp_path / "home"), "DAGSTER_HOME": str(dagster_home),
        "QEASY_PUSH_AT": tick.strftime("%H:%M")}
    services = Services(tmp_path, env)
    grpc = ["--grpc-host", "127.0.0.1", "--grpc-port", str(code_port)]
    try:
        # The code server outlives the daemon, as in deploy/: only the daemon is down.
        services.start_code_server(code_port)
        for sensor in STOPPED_SENSORS:  # no ERP here: nothing but the schedule should launch runs
            services.dagster("sensor", "stop", sensor, *grpc)
        with dg.DagsterInstance.from_config(str(dagster_home)) as instance:

            def state():
                states = instance.all_instigator_state(instigator_type=InstigatorType.SCHEDULE)
                return next((each for each in states if each.name == "daily_push"), None)

            def push_runs() -> list[dg.DagsterRun]:
                return list(instance.get_runs(dg.RunsFilter(job_name="push")))

            services.start("daemon", bin_of("dagster-daemon"), "run", *grpc)
            services.wait(lambda: state() is not None, 60, "the daemon to register the schedule")
            stop(services.processes["daemon"])
            assert datetime.now(BEIJING) < tick - timedelta(seconds=2), \
                f"the set-up took longer than {SETUP_SECONDS} s: the daemon may have seen the tick"
            while datetime.now(BEIJING) < tick + timedelta(seconds=5):  # push time passes, no daemon
                time.sleep(1)
            assert push_runs() == [] and _pushes(receiver) == []

            services.start("daemon", bin_of("dagster-daemon"), "run", *grpc)
            services.wait(lambda: len(_pushes(receiver)) >= 2, 120, "the pushes after the daemon came back")
            time.sleep(10)  # a second run or a re-sent message would show now
            assert sorted(_pushes(receiver)) == ["dingtalk", "feishu"]
            [run] = push_runs()
            assert run.tags["dagster/run_key"] == f"push-{day}" and run.tags["dagster/schedule_name"] \
                == "daily_push"
            services.wait(lambda: instance.get_run_by_id(run.run_id).is_finished, 60, "the push run to end")
            assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.SUCCESS
            # The run came from the missed tick itself, evaluated late by the restarted daemon.
            [evaluated] = instance.get_ticks(state().instigator_origin_id, state().selector_id)
            assert (evaluated.timestamp, evaluated.status, evaluated.run_ids) == (
                tick.timestamp(), TickStatus.SUCCESS, [run.run_id])
    finally:
        services.stop_all()
        receiver.stop()
    with session(f"chdb://{tmp_path / 'home' / 'clickhouse'}", "qeasy") as client:
        rows = client.query("SELECT day, channel, status, attempts FROM ops_pushes FINAL ORDER BY channel")
    assert rows.result_rows == [(day, "dingtalk", "sent", 1), (day, "feishu", "sent", 1)]
