"""Steps spread over hosts with Dagster's Celery executor (jobs/distributed.py): the production layout
of test_production.py, with RabbitMQ as the broker and two workers, each with a `QEASY_HOME` of its
own as two hosts would have. The worker of the staging host serves the `staging` queue, the other
the default queue; the call budget is in Redis, the warehouse shared (a ClickHouse server in
production; here one embedded warehouse both reach)."""

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import dagster as dg
import pytest
import yaml

from jobs.distributed import CONFIG_SOURCE
from qeasy.datasets import ENDPOINTS
from qeasy.sandbox.process import free_port
from qeasy.settings import SettingsError, load_settings
from qeasy_assets.definitions import build_definitions
from qeasy_assets.queues import DEFAULT_QUEUE, QUEUE_TAG, STAGING_QUEUE
from tests.conftest import PINNED
from tests.ingest_helpers import env_for
from tests.test_production import (
    DAYS,
    DEPLOY,
    Services,
    bin_of,
    clean_environment,
    done,
    launch,
    launch_job,
    runs,
)
from tests.warehouse_helpers import assert_ads_match, window

AMQP = "pyamqp://guest:guest@127.0.0.1:5672"


@pytest.fixture
def broker() -> str:
    """A RabbitMQ virtual host of the local server for this test alone (no message of another run
    reaches its workers), deleted afterwards."""
    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=2).close()
    except OSError as exc:
        pytest.skip(f"needs the RabbitMQ server at 127.0.0.1:5672 ({exc}); this machine kind runs one "
                    "(see the env entry's machine page)")
    control = shutil.which("rabbitmqctl") or pytest.skip("needs rabbitmqctl (as root) for a virtual host")
    vhost = f"qeasy_{uuid.uuid4().hex[:8]}"
    subprocess.run([control, "add_vhost", vhost], check=True, capture_output=True, timeout=60)
    subprocess.run([control, "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"], check=True,
                   capture_output=True, timeout=60)
    yield f"{AMQP}/{vhost}"
    subprocess.run([control, "delete_vhost", vhost], capture_output=True, timeout=60)


def test_every_step_that_uses_staging_goes_to_the_staging_hosts_queue(tmp_path) -> None:
    """The routing rule of qeasy_assets.queues holds for every step of every job Celery runs."""
    from dagster_celery import defaults, tags

    assert (tags.DAGSTER_CELERY_QUEUE_TAG, defaults.task_default_queue) == (QUEUE_TAG, DEFAULT_QUEUE)
    defs = build_definitions(load_settings({"QEASY_HOME": str(tmp_path), "QEASY_CELERY_BROKER": f"{AMQP}//",
                                            "QEASY_MYSQL_DSN": "mysql://qeasy@127.0.0.1:3306/qeasy"}))
    queues = {}
    for name in ("main", "shops", "ingest"):
        job = defs.resolve_job_def(name)
        assert job.executor_def.name == "celery", name
        for node in job.graph.node_dict.values():
            queue = node.definition.tags.get(QUEUE_TAG, DEFAULT_QUEUE)
            uses_staging = "staging" in node.definition.required_resource_keys
            assert (queue == STAGING_QUEUE) == uses_staging, node.name
            queues[node.name] = queue
    assert queues["ads_pipeline_health_hourly"] == DEFAULT_QUEUE
    assert queues["sink_mysql_unique_code_flow"] == DEFAULT_QUEUE  # reads only the warehouse
    assert queues["dwd_unique_code"] == STAGING_QUEUE
    # Seconds-long runs and the one-step push stay in one process.
    assert {defs.resolve_job_def(name).executor_def.name for name in ("nrt", "push")} == {"in_process"}
    plain = build_definitions(load_settings({"QEASY_HOME": str(tmp_path)}))
    assert plain.resolve_job_def("main").executor_def.name != "celery"


def test_the_workers_settings_are_the_executors() -> None:
    """deploy/celery.yaml, which the workers start with, says what the runs submit steps with."""
    config = yaml.safe_load((DEPLOY / "celery.yaml").read_text())["execution"]["config"]
    assert config == {"broker": {"env": "QEASY_CELERY_BROKER"}, "backend": {"env": "QEASY_CELERY_BACKEND"},
                      "config_source": CONFIG_SOURCE}


@pytest.mark.parametrize(("env", "message"), [
    ({"QEASY_CELERY_BROKER": "rabbit.internal:5672"}, "QEASY_CELERY_BROKER must be a RabbitMQ or Redis URL"),
    ({"QEASY_CELERY_BROKER": "redis://127.0.0.1:6379/1"}, "QEASY_CELERY_BACKEND must be set with a Redis"),
])
def test_a_wrong_celery_setting_fails_at_start_up_naming_it(tmp_path, env, message) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings({"QEASY_HOME": str(tmp_path)} | env)


