"""The dashboard (`qeasy dashboard`) over a real warehouse, served as a process over real HTTP:
sign-in, per-shop access, injection attempts, the reorder export, the ClickHouse grants of the
access file, and all eight screens in headless Chromium with their numbers checked against the
warehouse. Screenshots go to tests/output/dashboard/.

(The live refresh of screen 7 with the daemon running is in tests/test_ui.py, which runs `qeasy dev`.)
"""

import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import httpx
import polars as pl
import pytest
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from qeasy.dashboard.access import add_user, load_access
from qeasy.dashboard.grants import ROLE, bi_user, grants, shop_tables
from qeasy.erp.times import BEIJING
from qeasy.sandbox import SandboxConfig, SandboxServer
from qeasy.sandbox.process import free_port
from qeasy.warehouse.clickhouse import session
from tests.dev_helpers import answers, chromium, stop, wait_for
from tests.warehouse_helpers import Chain, query

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = Path(__file__).parent / "output" / "dashboard"
PASSWORDS = {"boss": "boss-pw-1", "manager": "manager-pw-2", "keeper": "keeper-pw-3"}


@dataclass
class Served:
    url: str
    home: Path
    day: date  # the latest complete day: what screens 1-6 and 8 open on
    today: date
    shops: list[int]  # every shop with sales on `day`, by out amount
    mine: list[int]  # the manager's two shops
    log: Path

    def client(self, user: str) -> httpx.Client:
        http = httpx.Client(base_url=self.url, timeout=30, follow_redirects=True)
        answer = http.post("/login", data={"username": user, "password": PASSWORDS[user]})
        assert answer.status_code == 200 and answer.url.path == "/", answer.text[:300]
        return http


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    """Three days up to noon today in the warehouse, and `qeasy dashboard` with three users."""
    base = tmp_path_factory.mktemp("dashboard")
    today = datetime.now(BEIJING).date()
    first = today - timedelta(days=2)
    server = SandboxServer(SandboxConfig(clock=f"{today} 12:00:00", orders_per_hour=150.0,
                                         epoch=first.isoformat(), per_second=10_000,
                                         per_minute=1_000_000)).start()
    home = base / "home"
    try:
        chain = Chain(server, home)
        assert chain.shops().success
        assert chain.main(first, today).success
    finally:
        server.stop()
    day = today - timedelta(days=1)
    shops = query(home, "SELECT shop_id FROM v_ads_shop_daily WHERE stat_date = {d:Date} "
                        "ORDER BY out_amount DESC, shop_id", d=day)["shop_id"].to_list()
    mine = [shops[1], shops[3]]
    access = base / "access.json"
    add_user(access, "boss", PASSWORDS["boss"], None, True)
    add_user(access, "manager", PASSWORDS["manager"], mine, False)
    add_user(access, "keeper", PASSWORDS["keeper"], mine, True)
    port, log = free_port(), base / "dashboard.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JST_", "QEASY_", "DAGSTER_"))}
    env |= {"QEASY_HOME": str(home), "QEASY_DASHBOARD_ACCESS": str(access), "QEASY_FIRST_DAY": str(first)}
    with log.open("w") as sink:
        process = subprocess.Popen([sys.executable, "-m", "qeasy.cli", "dashboard", "--port", str(port)],
                                   cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: answers(url + "/login") or process.poll() is not None, 60, "the dashboard", log)
        assert process.poll() is None, log.read_text()
        yield Served(url, home, day, today, shops, mine, log)
    finally:
        stop(process)


def shop_ids(data) -> set[int]:
    """Every shop id anywhere in a screen's sections."""
    found = set()
    for rows in data["sections"].values():
        found |= {row["shop_id"] for row in rows if "shop_id" in row}
    return found


def screen(http: httpx.Client, number: int, **params) -> dict:
    answer = http.get(f"/api/screens/{number}", params=params)
    assert answer.status_code == 200, answer.text[:500]
    return answer.json()


SIGNED_OUT_PATHS = ["/", "/api/me", *(f"/api/screens/{n}" for n in range(1, 9)), "/api/screens/6/export",
                    "/api/screens/4?date=2026-11-01&shops=16800001", "/static/app.js",
                    "/static/vendor/echarts.min.js", "/static/vendor/china.json", "/nowhere"]


