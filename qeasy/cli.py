"""The `qeasy` command: `run` (the main job), `sandbox` (serve the ERP sandbox), `dev` (the UI),
`replay` (dead letters), `metrics` (Prometheus), `dashboard` (the BI screens), `access` (their users)."""

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import NoReturn

import click

from qeasy.datasets import ENDPOINTS
from qeasy.erp.budget import CallBudget
from qeasy.erp.client import CallStats, ErpClient, ErpConfigError, ErpGaveUp, HttpClient, RetryPolicy
from qeasy.erp.jackyun.client import JackyunClient
from qeasy.erp.jackyun.pacing import MethodBudgets
from qeasy.erp.times import bj_today
from qeasy.runner import RunReport, dagster_home, instance_for, run_job
from qeasy.sandbox import SandboxConfig, SandboxServer
from qeasy.sandbox.jackyun import PATH as JACKYUN_PATH
from qeasy.sandbox.process import SandboxProcess, die_with_parent
from qeasy.settings import Settings, SettingsError, load_settings


@click.group()
def main() -> None:
    """qeasy: Jushuitan ERP data into trustworthy BI tables."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8900, show_default=True, type=int)
@click.option("--seed", default=None, type=int, help="Default: QEASY_SANDBOX_SEED.")
@click.option("--clock", default=None, metavar="'YYYY-MM-DD HH:MM:SS'",
              help="Pin the merchant's clock at a Beijing time (default: QEASY_SANDBOX_CLOCK, else the "
              "wall clock).")
@click.option("--first-day", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="First Beijing day with orders (default: QEASY_FIRST_DAY).")
@click.option("--orders-per-hour", default=None, type=float, help="Default: QEASY_SANDBOX_ORDERS_PER_HOUR.")
@click.option("--profile", type=click.Choice(["daily", "peak"]), default="daily", show_default=True)
@click.option("--skus", default=SandboxConfig.skus, show_default=True, type=int)
@click.option("--per-second", default=SandboxConfig.per_second, show_default=True, type=int,
              help="The limit of code 199 (the real API's by default).")
@click.option("--per-minute", default=SandboxConfig.per_minute, show_default=True, type=int,
              help="The limit of code 200 (the real API's by default).")
@click.option("--jackyun-per-method-per-second", default=SandboxConfig.jackyun_per_method_per_second,
              show_default=True, type=int, help="Calls a second the 吉客云 gateway admits per method.")
def sandbox(host: str, port: int, seed: int | None, clock: str | None, first_day: datetime | None,
            orders_per_hour: float | None, profile: str, skus: int, per_second: int, per_minute: int,
            jackyun_per_method_per_second: int) -> None:
    """Serve the ERP sandbox until stopped (Ctrl-C): the merchant of the settings (QEASY_SANDBOX_*,
    QEASY_FIRST_DAY), as the embedded sandbox of `qeasy run` and `qeasy dev` serves it; an option
    given overrides its setting."""
    settings = _settings()
    given = {"seed": seed, "clock": clock, "orders_per_hour": orders_per_hour,
             "epoch": first_day.date().isoformat() if first_day else None}
    config = SandboxConfig(**{"seed": settings.sandbox_seed, "clock": settings.sandbox_clock,
                              "orders_per_hour": settings.sandbox_orders_per_hour,
                              "epoch": settings.first_day.isoformat()}
                           | {name: value for name, value in given.items() if value is not None},
                           profile=profile, skus=skus, per_second=per_second, per_minute=per_minute,
                           jackyun_per_method_per_second=jackyun_per_method_per_second)
    server = SandboxServer(config, host=host, port=port)
    click.echo(f"ERP sandbox serving the Jushuitan open API at {server.url} (app_key {config.app_key}; "
               f"limits {per_second}/s, {per_minute}/min) and the 吉客云 gateway at "
               f"{server.url}{JACKYUN_PATH} ({jackyun_per_method_per_second}/s per method). Ctrl-C stops it.")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()


@main.command()
@click.option("--start", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="First Beijing day (default: 6 days before --end).")
@click.option("--end", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Last Beijing day, inclusive (default: yesterday).")
def run(start: datetime | None, end: datetime | None) -> None:
    """The main job for the Beijing days START..END (default: the last 7 complete days)."""
    settings = _settings()
    try:  # before any work: a refused range leaves QEASY_HOME untouched
        first, last = day_range(start.date() if start else None, end.date() if end else None,
                                settings.first_day, bj_today())
    except ValueError as exc:
        _fail(str(exc))
    with _erp(settings) as base_url:
        click.echo(f"qeasy run {first}..{last}  ERP {base_url}  {_budget_line(settings)}")
        shops, calls = _preflight(settings, base_url)
        click.echo(f"  credentials accepted ({shops} shops; {calls} call{'s' if calls != 1 else ''})")
        from qeasy_assets.definitions import defs

        instance = instance_for(settings.home)
        reports = [run_job(defs, "shops", instance)]
        if reports[0].success:  # shop names first: every fact is published with them
            reports.append(run_job(defs, "main", instance, first, last))
        _print_summary(reports)
        failed = [r.failure for r in reports if not r.success]
        blocked = [f"{step.asset}.{name}" for report in reports for step in report.steps
                   for name in step.blocking_failed]
        if not failed or blocked:
            _print_warehouse(settings, last)
        if blocked:
            _fail(f"a blocking check failed ({', '.join(blocked)}): downstream tables were not refreshed",
                  code=1)
        if failed:
            _fail(f"the run failed: {failed[0]}", code=1)


@main.command()
def replay() -> None:
    """Re-fetch every partition that has open dead letters (pages or windows given up on)."""
    settings = _settings()
    from dagster_duckdb import DuckDBResource

    from qeasy.ingest.staging import open_dead_letters

    with DuckDBResource(database=str(settings.home / "staging.duckdb")).get_connection() as conn:
        letters = open_dead_letters(conn)
    if not letters:
        click.echo("no open dead letters")
        return
    with _erp(settings):
        from jobs.replay import replays
        from qeasy_assets.definitions import defs  # after _erp: it reads the ERP it points at

        instance = instance_for(settings.home)
        for replay in replays(letters):
            click.echo(f"replaying {replay.job} {replay.day or ''}".rstrip())
            day = date.fromisoformat(replay.day) if replay.day else None
            report = run_job(defs, replay.job, instance, day, day)
            _print_summary([report])
            if not report.success:
                _fail(report.failure or "the replay failed", code=1)


@main.command()
@click.option("--port", default=3000, show_default=True, type=int, help="Port of the Dagster UI.")
@click.option("--sandbox-port", default=8900, show_default=True, type=int)
@click.option("--dashboard-port", default=8080, show_default=True, type=int, help="0: no dashboard.")
def dev(port: int, sandbox_port: int, dashboard_port: int) -> None:
    """The Dagster UI on http://127.0.0.1:PORT with the sandbox running (unless JST_BASE_URL is set),
    and the dashboard beside it."""
    settings = _settings()
    env = dict(os.environ)
    env["DAGSTER_HOME"] = str(dagster_home(settings.home))
    sandbox = None
    if settings.uses_sandbox:
        sandbox = _start_sandbox(settings, port=sandbox_port)
        env.update(_sandbox_env(settings, sandbox.url))
        click.echo(f"ERP sandbox at {sandbox.url}")
    instance_for(settings.home)  # runs a killed process left behind would hold the queue
    dagster = subprocess.Popen([sys.executable, "-m", "dagster", "dev", "-w", "workspace.yaml",
                                "-h", "127.0.0.1", "-p", str(port)], env=env, preexec_fn=die_with_parent())
    board = None
    if dashboard_port:
        board = subprocess.Popen([sys.executable, "-m", "qeasy.cli", "dashboard", "--port",
                                  str(dashboard_port)], env=env, preexec_fn=die_with_parent())
    try:
        dagster.wait()
    except KeyboardInterrupt:  # Ctrl-C reached dagster dev too: let it stop its webserver and daemon
        try:
            dagster.wait(timeout=60)
        except (KeyboardInterrupt, subprocess.TimeoutExpired):
            dagster.kill()
    finally:
        if board:
            board.terminate()
        if sandbox:
            sandbox.stop()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
def dashboard(host: str, port: int) -> None:
    """The eight BI screens on http://HOST:PORT; sign-in and per-shop access when
    QEASY_DASHBOARD_ACCESS names an access file (without one, only 127.0.0.1 is served)."""
    settings = _settings()
    import uvicorn

    from qeasy.dashboard.serve import dashboard_app

    try:
        app = dashboard_app(settings, host)
    except SettingsError as exc:
        _fail(f"configuration: {exc}")
    who = "sign-in required" if settings.dashboard_access_file else "no sign-in: loopback only"
    click.echo(f"qeasy dashboard at http://{host}:{port} ({who}); Ctrl-C stops it.")
    uvicorn.run(app, host=host, port=port, log_level="warning")


@main.group()
def access() -> None:
    """Dashboard users (the access file of QEASY_DASHBOARD_ACCESS) and their ClickHouse grants."""


@access.command("add-user")
@click.argument("name")
@click.option("--file", "path", envvar="QEASY_DASHBOARD_ACCESS", required=True,
              type=click.Path(dir_okay=False),
              help="The access file (default: QEASY_DASHBOARD_ACCESS); created when missing.")
@click.option("--shops", default="all", show_default=True, help="all, or shop ids separated by commas.")
@click.option("--inventory/--no-inventory", default=False, show_default=True,
              help="May see the merchant-wide stock of screens 1 and 6.")
@click.password_option(help="Asked for when not given (twice).")
def add_user(name: str, path: str, shops: str, inventory: bool, password: str) -> None:
    """Add or replace a user NAME; the password is stored only as a salted argon2id hash."""
    from qeasy.dashboard.access import AccessError
    from qeasy.dashboard.access import add_user as add

    try:
        ids = None if shops == "all" else [int(part) for part in shops.split(",")]
    except ValueError:
        _fail(f"--shops must be all or shop ids separated by commas, not {shops!r}")
    try:
        add(path, name, password, ids, inventory)
    except AccessError as exc:
        _fail(str(exc))
    click.echo(f"{name}: {'every shop' if ids is None else f'{len(ids)} shop(s)'}"
               f"{', stock too' if inventory else ''} ({path})")


@access.command()
@click.option("--apply", is_flag=True,
              help="Run the statements on the ClickHouse server (QEASY_CLICKHOUSE_DSN).")
def grants(apply: bool) -> None:
    """Print (or apply) the ClickHouse read-only role, BI users and row policies of the access file."""
    from urllib.parse import urlsplit

    from qeasy.dashboard.access import load_access
    from qeasy.dashboard.grants import grants as build

    settings = _settings()
    if not settings.dashboard_access_file:
        _fail("QEASY_DASHBOARD_ACCESS must name the access file the grants come from")
    if apply and settings.clickhouse_dsn.startswith("chdb://"):
        _fail("--apply needs a ClickHouse server (QEASY_CLICKHOUSE_DSN=http(s)://...): the embedded "
              "engine has no users; print the statements instead")
    writer = urlsplit(settings.clickhouse_dsn).username or "default"
    result = build(load_access(settings.dashboard_access_file), settings.clickhouse_database, writer,
                   settings.clickhouse_cluster)
    if apply:
        from qeasy.warehouse.clickhouse import session

        with session(settings.clickhouse_dsn, settings.clickhouse_database,
                     cluster=settings.clickhouse_cluster) as client:
            for statement in result.statements:
                client.command(statement)
        click.echo(f"applied {len(result.statements)} statements")
    else:
        for statement in result.statements:
            click.echo(f"{statement};")
    click.echo("-- passwords generated for the BI users (hand each to its user; shown only now):")
    for user, password in result.passwords.items():
        click.echo(f"--   {user}: {password}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=9464, show_default=True, type=int)
def metrics(host: str, port: int) -> None:
    """Serve Prometheus metrics on http://HOST:PORT/metrics until stopped (Ctrl-C)."""
    settings = _settings()
    import time

    from prometheus_client import start_http_server
    from prometheus_client.registry import CollectorRegistry

    from qeasy.metrics import PipelineCollector

    registry = CollectorRegistry()
    registry.register(PipelineCollector(settings, instance_for(settings.home)))
    server, _ = start_http_server(port, addr=host, registry=registry)
    click.echo(f"qeasy metrics at http://{host}:{server.server_port}/metrics (QEASY_HOME {settings.home}); "
               "Ctrl-C stops it.")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.shutdown()


