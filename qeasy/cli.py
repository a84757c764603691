"""The `qeasy` command: `run` (the main job), `sandbox` (serve the ERP sandbox), `dev` (the UI)."""

import os
import subprocess
import sys
from datetime import date, datetime, timedelta

import click
import httpx

from qeasy.erp.endpoints import ENDPOINTS
from qeasy.erp.request import ErpError, signed_form, unwrap
from qeasy.erp.times import BEIJING
from qeasy.sandbox import SandboxConfig, SandboxServer
from qeasy.settings import Settings, SettingsError, load_settings


@click.group()
def main() -> None:
    """qeasy: Jushuitan ERP data into trustworthy BI tables."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8900, show_default=True, type=int)
@click.option("--seed", default=SandboxConfig.seed, show_default=True, type=int)
@click.option("--clock", default=None, metavar="'YYYY-MM-DD HH:MM:SS'",
              help="Pin the merchant's clock at a Beijing time (default: the wall clock).")
@click.option("--orders-per-hour", default=SandboxConfig.orders_per_hour, show_default=True, type=float)
@click.option("--profile", type=click.Choice(["daily", "peak"]), default="daily", show_default=True)
@click.option("--skus", default=SandboxConfig.skus, show_default=True, type=int)
@click.option("--per-second", default=SandboxConfig.per_second, show_default=True, type=int)
@click.option("--per-minute", default=SandboxConfig.per_minute, show_default=True, type=int)
def sandbox(host: str, port: int, seed: int, clock: str | None, orders_per_hour: float, profile: str,
            skus: int, per_second: int, per_minute: int) -> None:
    """Serve the ERP sandbox until stopped (Ctrl-C)."""
    config = SandboxConfig(seed=seed, clock=clock, orders_per_hour=orders_per_hour, profile=profile,
                           skus=skus, per_second=per_second, per_minute=per_minute)
    server = SandboxServer(config, host=host, port=port)
    click.echo(f"ERP sandbox serving the Jushuitan open API at {server.url} "
               f"(app_key {config.app_key}; limits {per_second}/s, {per_minute}/min). Ctrl-C stops it.")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()


@main.command()
@click.option("--start", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="First Beijing day (default: 7 days before --end).")
@click.option("--end", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Last Beijing day, inclusive (default: yesterday).")
def run(start: datetime | None, end: datetime | None) -> None:
    """The main job for the Beijing days START..END (default: the last 7 complete days)."""
    settings = _settings()
    last = end.date() if end else datetime.now(BEIJING).date() - timedelta(days=1)
    first = start.date() if start else last - timedelta(days=6)
    if first > last:
        _fail("--start must not be after --end")
    sandbox = _start_sandbox(settings) if settings.uses_sandbox else None
    base_url = sandbox.url if sandbox else settings.jst_base_url
    try:
        click.echo(f"qeasy run {first}..{last}  ERP: {'embedded sandbox at ' if sandbox else ''}{base_url}")
        shops = _preflight(settings, base_url)
        click.echo(f"  ERP answers with these credentials: {shops} shops")
        from qeasy_assets.definitions import defs

        assets = list(defs.resolve_all_asset_specs())
        click.echo(f"  assets defined: {len(assets)}")
        if sandbox:
            _print_sandbox_summary(sandbox, first, last)
    finally:
        if sandbox:
            sandbox.stop()


@main.command()
@click.option("--port", default=3000, show_default=True, type=int, help="Port of the Dagster UI.")
@click.option("--sandbox-port", default=8900, show_default=True, type=int)
def dev(port: int, sandbox_port: int) -> None:
    """The Dagster UI on http://127.0.0.1:PORT with the sandbox running (unless JST_BASE_URL is set)."""
    settings = _settings()
    env = dict(os.environ)
    env.setdefault("DAGSTER_HOME", str(_dagster_home(settings)))
    sandbox = None
    if settings.uses_sandbox:
        sandbox = _start_sandbox(settings, port=sandbox_port)
        env["JST_BASE_URL"] = sandbox.url
        click.echo(f"ERP sandbox at {sandbox.url}")
    try:
        subprocess.run([sys.executable, "-m", "dagster", "dev", "-w", "workspace.yaml",
                        "-h", "127.0.0.1", "-p", str(port)], env=env, check=False)
    except KeyboardInterrupt:
        pass
    finally:
        if sandbox:
            sandbox.stop()


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        _fail(f"configuration: {exc}")


def _fail(reason: str) -> None:
    click.echo(f"qeasy: {reason}", err=True)
    sys.exit(2)


def _dagster_home(settings: Settings):
    home = settings.home / "dagster"
    home.mkdir(parents=True, exist_ok=True)
    return home


def _start_sandbox(settings: Settings, port: int = 0) -> SandboxServer:
    """The embedded sandbox, rate-limited like the configured budget."""
    config = SandboxConfig(per_second=settings.rate_per_second, per_minute=settings.rate_per_minute)
    return SandboxServer(config, port=port).start()


def _preflight(settings: Settings, base_url: str) -> int:
    """One signed call (the shop list) so wrong credentials fail now with the ERP's reason."""
    form = signed_form(settings.jst_app_key, settings.jst_app_secret, settings.jst_access_token,
                       {"page_index": 1, "page_size": 100})
    try:
        response = httpx.post(base_url + ENDPOINTS["shop"].path, data=form, timeout=30)
        response.raise_for_status()
        data = unwrap(response.json())
    except ErpError as exc:
        hint = {10: "check JST_APP_KEY / JST_APP_SECRET", 100: "check JST_ACCESS_TOKEN"}.get(exc.code, "")
        _fail(f"{exc}{'; ' + hint if hint else ''}")
    except (httpx.HTTPError, ValueError) as exc:
        _fail(f"the ERP at {base_url} did not answer usably: {type(exc).__name__}")
    return len(data["datas"])


def _print_sandbox_summary(sandbox: SandboxServer, first: date, last: date) -> None:
    """How many records the ERP holds for the range (the sandbox's ground truth), per dataset."""
    click.echo(f"  ERP records modified {first}..{last} (sandbox ground truth):")
    for dataset, endpoint in ENDPOINTS.items():
        if endpoint.window_days is None:
            continue
        answer = sandbox.admin("POST", "truth", {
            "dataset": dataset, "begin": f"{first} 00:00:00",
            "end": f"{last + timedelta(days=1)} 00:00:00", "count_only": True})
        click.echo(f"    {dataset:<12} {answer['count']:>9,}")


if __name__ == "__main__":
    main()
