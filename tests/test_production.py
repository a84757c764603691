"""The production layout of deploy/: Dagster on PostgreSQL with the code server, the webserver and the
daemon as separate processes. A 7-day backfill launched through the webserver's GraphQL API runs
through the daemon; the daemon killed with kill -9 half way and started again still ends with the
warehouse equal to the independent oracle, and every alert delivered once."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import httpx
import yaml

from qeasy.runner import DAGSTER_YAML
from qeasy.sandbox.process import free_port
from tests.conftest import FAST, PINNED
from tests.dev_helpers import answers, stop
from tests.ingest_helpers import env_for
from tests.warehouse_helpers import assert_ads_match, window
from tests.webhook_receiver import Receiver, bot_env

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
LAST = date.fromisoformat(PINNED[:10]) - timedelta(days=1)
DAYS = [LAST - timedelta(days=k) for k in range(6, -1, -1)]
# Stopped for the test: they would start runs of their own (today's near-real-time pull, replays, the
# nightly run) beside the backfill; the alert sensors stay on.
STOPPED_SENSORS = ["near_real_time", "replay_dead_letters", "automation"]
REPOSITORY = {"repositoryLocationName": "qeasy", "repositoryName": "__repository__"}
RUN = """mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }"""
LAUNCH = """mutation($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
  __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }"""


class Services:
    """The three Dagster processes of deploy/, each started as an operator would."""

    def __init__(self, tmp: Path, env: dict[str, str]) -> None:
        self.tmp, self.env = tmp, env
        self.processes: dict[str, subprocess.Popen] = {}
        self.web_port = free_port()

    def start(self, name: str, *command: str) -> None:
        log = (self.tmp / f"{name}.log").open("a")
        self.processes[name] = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log,
                                                stderr=subprocess.STDOUT, start_new_session=True)

    def start_code_server(self, port: int) -> None:
        """`dagster code-server` of the qeasy location on `port`, once it answers health checks."""
        dagster = bin_of("dagster")
        self.start("code-server", dagster, "code-server", "start", "-m", "qeasy_assets.definitions",
                   "-h", "127.0.0.1", "-p", str(port), "--location-name", "qeasy")
        health = [dagster, "api", "grpc-health-check", "-p", str(port)]
        self.wait(lambda: subprocess.run(health, env=self.env, capture_output=True).returncode == 0, 120,
                  "the code server")

    def start_dagster(self, code_port: int) -> str:
        """The layout of deploy/: the code server, then (its run-starting sensors stopped) the
        webserver and the daemon on deploy/workspace.yaml; the webserver's GraphQL URL once it answers."""
        workspace = ["-w", str(DEPLOY / "workspace.yaml")]
        self.start_code_server(code_port)
        for sensor in STOPPED_SENSORS:
            self.dagster("sensor", "stop", sensor, *workspace)
        self.start("webserver", bin_of("dagster-webserver"), *workspace, "-h", "127.0.0.1",
                   "-p", str(self.web_port))
        self.start_daemon()
        graphql = f"http://127.0.0.1:{self.web_port}/graphql"
        self.wait(lambda: answers(graphql.replace("graphql", "server_info")), 120, "the webserver")
        return graphql

    def start_daemon(self) -> None:
        self.start("daemon", bin_of("dagster-daemon"), "run", "-w", str(DEPLOY / "workspace.yaml"))

    def dagster(self, *arguments: str) -> str:
        done = subprocess.run([bin_of("dagster"), *arguments], cwd=ROOT, env=self.env, capture_output=True,
                              text=True, timeout=180)
        assert done.returncode == 0, f"dagster {' '.join(arguments)}:\n{done.stdout}\n{done.stderr[-3000:]}"
        return done.stdout

    def logs(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}"
                         for log in sorted(self.tmp.glob("*.log")))

    def wait(self, condition, seconds: float, what: str) -> None:
        deadline = time.monotonic() + seconds
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {seconds:.0f} s for {what}\n{self.logs()}")
            time.sleep(1)

    def stop_all(self) -> None:
        for process in self.processes.values():
            stop(process)