@main.command()
@click.option("--cluster", default=None, metavar="NAME",
              help="Render for this server cluster (default: QEASY_CLICKHOUSE_CLUSTER; empty: one server).")
def schema(cluster: str | None) -> None:
    """Print the DDL that creates the warehouse, for a DBA to read or apply with clickhouse-client
    (qeasy applies it itself on first use)."""
    from qeasy.warehouse.migrate import schema_statements

    settings = _settings()
    for statement in schema_statements(settings.clickhouse_database,
                                       settings.clickhouse_cluster if cluster is None else cluster):
        click.echo(f"{statement.strip()};\n")


def day_range(start: date | None, end: date | None, first_day: date, today: date) -> tuple[date, date]:
    """The days `qeasy run` covers: START..END, by default the last 7 complete days (from the first
    day of history when it is younger). ValueError, naming the option and the bound, when the range
    is empty, starts before the first day of history or ends after today."""
    last = end or today - timedelta(days=1)
    first = start or max(last - timedelta(days=6), first_day)
    history = f"the first day of history {first_day} (QEASY_FIRST_DAY)"
    end_name = "--end" if end else "yesterday"
    if first < first_day:
        raise ValueError(f"--start {first} is before {history}")
    if last < first_day:
        raise ValueError(f"{end_name} {last} is before {history}")
    if last > today:
        raise ValueError(f"--end {last} is after today {today} (Beijing time)")
    if first > last:
        raise ValueError(f"--start {first} is after {end_name} {last}")
    return first, last


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        _fail(f"configuration: {exc}")