def test_a_signed_out_request_gets_nothing_but_the_sign_in_page(served) -> None:
    sign_in = httpx.get(served.url + "/login").text
    assert 'id="sign-in"' in sign_in and "echarts" not in sign_in
    with httpx.Client(base_url=served.url, follow_redirects=True) as http:
        for path in SIGNED_OUT_PATHS:
            answer = http.get(path)
            assert answer.text == sign_in, path
        for name, password in [("boss", "wrong"), ("nobody", PASSWORDS["boss"]), ("boss", "")]:
            refused = http.post("/login", data={"username": name, "password": password})
            assert refused.status_code in (401, 400) or 'id="sign-in"' in refused.text
            assert http.get("/api/me").text == sign_in
        signed_in = served.client("boss")
        assert signed_in.get("/api/me").json()["user"] == "boss"
        signed_in.post("/logout")
        assert signed_in.get("/api/screens/4").text == sign_in


def test_the_access_file_keeps_only_salted_hashes(served, tmp_path) -> None:
    access = tmp_path / "access.json"
    done = subprocess.run([sys.executable, "-m", "qeasy.cli", "access", "add-user", "lin", "--shops",
                           "16800001,16800002", "--file", str(access)], input="s3cret-pw\ns3cret-pw\n",
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    text = access.read_text()
    assert "s3cret-pw" not in text and "$argon2id$" in text
    user = load_access(access)["lin"]
    assert user.shops == {16800001, 16800002} and not user.inventory
    add_user(access, "lin2", "s3cret-pw", None, True)
    hashes = [entry["password_hash"] for entry in json.loads(access.read_text())["users"].values()]
    assert hashes[0] != hashes[1]  # the same password, salted differently


def test_a_manager_of_two_shops_sees_exactly_those_shops(served) -> None:
    boss, manager, keeper = (served.client(name) for name in ("boss", "manager", "keeper"))
    mine = set(served.mine)
    in_mine = "shop_id IN {s:Array(Int64)}"
    for number in range(1, 9):
        data = screen(manager, number, date=served.day)
        assert shop_ids(data) <= mine, number
    ranking = screen(manager, 4, date=served.day)["sections"]
    assert [row["shop_id"] for row in ranking["shops"]] == [s for s in served.shops if s in mine]
    expected = query(served.home, f"SELECT sum(out_amount) AS a, sum(refund_amount) AS r "
                                  f"FROM v_ads_shop_daily WHERE stat_date = {{d:Date}} AND {in_mine}",
                     d=served.day, s=served.mine)
    assert ranking["totals"][0]["out_amount"] == pytest.approx(float(expected["a"][0]))
    assert ranking["totals"][0]["refund_amount"] == pytest.approx(float(expected["r"][0]))
    # The map, the hours, the forecast and the finance rows: sums over the two shops only.
    sums = {(1, "provinces", "out_orders"): "SELECT sum(out_orders) FROM v_ads_region_daily",
            (2, "today", "out_amount"): "SELECT sum(out_amount) FROM v_ads_sales_hourly",
            (2, "forecast", "forecast_open"): "SELECT sum(forecast_open) FROM v_ads_sales_forecast",
            (5, "shops", "gmv"): "SELECT sum(gmv) FROM v_ads_finance_daily"}
    for (number, section, column), sql in sums.items():
        rows = screen(manager, number, date=served.day)["sections"][section]
        want = query(served.home, f"{sql} WHERE stat_date = {{d:Date}} AND {in_mine}", d=served.day,
                     s=served.mine).to_series()[0]
        assert sum(row[column] or 0 for row in rows) == pytest.approx(float(want)), (number, section)
        everyone = screen(boss, number, date=served.day)["sections"][section]
        assert sum(row[column] or 0 for row in everyone) > sum(row[column] or 0 for row in rows)
    # Stock is merchant-wide: hidden from the manager, whole for the keeper.
    assert screen(manager, 1, date=served.day)["hidden"] == ["categories", "below_min"]
    assert screen(manager, 6, date=served.day)["hidden"] == ["reorder"]
    assert manager.get("/api/screens/6/export", params={"date": served.day}).status_code == 403
    assert screen(keeper, 6, date=served.day)["sections"]["reorder"]
    # The after-sale ranking over the manager's shops is the metric's formula on their lines: for
    # every shop at once it equals the published ads_sku_after_sale_7d.
    published = screen(boss, 3, date=served.day)["sections"]["top"]
    recomputed = screen(boss, 3, date=served.day, shops=",".join(map(str, served.shops)))["sections"]["top"]
    assert published and recomputed == published
    # Hand-crafted requests for a third shop get none of its data.
    third = next(s for s in served.shops if s not in mine)
    for number in range(1, 9):
        data = screen(manager, number, date=served.day, shops=str(third))
        assert third not in shop_ids(data)
        mixed = screen(manager, number, date=served.day, shops=f"{served.mine[0]},{third}")
        assert shop_ids(mixed) <= {served.mine[0]}
    assert not screen(manager, 4, date=served.day, shops=str(third))["sections"]["shops"]


# ads_sku_shop_daily from the latest-version lines, a second formulation of the SKU rankings' mart.
SKU_SHOP_FROM_LINES = """
SELECT stat_date, shop_id, sku_id, out_orders, out_qty, out_amount, refund_orders FROM (
    SELECT biz_date AS stat_date, shop_id, sku_id, uniqExact(io_id) AS out_orders, sum(qty) AS out_qty,
           sum(sale_amount) AS out_amount
    FROM v_dws_sale_out WHERE status = 'Confirmed' AND io_date IS NOT NULL AND is_anomaly = 0
      AND sku_id IS NOT NULL AND shop_id IS NOT NULL GROUP BY ALL) AS o
FULL JOIN (
    SELECT biz_date AS stat_date, shop_id, sku_id, uniqExact(as_id) AS refund_orders FROM v_dws_after_sale
    WHERE is_refund = 1 AND is_anomaly = 0 AND sku_id IS NOT NULL AND shop_id IS NOT NULL GROUP BY ALL) AS r
USING (stat_date, shop_id, sku_id) ORDER BY ALL"""


def test_the_sku_rankings_read_sku_sales_per_shop_and_day_equal_to_the_lines(served) -> None:
    mart = query(served.home, "SELECT stat_date, shop_id, sku_id, out_orders, out_qty, out_amount, "
                              "refund_orders FROM v_ads_sku_shop_daily ORDER BY ALL")
    lines = query(served.home, SKU_SHOP_FROM_LINES)
    assert mart.height > 1000 and mart.to_dicts() == lines.to_dicts()
    manager = served.client("manager")
    skus = screen(manager, 7, date=served.day)["sections"]["skus"]
    mine = lines.filter(pl.col("stat_date") == served.day, pl.col("shop_id").is_in(served.mine),
                        pl.col("out_orders") > 0)
    best = mine.group_by("sku_id").agg(pl.col("out_amount").sum()).sort(["out_amount", "sku_id"],
                                                                         descending=[True, False])
    assert [row["sku_id"] for row in skus] == best["sku_id"].head(10).to_list()


def test_the_reorder_list_exports_as_csv_and_excel(served) -> None:
    keeper = served.client("keeper")
    answer = keeper.get("/api/screens/6/export", params={"date": served.day, "format": "csv"})
    assert answer.status_code == 200 and answer.content.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8
    exported = pl.read_csv(io.BytesIO(answer.content), schema_overrides={"SKU编码 SKU": pl.Utf8})
    expected = query(served.home, "SELECT sku_id, suggested_qty FROM v_ads_replenishment "
                                  "WHERE stat_date = {d:Date} ORDER BY suggested_qty DESC, sku_id",
                     d=served.day)
    assert exported["SKU编码 SKU"].to_list() == expected["sku_id"].to_list()
    assert exported["建议补货量 suggested qty"].to_list() == expected["suggested_qty"].to_list()
    excel = keeper.get("/api/screens/6/export", params={"date": served.day, "format": "xlsx"})
    assert excel.status_code == 200 and excel.content[:2] == b"PK"
    assert 'filename="reorder-' in excel.headers["content-disposition"]


INJECTIONS = ["2026-11-01' OR '1'='1", "2026-11-01; DROP TABLE ads_shop_daily", "1) OR (1=1", "' OR 1=1 --",
              "16800001 UNION SELECT * FROM system.users", "16800001,16800002) OR shop_id > (0",
              "{shops:Array(Int64)}", "%27", "\\x00", "1e9999", "-1 OR 1", "99999999999999999999"]


def test_injection_attempts_in_every_parameter_are_refused_or_harmless(served) -> None:
    manager = served.client("manager")
    before = query(served.home, "SELECT count() AS n FROM v_ads_shop_daily")["n"][0]
    for text in INJECTIONS:
        for number in (1, 4, 6, 7):
            answer = manager.get(f"/api/screens/{number}", params={"date": text})
            assert answer.status_code == 400 and "date" in answer.json()["error"], (text, answer.text)
            answer = manager.get(f"/api/screens/{number}", params={"shops": text, "date": served.day})
            assert answer.status_code == 400 or shop_ids(answer.json()) <= set(served.mine), text
        answer = manager.get("/api/screens/6/export", params={"format": text})
        assert answer.status_code in (400, 403), text
        assert manager.get(f"/api/screens/{text}").status_code in (400, 404), text
        with httpx.Client(base_url=served.url, follow_redirects=True) as stranger:
            refused = stranger.post("/login", data={"username": text, "password": text})
            assert refused.status_code == 401 and stranger.get("/api/me").url.path == "/login"
            refused = stranger.post("/login", data={"username": "manager", "password": f"{text}' OR '1'='1"})
            assert refused.status_code == 401
    assert query(served.home, "SELECT count() AS n FROM v_ads_shop_daily")["n"][0] == before


def test_the_access_file_becomes_clickhouse_users_and_row_policies(served, tmp_path) -> None:
    users = {name: user for name, user in load_access(_access_file(served)).items()}
    manager = users["manager"]
    for cluster in ("", "qeasy_cluster"):
        result = grants(users, "qeasy", "default", cluster)
        with session(f"chdb://{tmp_path / 'parse'}", "qeasy") as client:
            for statement in result.statements:  # every statement is one the engine parses
                client.query("SELECT formatQuerySingleLine({q:String})", parameters={"q": statement})
        text = "\n".join(result.statements)
        assert f"CREATE ROLE IF NOT EXISTS {ROLE}" in text and "readonly = 1" in text
        for table in shop_tables() & {"ads_shop_daily", "dws_sale_out", "ads_region_daily"}:
            ids = ", ".join(map(str, sorted(manager.shops)))
            assert re.search(rf"ROW POLICY OR REPLACE qeasy_shops_bi_manager ON qeasy\.{table}\b.*"
                             rf"USING shop_id IN \({ids}\) TO bi_manager", text), table
            assert re.search(rf"ON qeasy\.{table}\b.* USING 1 TO default", text)  # the writer sees all
        stock = [s for s in result.statements if "ads_replenishment " in s + " " and s.startswith("GRANT")]
        assert stock and all(bi_user(manager) not in s for s in stock)  # the manager has no stock
        assert ("qeasy.ads_shop_daily_all" in text) == bool(cluster)
        assert set(result.passwords) == {"bi_boss", "bi_manager", "bi_keeper"}
    printed = subprocess.run([sys.executable, "-m", "qeasy.cli", "access", "grants"], cwd=ROOT,
                             env=os.environ | {"QEASY_HOME": str(tmp_path / "h"),
                                               "QEASY_DASHBOARD_ACCESS": str(_access_file(served))},
                             capture_output=True, text=True, timeout=60)
    assert printed.returncode == 0 and "CREATE ROW POLICY" in printed.stdout, printed.stderr
    refused = subprocess.run([sys.executable, "-m", "qeasy.cli", "access", "grants", "--apply"], cwd=ROOT,
                             env=os.environ | {"QEASY_HOME": str(tmp_path / "h"),
                                               "QEASY_DASHBOARD_ACCESS": str(_access_file(served))},
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "server" in refused.stderr


def _access_file(served: Served) -> Path:
    return served.home.parent / "access.json"


def _money(value) -> str:
    return f"¥{float(value):,.2f}"


def test_the_eight_screens_in_chromium_show_the_warehouse_numbers(served) -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    day, mine = served.day, served.mine
    with chromium() as browser:
        browser.get(served.url + "/")
        assert browser.find_elements(By.ID, "sign-in")  # signed out: the sign-in page
        browser.find_element(By.ID, "username").send_keys("keeper")
        browser.find_element(By.ID, "password").send_keys(PASSWORDS["keeper"])
        browser.find_element(By.CSS_SELECTOR, "#sign-in button").click()
        in_mine = "shop_id IN {s:Array(Int64)}"

        def one(sql: str, when: date = day):
            return query(served.home, sql, d=when, s=mine).row(0)

        provinces = one(f"SELECT uniqExactIf(province, province != '未知') FROM v_ads_region_daily "
                        f"WHERE stat_date = {{d:Date}} AND {in_mine}")[0]
        shop = one(f"SELECT shop_name, out_amount FROM v_ads_shop_daily WHERE stat_date = {{d:Date}} "
                   f"AND {in_mine} ORDER BY out_amount DESC, shop_id LIMIT 1")
        reorder = one("SELECT sku_id, suggested_qty FROM v_ads_replenishment WHERE stat_date = {d:Date} "
                      "ORDER BY suggested_qty DESC, sku_id LIMIT 1")
        hourly = one(f"SELECT sum(out_amount) FROM v_ads_sales_hourly WHERE stat_date = {{d:Date}} "
                     f"AND {in_mine}")
        gmv = one(f"SELECT sum(gmv) FROM v_ads_finance_daily WHERE stat_date = {{d:Date}} AND {in_mine}")
        live = one(f"SELECT sum(out_orders) FROM v_ads_shop_daily WHERE stat_date = {{d:Date}} AND {in_mine}",
                   served.today)
        # The pulls ran today: screen 8 shows them once the date picker says today.
        calls = one("SELECT sum(calls) FROM v_ads_pipeline_health_hourly WHERE toDate(stat_hour) = {d:Date}",
                    served.today)
        stockouts = one("SELECT sum(stockout_skus) FROM v_ads_inventory_overview WHERE stat_date = {d:Date}")
        expected = {
            1: [("kpi", "provinces", f"{provinces:,}"), ("kpi", "stockout_skus", f"{stockouts[0]:,}")],
            2: [("kpi", "today_amount", _money(hourly[0]))],
            3: [("cell", "top", "after_sale_rate_7d", None)],
            4: [("cell", "shops", "shop_name", shop[0]), ("cell", "shops", "out_amount", _money(shop[1]))],
            5: [("kpi", "gmv", _money(gmv[0]))],
            6: [("cell", "reorder", "sku_id", reorder[0]),
                ("cell", "reorder", "suggested_qty", f"{reorder[1]:,}")],
            7: [("kpi", "out_orders", f"{live[0]:,}")],
            8: [("kpi", "calls", f"{calls[0]:,}")],
        }
        manager_top = screen(served.client("keeper"), 3, date=day)["sections"]["top"]
        top = manager_top[0]
        expected[3] = [("cell", "top", "sku_id", top["sku_id"]),
                       ("cell", "top", "after_sale_rate_7d", f"{top['after_sale_rate_7d'] * 100:.2f}%")]
        for number, checks in expected.items():
            browser.get(f"{served.url}/#{number}")
            shown = _wait_for_screen(browser, number, served.today if number == 7 else day)
            if number == 8:
                browser.execute_script("const d = document.getElementById('day'); d.value = arguments[0]; "
                                       "d.dispatchEvent(new Event('change'));", served.today.isoformat())
                shown = _wait_for_screen(browser, number, served.today)
            for check in checks:
                if check[0] == "kpi":
                    got = shown.find_element(By.CSS_SELECTOR, f'[data-kpi="{check[1]}"] .value').text
                    assert got == check[2], (number, check, got)
                else:
                    first_row = f'[data-table="{check[1]}"] tbody tr:first-child td[data-col="{check[2]}"]'
                    cell = shown.find_element(By.CSS_SELECTOR, first_row)
                    assert cell.text == check[3], (number, check, cell.text)
            browser.save_screenshot(str(OUTPUT / f"screen-{number}.png"))
        # The day picked stays picked from screen to screen; the map of screen 1 drew on a canvas.
        browser.get(f"{served.url}/#1")
        _wait_for_screen(browser, 1, served.today)
        assert browser.execute_script("return document.querySelectorAll('.chart.map canvas').length") >= 1


def _wait_for_screen(browser, number: int, day: date):
    def ready(driver):
        node = driver.find_element(By.ID, "screen")
        return node if (node.get_attribute("data-screen") == str(number)
                        and node.get_attribute("data-day") == day.isoformat()) else False
    try:
        return WebDriverWait(browser, 60, ignored_exceptions=(NoSuchElementException,
                                                              StaleElementReferenceException)).until(ready)
    finally:
        browser.save_screenshot(str(OUTPUT / f"screen-{number}.png"))


def test_without_an_access_file_only_loopback_is_served_and_a_bad_file_is_refused(tmp_path) -> None:
    from qeasy.dashboard.serve import dashboard_app
    from qeasy.settings import SettingsError, load_settings

    settings = load_settings({"QEASY_HOME": str(tmp_path / "home")})
    with pytest.raises(SettingsError, match="QEASY_DASHBOARD_ACCESS"):
        dashboard_app(settings, "0.0.0.0")
    assert dashboard_app(settings, "127.0.0.1") is not None
    bad = tmp_path / "access.json"
    wrong_shops = {"users": {"bob": {"password_hash": "$argon2id$x", "shops": "some"}}}
    for content, message in [("{", "not readable JSON"),
                             ('{"users": {"bob": {"password_hash": "plain"}}}', "argon2"),
                             (json.dumps(wrong_shops), "shops must be")]:
        bad.write_text(content)
        with pytest.raises(SettingsError, match=message):
            load_settings({"QEASY_HOME": str(tmp_path / "home"), "QEASY_DASHBOARD_ACCESS": str(bad)})
