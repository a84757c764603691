"""The Dagster UI as an operator sees it: `qeasy run` materialises today, `qeasy dev` serves the UI and
runs the daemon over that QEASY_HOME, and headless Chromium (Debian's, which `make test` installs)
reads the asset graph and a partitions page. Then a change in the sandbox reaches the metric
through the daemon's near-real-time sensor alone.

Screenshots go to tests/output/ui/ (kept after the run, ignored by git).
"""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import dagster as dg
import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import (
    ElementClickInterceptedException,
    ElementNotInteractableException,
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from qeasy.datasets import ENDPOINTS
from qeasy.erp.times import BEIJING
from qeasy.sandbox.process import free_port
from qeasy.warehouse.clickhouse import session
from tests.dev_helpers import answers, chromium, stop, wait_for

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = Path(__file__).parent / "output" / "ui"
# What a page that is still rendering can raise while the test waits for it: try again.
PAGE_CHANGING = (NoSuchElementException, StaleElementReferenceException, ElementClickInterceptedException,
                 ElementNotInteractableException)
GROUPS = ["ods", "dwd", "dim", "dws", "ads"]
OUT_ORDERS = "SELECT sum(out_orders) FROM v_ads_shop_daily WHERE stat_date = {day:Date}"
FIRST_DAY = "2025-03-01"  # configured: the partitions the UI offers start there
LIVE_WITHIN = 30  # seconds from a change in the ERP to screen 7 showing it, without a reload (screens.md)


@dataclass
class Served:
    ui: str
    dashboard: str
    sandbox: str
    home: Path
    today: str
    log: Path

    def nrt_runs(self, status: dg.DagsterRunStatus) -> list[dg.RunRecord]:
        with dg.DagsterInstance.from_config(str(self.home / "dagster")) as instance:
            return list(instance.get_run_records(dg.RunsFilter(job_name="nrt", statuses=[status])))

    def out_orders(self) -> int:
        with session(f"chdb://{self.home / 'clickhouse'}", "qeasy") as client:
            return client.query(OUT_ORDERS, parameters={"day": self.today}).result_rows[0][0] or 0


@pytest.fixture
def served(tmp_path) -> Iterator[Served]:
    """Today materialised by `qeasy run`, then `qeasy dev` (UI + daemon + sandbox) over the same home.

    Both commands start the embedded sandbox with the same seed and pinned clock (noon today, Beijing),
    so the daemon's ERP is the one `qeasy run` read."""
    now = datetime.now(BEIJING)
    to_midnight = 86_400 - (now.hour * 3600 + now.minute * 60 + now.second)
    if to_midnight < 300:  # the sensor asks for the wall clock's day: let it not turn mid-test
        time.sleep(to_midnight + 5)
    today = datetime.now(BEIJING).date().isoformat()
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JST_", "QEASY_", "DAGSTER_"))}
    env |= {"QEASY_HOME": str(home), "QEASY_SANDBOX_CLOCK": f"{today} 12:00:00",
            "QEASY_SANDBOX_ORDERS_PER_HOUR": "40", "QEASY_RATE_PER_SECOND": "40",
            "QEASY_RATE_PER_MINUTE": "2400", "QEASY_FIRST_DAY": FIRST_DAY}
    qeasy = [sys.executable, "-m", "qeasy.cli"]
    done = subprocess.run([*qeasy, "run", "--start", today, "--end", today], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    ui_port, sandbox_port, dashboard_port = free_port(), free_port(), free_port()
    log = tmp_path / "qeasy-dev.log"
    with log.open("w") as sink:
        # Its own process group: the webserver, daemon, code server and run workers stop together.
        dev = subprocess.Popen([*qeasy, "dev", "--port", str(ui_port), "--sandbox-port", str(sandbox_port),
                                "--dashboard-port", str(dashboard_port)],
                               cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        ui = f"http://127.0.0.1:{ui_port}"
        wait_for(lambda: answers(ui + "/server_info") or dev.poll() is not None, 180, "the UI to start", log)
        assert dev.poll() is None, log.read_text()[-3000:]
        dashboard = f"http://127.0.0.1:{dashboard_port}"
        wait_for(lambda: answers(dashboard + "/login"), 60, "the dashboard to start", log)
        yield Served(ui, dashboard, f"http://127.0.0.1:{sandbox_port}", home, today, log)
    finally:
        stop(dev)


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    with chromium() as driver:
        yield driver


def test_the_ui_shows_the_layers_and_partitions_and_the_daemon_keeps_today_fresh(browser, served) -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)

    graph = _show(browser, served.ui + "/asset-groups", GROUPS, "asset-graph")
    assert "Global asset lineage" in graph

    ods = _show(browser, served.ui + "/locations/qeasy/asset-groups/ods",
                [f"ods_{dataset}" for dataset in ENDPOINTS], "ods-group")
    assert "api" in ods and "DuckDB" in ods  # the kinds

    partition = _show(browser, f"{served.ui}/assets/ods_sales_out?view=partitions&partition={served.today}",
                      ["Latest materialization", "reconciliation"], "ods_sales_out-partitions")
    for shown in (FIRST_DAY, served.today, "Partitions", "api_data_count", "dead_letters", "ok"):
        assert shown in partition, shown

    # The near-real-time sensor runs `nrt` back to back; after the first has succeeded, move the
    # ERP half an hour on and wait for a run started after the change to carry it into the metric.
    # Meanwhile the dashboard's live screen (7, `qeasy dev` serves it) shows the change without a reload.
    wait_for(lambda: served.nrt_runs(dg.DagsterRunStatus.SUCCESS), 300, "a first nrt run", served.log)
    browser.get(served.dashboard + "/#7")
    shown_before = WebDriverWait(browser, 60, ignored_exceptions=PAGE_CHANGING).until(
        lambda d: _live_orders(d, served.today))
    before = served.out_orders()
    assert shown_before == f"{before:,}"
    httpx.post(served.sandbox + "/__sandbox/clock", json={"advance_seconds": 1800}).raise_for_status()
    changed = time.time()  # a run started from now on reads the changed ERP
    WebDriverWait(browser, 120, ignored_exceptions=PAGE_CHANGING).until(
        lambda d: _live_orders(d, served.today) != shown_before)
    seen = time.time()
    browser.save_screenshot(str(OUTPUT / "dashboard-screen-7.png"))
    wait_for(lambda: any(run.start_time and run.start_time > changed
                      for run in served.nrt_runs(dg.DagsterRunStatus.SUCCESS)),
          300, "an nrt run started after the change", served.log)
    assert served.out_orders() > before
    assert _live_orders(browser, served.today) == f"{served.out_orders():,}"
    # End to end: the run in progress, the sensor's 5 s tick, the run queue, one nrt run, and the
    # page's 5 s refresh. The run that published it tells the pipeline's part from the page's.
    published = min(run.end_time for run in served.nrt_runs(dg.DagsterRunStatus.SUCCESS)
                    if run.start_time and run.start_time > changed)
    timing = (f"screen 7 showed the change {seen - published:.1f} s after the nrt run that published "
              f"it ended, {seen - changed:.1f} s after the ERP changed")
    print(timing)
    assert seen - changed <= LIVE_WITHIN, timing
    assert not served.nrt_runs(dg.DagsterRunStatus.FAILURE)

    # The metric's partition, last written by an nrt run, with its table of shops at a glance.
    _show(browser, f"{served.ui}/assets/ads_shop_daily?view=partitions&partition={served.today}",
          ["nrt", "after_sale_rate", "top 10 shops by out orders", "16800001"], "ads_shop_daily-partitions")


def _live_orders(driver: webdriver.Chrome, today: str) -> str | None:
    """Screen 7's out-order count as shown, once it shows today (None before)."""
    screen = driver.find_element(By.ID, "screen")
    if screen.get_attribute("data-screen") != "7" or screen.get_attribute("data-day") != today:
        return None
    return screen.find_element(By.CSS_SELECTOR, '[data-kpi="out_orders"] .value').text


def _show(driver: webdriver.Chrome, url: str, texts: list[str], name: str) -> str:
    """Open the page, wait until it shows every text, save a screenshot; the page's text."""
    driver.get(url)
    try:
        WebDriverWait(driver, 60, ignored_exceptions=PAGE_CHANGING).until(
            lambda d: _dismiss_welcome(d) and all(t in _text(d) for t in texts))
    except TimeoutException:
        missing = [t for t in texts if t not in _text(driver)]
        raise AssertionError(f"{url} did not show {missing} in 60 s; it showed:\n{_text(driver)}") from None
    finally:
        driver.save_screenshot(str(OUTPUT / f"{name}.png"))
    return _text(driver)


def _dismiss_welcome(driver: webdriver.Chrome) -> bool:
    """A fresh browser profile gets Dagster's newsletter dialog over the page: skip it."""
    for button in driver.find_elements(By.XPATH, "//button[normalize-space()='Skip']"):
        button.click()
    return True


def _text(driver: webdriver.Chrome) -> str:
    return driver.find_element(By.TAG_NAME, "body").text