def _fail(reason: str, code: int = 2) -> NoReturn:
    """One line on stderr and a non-zero exit: 2 for usage and configuration, 1 for a failed run."""
    click.echo(f"qeasy: {reason}", err=True)
    sys.exit(code)


@contextmanager
def _erp(settings: Settings) -> Iterator[str]:
    """The ERP's URL; with no JST_BASE_URL (or JACKYUN_GATEWAY) the embedded sandbox serves while
    the block runs, limited exactly like the configured budget."""
    if not settings.uses_sandbox:
        yield settings.jackyun_gateway if settings.erp == "jackyun" else settings.jst_base_url
        return
    sandbox = _start_sandbox(settings)
    saved = dict(os.environ)
    os.environ.update(_sandbox_env(settings, sandbox.url))  # the Dagster definitions read them
    try:
        yield sandbox.url + JACKYUN_PATH if settings.erp == "jackyun" else sandbox.url
    finally:
        sandbox.stop()
        os.environ.clear()
        os.environ.update(saved)


def _sandbox_env(settings: Settings, url: str) -> dict[str, str]:
    """The variables that point Dagster code at a running sandbox with the same budget."""
    if settings.erp == "jackyun":
        return {"JACKYUN_GATEWAY": url + JACKYUN_PATH, "JACKYUN_APP_KEY": settings.jackyun_app_key,
                "JACKYUN_APP_SECRET": settings.jackyun_app_secret,
                "JACKYUN_RATE_PER_SECOND": str(settings.jackyun_pacing.per_second)}
    return {"JST_BASE_URL": url, "JST_APP_KEY": settings.jst_app_key,
            "JST_APP_SECRET": settings.jst_app_secret,
            "JST_ACCESS_TOKEN": settings.jst_access_token or SandboxConfig.access_token,
            "QEASY_RATE_PER_SECOND": str(settings.rate_per_second),
            "QEASY_RATE_PER_MINUTE": str(settings.rate_per_minute)}