def clean_environment() -> dict[str, str]:
    """This process's environment without qeasy's, the ERP's or Dagster's settings: a host's start."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("JST_", "QEASY_", "DAGSTER_"))}


def bin_of(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def test_backfill_through_the_daemon_on_postgres_survives_kill_9_of_the_daemon(make_sandbox, postgres_url,
                                                                               tmp_path, monkeypatch) -> None:
    server, _ = make_sandbox(**FAST)
    receiver = Receiver()
    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    shutil.copy(DEPLOY / "dagster.yaml", dagster_home / "dagster.yaml")
    code_port = free_port()
    env = clean_environment() | env_for(server, tmp_path / "home") | bot_env(receiver) | {
        "DAGSTER_HOME": str(dagster_home), "DAGSTER_PG_URL": postgres_url,
        "QEASY_CODE_SERVER_HOST": "127.0.0.1", "QEASY_CODE_SERVER_PORT": str(code_port),
        "QEASY_ALERT_MIN_ORDERS": "1"}
    services = Services(tmp_path, env)
    try:
        graphql = services.start_dagster(code_port)

        monkeypatch.setenv("DAGSTER_PG_URL", postgres_url)  # this test reads the same instance
        with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
            shops = launch_job(graphql, "shops")  # the shop list and dim_shop, unpartitioned
            services.wait(lambda: instance.get_run_by_id(shops).is_finished, 300, "the shops run")
            assert instance.get_run_by_id(shops).status == dg.DagsterRunStatus.SUCCESS, services.logs()

            backfill = launch(graphql, "main", [str(day) for day in DAYS])
            services.wait(lambda: runs(instance, backfill, [dg.DagsterRunStatus.STARTED]), 300,
                          "a run of the backfill to start")
            daemon = services.processes["daemon"]
            os.killpg(daemon.pid, signal.SIGKILL)  # the daemon and its threads, mid-backfill
            daemon.wait(timeout=30)
            assert status(instance, backfill) == "REQUESTED"  # its run is still going
            time.sleep(5)
            services.start_daemon()
            services.wait(lambda: done(instance, backfill), 900, "the backfill to end")
            assert status(instance, backfill) == "COMPLETED_SUCCESS", services.logs()
            finished = runs(instance, backfill, None)
            assert finished and all(run.status == dg.DagsterRunStatus.SUCCESS for run in finished)

            end = f"{PINNED[:10]} 00:00:00"
            seen_inventory = window(server, "inventory", f"{DAYS[0]} 00:00:00", PINNED)
            assert_ads_match(server, tmp_path / "home", DAYS, end, seen_inventory)

            # The alert sensor (restarted with the daemon) delivers each alert once per channel.
            services.wait(lambda: receiver.accepted, 180, "the alerts")
            time.sleep(40)  # one more tick of the alert sensors (30 s): a re-delivery would show now
            sent = Counter((bot, str(body)) for bot, body in receiver.accepted)
            assert sent and max(sent.values()) == 1, sent.most_common(3)
    finally:
        services.stop_all()
        receiver.stop()


def launch_job(graphql: str, job: str) -> str:
    """A run of `job` launched as the UI launches it: queued, then started by the daemon."""
    params = {"selector": {**REPOSITORY, "jobName": job}, "runConfigData": {}}
    answer = httpx.post(graphql, json={"query": RUN, "variables": {"params": params}}, timeout=60).json()
    result = answer["data"]["launchRun"]
    assert result["__typename"] == "LaunchRunSuccess", answer["data"]["launchRun"]["message"]
    return result["run"]["runId"]


def launch(graphql: str, job: str, partitions: list[str]) -> str:
    """A backfill of `job`'s partitions launched as the UI's job page launches it: the daemon runs it,
    in one ranged run (the assets' single-run backfill policy), with the job's staging tag."""
    params = {"selector": {"partitionSetName": f"{job}_partition_set", "repositorySelector": REPOSITORY},
              "partitionNames": partitions}
    answer = httpx.post(graphql, json={"query": LAUNCH, "variables": {"params": params}}, timeout=60).json()
    result = answer["data"]["launchPartitionBackfill"]
    assert result["__typename"] == "LaunchBackfillSuccess", answer
    return result["backfillId"]


def runs(instance: dg.DagsterInstance, backfill: str, statuses) -> list[dg.DagsterRun]:
    return list(instance.get_runs(dg.RunsFilter(tags={"dagster/backfill": backfill}, statuses=statuses)))


def status(instance: dg.DagsterInstance, backfill: str) -> str:
    return instance.get_backfill(backfill).status.value


def done(instance: dg.DagsterInstance, backfill: str) -> bool:
    return status(instance, backfill) not in ("REQUESTED", "CANCELING", "FAILING")


def test_the_deployed_instance_queues_and_monitors_runs_as_the_embedded_default() -> None:
    """deploy/dagster.yaml keeps the run queue limit and run monitoring the laptop default relies on."""
    deployed, embedded = yaml.safe_load((DEPLOY / "dagster.yaml").read_text()), yaml.safe_load(DAGSTER_YAML)
    limits = deployed["run_coordinator"]["config"]["tag_concurrency_limits"]
    assert limits == embedded["run_queue"]["tag_concurrency_limits"]
    assert deployed["run_monitoring"] == embedded["run_monitoring"]
    assert deployed["storage"]["postgres"]["postgres_url"] == {"env": "DAGSTER_PG_URL"}


def test_the_image_and_the_helm_values_match_the_tested_layout() -> None:
    """deploy/Dockerfile and deploy/helm/values.yaml cannot be run here (no container engine, no
    Kubernetes): they are held to the layout the test above runs."""
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    copied = set(re.findall(r"^COPY (\w+) \./\1$", dockerfile, re.M))
    packages = {path.parent.name for path in ROOT.glob("*/__init__.py")} - {"tests"}
    assert packages <= copied and all((ROOT / name).is_dir() for name in copied)
    assert "COPY deploy/dagster.yaml /opt/dagster/home/dagster.yaml" in dockerfile
    assert "COPY deploy/celery.yaml /opt/dagster/celery.yaml" in dockerfile  # the workers' settings
    assert "'.[prod,mysql]'" in dockerfile  # dagster-postgres, dagster-celery and the MySQL sink
    assert re.search(r'"-m", "qeasy_assets.definitions",\s*\\\s*"--location-name", "qeasy"', dockerfile)

    values = yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())
    deployed = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())
    [user] = values["dagster-user-deployments"]["deployments"]
    assert user["dagsterApiGrpcArgs"] == ["-m", "qeasy_assets.definitions", "--location-name", "qeasy"]
    queue = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    assert queue["tagConcurrencyLimits"] == deployed["run_coordinator"]["config"]["tag_concurrency_limits"]
    assert queue["maxConcurrentRuns"] == deployed["run_coordinator"]["config"]["max_concurrent_runs"]
    monitoring = values["dagsterDaemon"]["runMonitoring"]
    assert (monitoring["startTimeoutSeconds"], monitoring["pollIntervalSeconds"]) == (
        deployed["run_monitoring"]["start_timeout_seconds"],
        deployed["run_monitoring"]["poll_interval_seconds"])
    # Runs and the code server share the one staging volume, on the one node that holds it.
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    assert launcher["volumeMounts"] == user["volumeMounts"] and launcher["volumes"] == user["volumes"]
    assert launcher["runK8sConfig"]["podSpecConfig"]["nodeSelector"] == user["nodeSelector"]
    home = {item["name"]: item["value"] for item in user["env"]}["QEASY_HOME"]
    assert home == user["volumeMounts"][0]["mountPath"] and f"QEASY_HOME={home}" in dockerfile
