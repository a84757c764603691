"""What a wrong setting or an unreachable ERP does at start-up: one line naming the variable or the
URL and the cause, exit 2, no traceback, and no work done; and the one way the sandbox starts."""

import contextlib
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx

from qeasy.erp.times import BEIJING
from qeasy.sandbox.process import SandboxProcess

ROOT = Path(__file__).resolve().parents[1]


def _qeasy_run(home: Path, *args: str, **env: str) -> subprocess.Popen:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("JST_", "JACKYUN_", "QEASY_"))}
    environment |= {"QEASY_HOME": str(home)} | env
    return subprocess.Popen([sys.executable, "-m", "qeasy.cli", "run", *args], cwd=ROOT, env=environment,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _one_line(process: subprocess.Popen) -> str:
    out, err = process.communicate(timeout=120)
    assert process.returncode == 2, out + err
    assert "Traceback" not in out + err and len(err.splitlines()) == 1, err
    return err


@contextlib.contextmanager
def _read_only(path: Path):
    """A read-only file system at `path` (a tmpfs mounted read-only, as root can); without root, a
    directory without write permission stands in for it."""
    path.mkdir()
    mounted = os.geteuid() == 0 and subprocess.run(["mount", "-t", "tmpfs", "-o", "ro", "tmpfs", str(path)],
                                                   capture_output=True).returncode == 0
    if not mounted:
        path.chmod(0o555)
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", str(path)], check=True)
        path.chmod(0o755)


def test_each_bad_setting_exits_2_naming_the_variable_and_the_expected_form(tmp_path) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    home = tmp_path / "home"
    cases = {  # variable, value -> what the one line must say
        ("QEASY_HOME", str(tmp_path / "a-file")): "is a file, not a directory",
        ("QEASY_HOME", str(tmp_path / "a-file" / "home")): "which is a file, not a directory",
        ("QEASY_ALERT_AFTER_SALE_RATE", "2"): "between 0 and 1 (0.05 means 5%), not '2'",
        ("QEASY_ALERT_AFTER_SALE_RATE", "5%"): "between 0 and 1 (0.05 means 5%), not '5%'",
        ("QEASY_MAX_ANOMALY_RATE", "0"): "between 0 and 1 (0.05 means 5%), not '0'",
        ("QEASY_RATE_PER_SECOND", "0"): "between 1 and 1,000,000, not '0'",
        ("QEASY_RATE_PER_MINUTE", "100000000"): "between 1 and 60,000,000",
        ("QEASY_ALERT_MIN_ORDERS", "-3"): "between 0 and",
        ("QEASY_SANDBOX_ORDERS_PER_HOUR", "lots"): "must be a float, not 'lots'",
        ("QEASY_SANDBOX_SEED", "-1"): "between 0 and",
        ("QEASY_ERP", "sap"): "must be one of jushuitan, jackyun, not 'sap'",
        ("QEASY_DATASETS", "no_such_module"): "cannot import no_such_module",
        ("JACKYUN_GATEWAY", "open.jackyun.com"): "must be an http(s):// URL",
        ("JACKYUN_VERSION", "2.0"): "must be v1.0 or 1.0, not '2.0'",
        ("JACKYUN_RATE_PER_SECOND", "0"): "between 1 and 10,000, not '0'",
        ("JACKYUN_METHOD_RATES", "erp.sales.get:3"): "must read method=number,...",
        ("JACKYUN_DAILY_QUOTAS", "erp.sales.get=many"): "must read method=number,...",
    }
    # All at once: each is its own start-up, refused before any import of Dagster's definitions.
    started = {case: _qeasy_run(home, **{case[0]: case[1]}) for case in cases}
    for (variable, value), process in started.items():
        err = _one_line(process)
        assert variable in err and cases[(variable, value)] in err, err
    assert not home.exists()


def test_jackyun_settings_that_cannot_work_are_refused_by_name(tmp_path) -> None:
    cases = [
        ({"QEASY_ERP": "jackyun", "JACKYUN_GATEWAY": "https://open.jackyun.com/open/openapi/do"},
         "JACKYUN_APP_KEY is required when JACKYUN_GATEWAY points at the real gateway"),
        ({"QEASY_ERP": "jackyun", "QEASY_MYSQL_DSN": "mysql://root@127.0.0.1:3306/test"},
         "QEASY_MYSQL_DSN copies the unique-code flow, which QEASY_ERP=jackyun has no dataset for"),
    ]
    started = [(_qeasy_run(tmp_path / "home", **env), said) for env, said in cases]
    for process, said in started:
        assert said in _one_line(process)


def test_a_read_only_home_is_refused_by_name(tmp_path) -> None:
    with _read_only(tmp_path / "ro") as mounted:
        for home in (tmp_path / "ro", tmp_path / "ro" / "home"):
            err = _one_line(_qeasy_run(home))
            assert "QEASY_HOME" in err and str(home) in err
            assert ("read-only file system" if mounted else "not writable") in err, err


def test_tomorrow_is_refused_like_a_day_before_history(tmp_path) -> None:
    now = datetime.now(BEIJING)
    if now.hour == 23 and now.minute >= 58:  # let tomorrow stay tomorrow while qeasy checks it
        time.sleep(180)
        now = datetime.now(BEIJING)
    tomorrow = (now.date() + timedelta(days=1)).isoformat()
    err = _one_line(_qeasy_run(tmp_path / "home", "--start", tomorrow, "--end", tomorrow))
    assert f"--end {tomorrow} is after today" in err
    assert not (tmp_path / "home").exists() or not any((tmp_path / "home").iterdir())


def test_an_unreachable_erp_is_named_with_its_url_and_the_cause(tmp_path) -> None:
    err = _one_line(_qeasy_run(tmp_path / "home", JST_BASE_URL="http://127.0.0.1:1", JST_APP_KEY="key",
                               JST_APP_SECRET="a-secret-value"))
    assert "http://127.0.0.1:1/openWeb/auth/getInitToken" in err and "Connection refused" in err, err
    assert "a-secret-value" not in err


def test_qeasy_sandbox_serves_the_merchant_of_the_settings_or_of_its_options(monkeypatch) -> None:
    """One way to start the sandbox: `qeasy sandbox` (which `qeasy run` and `qeasy dev` start as their
    embedded sandbox) reads QEASY_SANDBOX_* and QEASY_FIRST_DAY; an option overrides its setting."""
    monkeypatch.setenv("QEASY_SANDBOX_SEED", "7")
    monkeypatch.setenv("QEASY_SANDBOX_CLOCK", "2026-11-20 12:00:00")
    monkeypatch.setenv("QEASY_SANDBOX_ORDERS_PER_HOUR", "30")
    monkeypatch.setenv("QEASY_FIRST_DAY", "2026-11-10")
    with SandboxProcess() as configured, SandboxProcess(seed=8, orders_per_hour=40.0) as overridden:
        served = [httpx.get(f"{sandbox.url}/__sandbox/config", timeout=10).json()
                  for sandbox in (configured, overridden)]
        orders = [httpx.post(f"{configured.url}/__sandbox/truth", timeout=30, json={
            "dataset": "sales_out", "begin": f"{day} 00:00:00", "end": f"{day} 23:59:59",
            "count_only": True}).json()["count"] for day in ("2026-11-09", "2026-11-10")]
    assert {k: served[0][k] for k in ("seed", "clock", "orders_per_hour", "epoch")} == {
        "seed": 7, "clock": "2026-11-20 12:00:00", "orders_per_hour": 30.0, "epoch": "2026-11-10"}
    assert {k: served[1][k] for k in ("seed", "clock", "orders_per_hour", "epoch")} == {
        "seed": 8, "clock": "2026-11-20 12:00:00", "orders_per_hour": 40.0, "epoch": "2026-11-10"}
    assert orders[0] == 0 < orders[1]  # no orders before the first day