def _start_sandbox(settings: Settings, port: int = 0) -> SandboxProcess:
    """The embedded sandbox: `qeasy sandbox` in a child process, which reads the same settings for its
    merchant, limited exactly like the configured budget (吉客云: like the fastest method's pacing)."""
    return SandboxProcess(port, per_second=settings.rate_per_second, per_minute=settings.rate_per_minute,
                          jackyun_per_method_per_second=settings.jackyun_pacing.fastest).start()


def _budget_line(settings: Settings) -> str:
    if settings.erp == "jackyun":
        return f"吉客云 pacing {settings.jackyun_pacing.per_second}/s per method"
    return f"budget {settings.rate_per_second}/s {settings.rate_per_minute}/min"


def _client(settings: Settings, url: str) -> HttpClient:
    """A client of the ERP the settings name, at `url`, retrying less than a run does."""
    retry = RetryPolicy(max_attempts=4)
    if settings.erp == "jackyun":
        budgets = MethodBudgets(settings.home, settings.jackyun_app_key, settings.jackyun_pacing,
                                settings.budget_url)
        return JackyunClient(url, settings.jackyun_app_key, settings.jackyun_app_secret, budgets,
                             token=settings.jackyun_token, version=settings.jackyun_version, retry=retry)
    budget = CallBudget(settings.home, settings.jst_app_key, settings.rate_per_second,
                        settings.rate_per_minute, shared_url=settings.budget_url)
    return ErpClient(url, settings.jst_app_key, settings.jst_app_secret, settings.jst_access_token or None,
                     budget, refresh_token=settings.jst_refresh_token or None, retry=retry)