def test_a_backfill_on_two_celery_workers_stays_in_budget_and_survives_kill_9_of_a_worker(
        make_sandbox, postgres_url, redis_url, broker, tmp_path, monkeypatch) -> None:
    # The real API's 5 calls/s, which the sandbox enforces exactly as qeasy is configured.
    server, caller = make_sandbox(orders_per_hour=40.0, per_second=5, per_minute=300)
    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    shutil.copy(DEPLOY / "dagster.yaml", dagster_home / "dagster.yaml")
    code_port = free_port()
    shared = tmp_path / "shared"  # stands in for the ClickHouse server every host reaches
    base = clean_environment() | {
        "DAGSTER_HOME": str(dagster_home), "DAGSTER_PG_URL": postgres_url,
        "QEASY_CODE_SERVER_HOST": "127.0.0.1", "QEASY_CODE_SERVER_PORT": str(code_port),
        "QEASY_BUDGET_URL": redis_url, "QEASY_CLICKHOUSE_DSN": f"chdb://{shared / 'clickhouse'}",
        "QEASY_CELERY_BROKER": broker, "QEASY_CELERY_BACKEND": "rpc://",
        # dagster-celery starts `celery` from PATH, as an activated virtualenv has it
        "PATH": f"{Path(bin_of('celery')).parent}:{os.environ['PATH']}"}
    homes = {name: tmp_path / name for name in ("code-host", "staging-host", "other-host")}
    services = {name: Services(tmp_path, base | env_for(server, home)) for name, home in homes.items()}
    code = services["code-host"]
    worker = {"staging-host": _worker(STAGING_QUEUE, "staging"),
              "other-host": _worker(DEFAULT_QUEUE, "other")}
    try:
        graphql = code.start_dagster(code_port)
        for host, command in worker.items():
            services[host].start(host, *command)

        monkeypatch.setenv("DAGSTER_PG_URL", postgres_url)  # this test reads the same instance
        with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
            shops = launch_job(graphql, "shops")
            code.wait(lambda: instance.get_run_by_id(shops).is_finished, 300, "the shops run")
            assert instance.get_run_by_id(shops).status == dg.DagsterRunStatus.SUCCESS, code.logs()

            backfill = launch(graphql, "main", [str(day) for day in DAYS])
            # kill -9 of the staging host's worker while it pulls sales-out (a few pages in), then the
            # worker back, as a supervisor restarts it.
            sales = ENDPOINTS["sales_out"].path
            workers = [services[host].processes[host] for host in worker]
            code.wait(lambda: _pulling(caller, sales, workers), 600, "the backfill's sales-out pull")
            staging_worker = services["staging-host"].processes["staging-host"]
            _killpg(staging_worker)
            time.sleep(3)
            services["staging-host"].start("staging-host", *worker["staging-host"])

            code.wait(lambda: done(instance, backfill), 1200, "the backfill to end")
            [run] = runs(instance, backfill, None)
            assert run.status == dg.DagsterRunStatus.SUCCESS, code.logs()

            # The step the kill cut short ran again from its start, and every step on its host's queue.
            starts = [each.step_key for each in _events(instance, run.run_id, dg.DagsterEventType.STEP_START)]
            assert starts.count("ods_sales_out") == 2, starts
            hosts = _workers(instance, run.run_id)
            assert hosts["ads_pipeline_health_hourly"] == {"other"}, hosts
            assert all(hosts[step] == {"staging"} for step in hosts if step != "ads_pipeline_health_hourly")
            assert (homes["staging-host"] / "staging.duckdb").exists()
            assert not (homes["other-host"] / "staging.duckdb").exists()

            stats = caller.admin("stats")
            assert sum(each["calls"] for each in stats.values()) > 100  # enough to have tripped 5/s
            assert sum(each["throttled"] for each in stats.values()) == 0, stats

            seen_inventory = window(server, "inventory", f"{DAYS[0]} 00:00:00", PINNED)
            assert_ads_match(server, shared, DAYS, f"{PINNED[:10]} 00:00:00", seen_inventory)
    finally:
        for each in services.values():
            each.stop_all()


def _worker(queue: str, name: str) -> list[str]:
    """A Celery worker of `queue` as deploy/celery.yaml starts one."""
    return [bin_of("dagster-celery"), "worker", "start", "-A", "dagster_celery.app",
            "-y", str(DEPLOY / "celery.yaml"), "-q", queue, "--name", name]


def _pulling(caller, path: str, workers: list[subprocess.Popen]) -> bool:
    """True once the sandbox has answered 10 calls of `path`; a worker that died fails the test."""
    dead = [worker.args for worker in workers if worker.poll() is not None]
    assert not dead, f"a Celery worker stopped: {dead}"
    return caller.admin("stats").get(path, {}).get("calls", 0) >= 10


def _killpg(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def _events(instance: dg.DagsterInstance, run_id: str, kind: dg.DagsterEventType) -> list:
    return [record.event_log_entry for record in instance.get_records_for_run(run_id, of_type=kind).records]


def _workers(instance: dg.DagsterInstance, run_id: str) -> dict[str, set[str]]:
    """Per step, the names of the Celery workers that executed it (from the engine events)."""
    seen: dict[str, set[str]] = {}
    for entry in _events(instance, run_id, dg.DagsterEventType.ENGINE_EVENT):
        metadata = entry.dagster_event.engine_event_data.metadata
        if "Celery worker" in metadata and entry.step_key:
            seen.setdefault(entry.step_key, set()).add(metadata["Celery worker"].text.split("@")[0])
    return seen

