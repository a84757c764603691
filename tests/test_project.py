"""The project as a user meets it: settings, the Definitions, `qeasy sandbox`, `qeasy run`."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from qeasy.sandbox.process import free_port
from qeasy.settings import SANDBOX_RATES, SettingsError, load_settings
from tests.webhook_receiver import Receiver, bot_env

ROOT = Path(__file__).resolve().parents[1]


def test_definitions_load() -> None:
    from qeasy_assets.definitions import defs

    defs.get_repository_def().load_all_definitions()


def test_workspace_validates_with_the_dagster_cli(tmp_path) -> None:
    env = os.environ | {"DAGSTER_HOME": str(tmp_path)}
    command = [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def test_settings_defaults_and_errors_name_the_variable(tmp_path) -> None:
    settings = load_settings({"QEASY_HOME": str(tmp_path)})
    assert settings.uses_sandbox and settings.clickhouse_dsn == f"chdb://{tmp_path / 'clickhouse'}"
    assert (settings.rate_per_second, settings.rate_per_minute) == SANDBOX_RATES  # matched by the sandbox
    real = load_settings({"JST_BASE_URL": "https://erp.example", "JST_APP_KEY": "k", "JST_APP_SECRET": "s"})
    assert (real.rate_per_second, real.rate_per_minute) == (5, 100)
    for env, variable in (({"QEASY_RATE_PER_SECOND": "fast"}, "QEASY_RATE_PER_SECOND"),
                          ({"QEASY_CLICKHOUSE_DSN": "mysql://x"}, "QEASY_CLICKHOUSE_DSN"),
                          ({"JST_BASE_URL": "https://openapi.jushuitan.com"}, "JST_APP_KEY")):
        with pytest.raises(SettingsError, match=variable):
            load_settings(env)


def test_secrets_stay_out_of_repr() -> None:
    settings = load_settings({"JST_BASE_URL": "https://erp.example", "JST_APP_KEY": "k",
                              "JST_APP_SECRET": "s3cr3t-value", "JST_ACCESS_TOKEN": "t0ken-value"})
    assert "s3cr3t-value" not in repr(settings) and "t0ken-value" not in repr(settings)


def test_qeasy_sandbox_command_serves_the_api() -> None:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "qeasy.cli", "sandbox", "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = httpx.post(f"http://127.0.0.1:{port}/open/shops/query", data={}).json()
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and process.poll() is None, "sandbox did not start"
                time.sleep(0.2)
        assert answer["code"] == 130  # a real envelope: the system fields are missing
    finally:
        process.terminate()
        process.wait(timeout=10)


def _qeasy_run(tmp_path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("JST_", "QEASY_"))}
    environment |= {"QEASY_HOME": str(tmp_path / "home")} | env
    return subprocess.run([sys.executable, "-m", "qeasy.cli", "run", *args], cwd=tmp_path,
                          env=environment, capture_output=True, text=True, timeout=300)


def test_qeasy_run_takes_a_sandbox_week_through_every_asset_and_check(tmp_path) -> None:
    done = _qeasy_run(tmp_path, "--start", "2026-11-14", "--end", "2026-11-20",
                      QEASY_SANDBOX_ORDERS_PER_HOUR="40", QEASY_SANDBOX_CLOCK="2026-11-21 08:00:00")
    assert done.returncode == 0, done.stderr
    assert "10 shops" in done.stdout and "FAILED" not in done.stdout
    from qeasy_assets.definitions import defs

    progress, summary = done.stdout.split("  asset  ", 1)  # the lines printed while it worked, the table
    for key in defs.resolve_all_asset_keys():  # every asset shows in both
        name = key.to_user_string()
        figures = rf"^\s+(\d\d:\d\d:\d\d  )?{name}: (done in [\d.]+ s: )?[\d,]+ rows"
        assert re.search(figures, progress, re.M), name
        assert f"  {name} " in summary
    assert "ods_sales_out: staged 7/7 day(s)" in progress
    assert re.search(r"ods_sales_out: done in [\d.]+ s: [\d,]+ rows, 7 partitions, checks 2/2 passed",
                     progress)
    assert " - dagster - " not in done.stderr  # Dagster's own console stays quiet
    assert "warehouse (ClickHouse): dim_shop 10" in done.stdout
    assert "2026-11-20: out orders" in done.stdout and "alerts for 2026-11-20" in done.stdout


def test_qeasy_run_with_a_wrong_secret_fails_fast_naming_the_signature(tmp_path, fast) -> None:
    server, _ = fast
    started = time.monotonic()
    done = _qeasy_run(tmp_path, JST_BASE_URL=server.url, JST_APP_KEY=server.config.app_key,
                      JST_APP_SECRET="wrong-secret-value", JST_ACCESS_TOKEN=server.config.access_token)
    assert done.returncode != 0 and time.monotonic() - started < 30
    assert "ERP error 10" in done.stderr and "JST_APP_SECRET" in done.stderr
    assert "wrong-secret-value" not in done.stdout + done.stderr


def test_qeasy_run_reports_a_bad_setting_by_name(tmp_path) -> None:
    done = _qeasy_run(tmp_path, QEASY_RATE_PER_MINUTE="0")
    assert done.returncode == 2 and "QEASY_RATE_PER_MINUTE" in done.stderr


def test_qeasy_run_delivers_alerts_once_and_retries_what_a_bot_refused(tmp_path) -> None:
    receiver = Receiver()
    env = {"QEASY_SANDBOX_ORDERS_PER_HOUR": "40", "QEASY_SANDBOX_CLOCK": "2026-11-21 08:00:00",
           **bot_env(receiver)}
    try:
        receiver.fail_next = 1_000  # both bots down for the first run
        down = _qeasy_run(tmp_path, "--start", "2026-11-20", "--end", "2026-11-20", **env)
        assert down.returncode == 0, down.stderr
        alerts = int(re.search(r"alerts for 2026-11-20: (\d+) \(0 newly delivered", down.stdout)[1])
        assert alerts and f"{2 * alerts} failed and retried next run" in down.stdout
        assert not receiver.accepted

        receiver.fail_next = 0  # back up: the next run, for another day, delivers what was refused
        up = _qeasy_run(tmp_path, "--start", "2026-11-19", "--end", "2026-11-19", **env)
        assert up.returncode == 0, up.stderr
        assert f"earlier alerts a bot had refused: {alerts} ({2 * alerts} deliveries made now" in up.stdout
        received = receiver.alerts_received()
        late = [(bot, line) for bot, line in received if "2026-11-20" in line]
        assert len(late) == len(set(late)) == 2 * alerts  # each once, on each bot

        again = _qeasy_run(tmp_path, "--start", "2026-11-19", "--end", "2026-11-19", **env)
        assert again.returncode == 0 and "(0 newly delivered" in again.stdout
        assert "earlier alerts" not in again.stdout and receiver.alerts_received() == received
    finally:
        receiver.stop()