def _preflight(settings: Settings, url: str) -> tuple[int, int]:
    """One signed call (the shop list) so wrong credentials fail now, with the ERP's reason: the
    shops seen and the calls it took (retries and a token call included)."""
    client, shops, stats = _client(settings, url), ENDPOINTS["shop"], CallStats()
    try:
        data = client.call(shops.path, {**shops.fixed, **shops.paging(1)}, stats)
    except (ErpConfigError, ErpGaveUp) as exc:
        _fail(str(exc))
    finally:
        client.close()
    return len((data or {}).get(shops.rows_key) or []), stats.calls


def _print_warehouse(settings: Settings, day: date) -> None:
    """Rows per contract table, the last day's metrics, and its alerts, delivered once each."""
    import httpx

    from qeasy.alerts.channels import channels_from_settings, describe
    from qeasy.alerts.delivery import deliver, pending
    from qeasy.warehouse.clickhouse import session
    from qeasy.warehouse.summary import summarise

    channels = channels_from_settings(settings)
    with session(settings.clickhouse_dsn, settings.clickhouse_database,
                 cluster=settings.clickhouse_cluster) as client, \
            httpx.Client(timeout=10) as http:
        summary = summarise(client, day, settings.alert_after_sale_rate, settings.alert_min_orders)
        report = deliver(client, summary.alerts, channels, http)
        # Earlier days' deliveries that a bot refused are due again, as the sensor retries them.
        keys = {alert.key for alert in summary.alerts}
        earlier = [alert for alert in pending(client) if alert.key not in keys]
        retried = deliver(client, earlier, channels, http)
    click.echo("  warehouse (ClickHouse): " + ", ".join(f"{t} {n:,}" for t, n in summary.rows.items()))
    m = summary.metrics
    rate = "n/a" if m["after_sale_rate"] is None else f"{m['after_sale_rate']:.2%}"
    click.echo(f"  {day}: out orders {m['out_orders']:,}, qty {m['out_qty']:,}, "
               f"amount {m['out_amount']:,.2f}; refund orders {m['refund_orders']:,}, "
               f"refunds {m['refund_amount']:,.2f}; after-sale rate {rate}")
    where = ", ".join(channel.name for channel in channels) or "the log only (no webhook configured)"
    click.echo(f"  alerts for {day}: {len(summary.alerts)} ({report.sent} newly delivered to {where}, "
               f"{report.skipped} already delivered, {report.failed} failed and retried next run)")
    if earlier:
        click.echo(f"  earlier alerts a bot had refused: {len(earlier)} ({retried.sent} deliveries made now, "
                   f"{retried.failed} failed again and retried next run)")
    for alert in summary.alerts[:10]:
        click.echo(f"    {describe(alert)}")
    if len(summary.alerts) > 10:
        click.echo(f"    ... and {len(summary.alerts) - 10} more (all in ops_alerts)")
    for error in [*report.errors, *retried.errors][:3]:
        click.echo(f"    delivery problem: {error}")


def _print_summary(reports: list[RunReport]) -> None:
    click.echo(f"  {'asset':<24}{'rows':>9}{'calls':>7}{'throttled':>10}{'retries':>8}"
               f"{'dead letters':>13}  reconciliation / checks")
    for report in reports:
        for step in report.steps:
            m = step.metadata
            warnings = [name for name, passed in step.checks.items()
                        if not passed and name not in step.blocking_failed]
            checks = (f"; FAILED: {', '.join(step.blocking_failed)}" if step.blocking_failed else "") + (
                f"; warning: {', '.join(warnings)}" if warnings else "")
            click.echo(f"  {step.asset:<24}{m.get('rows', 0):>9,}{m.get('calls', 0):>7}"
                       f"{m.get('throttled', 0):>10}{m.get('retries', 0):>8}{m.get('dead_letters', 0):>13}"
                       f"  {m.get('reconciliation', '')}{checks}")


if __name__ == "__main__":
    main()
