"""The dashboard's web application (Starlette, which the Dagster webserver already runs on).

- `/` the page of the eight screens (static HTML + ECharts, served from this package: no CDN);
- `/api/screens/{n}?date=YYYY-MM-DD&shops=1,2` one screen's numbers as JSON;
- `/api/screens/6/export?date=...&format=csv|xlsx` the reorder list as a file;
- `/login`, `/logout`: sign-in against the access file; every other path answers a signed-out
  request with the sign-in page only.

Each request opens a warehouse session for its queries alone, so the embedded warehouse's lock is
held for a query's time and Dagster's runs take their turns in between.
"""

import asyncio
import contextlib
import io
import secrets
import threading
from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from qeasy.dashboard.access import LOCAL_USER, User, authenticate
from qeasy.dashboard.data import latest_complete_day, read
from qeasy.dashboard.runs import recent_runs
from qeasy.dashboard.screens import MAP_NAMES, SCREENS
from qeasy.erp.times import bj_today, parse_day
from qeasy.warehouse.clickhouse import WarehouseBusy, embedded_path, session

STATIC = Path(__file__).parent / "static"
SIGN_IN_PAGE = (STATIC / "login.html").read_text(encoding="utf-8")  # read once, not per request
WAIT_SECONDS = 10.0  # for the embedded warehouse while a run writes; then the page tries again
EXPORT_COLUMNS = {"sku_id": "SKU编码 SKU", "sku_name": "商品名称 name", "end_qty": "日末库存 end qty",
                  "min_qty": "安全库存 min qty", "purchase_qty": "在途 in transit",
                  "daily_out": "日均出库 daily out", "cover_days": "可售天数 cover days",
                  "suggested_qty": "建议补货量 suggested qty"}


class BadRequest(ValueError):
    """A parameter the dashboard does not accept; the message says which and why."""


class Dashboard:
    """What the routes share: the warehouse, the users (None: no sign-in, loopback only), the
    after-sale thresholds that colour screen 3, and the Dagster instance whose runs screen 8 lists."""

    def __init__(self, dsn: str, database: str, users: dict[str, User] | None, first_day: date,
                 min_orders: int, after_sale_rate: float, instance: dg.DagsterInstance | None = None) -> None:
        self.dsn, self.database, self.users = dsn, database, users
        self.first_day, self.min_orders, self.after_sale_rate = first_day, min_orders, after_sale_rate
        self.instance = instance
        self.query_ms: dict[int, float] = {}  # each screen's latest warehouse time, for screen 8
        # One request at a time talks to the embedded warehouse (the engine serves one path per
        # process); a server takes them concurrently.
        self._warehouse = threading.Lock() if embedded_path(dsn) else contextlib.nullcontext()

    def user(self, request: Request) -> User | None:
        if self.users is None:
            return LOCAL_USER
        name = request.session.get("user")
        return self.users.get(name) if isinstance(name, str) else None

    def day(self, request: Request) -> date | None:
        text = request.query_params.get("date")
        if not text:
            return None  # the screen's default
        try:
            day = parse_day(text)
        except ValueError:
            raise BadRequest("date must be a day written YYYY-MM-DD") from None
        if not self.first_day <= day <= bj_today():
            raise BadRequest(f"date must lie between {self.first_day} and today")
        return day

    def screen_data(self, number: int, request: Request) -> dict:
        screen = SCREENS.get(number)
        if screen is None:
            raise BadRequest("screens are numbered 1 to 8")
        day, wanted = self.day(request), shops_param(request)
        user = self.user(request)
        with self._warehouse, session(self.dsn, self.database, wait=WAIT_SECONDS) as client:
            if day is None:
                day = bj_today() if screen.live else latest_complete_day(client, bj_today())
            data = read(client, screen, user, day, wanted, self.min_orders)
        self.query_ms[number] = data["query_ms"]
        data |= {"user": user.name, "after_sale_rate": self.after_sale_rate, "min_orders": self.min_orders}
        if number == 8:
            data["runs"] = recent_runs(self.instance) if self.instance else []
            data["query_ms_by_screen"] = dict(sorted(self.query_ms.items()))
        return data


def shops_param(request: Request) -> set[int] | None:
    """The `shops` filter a request asks for (None: all the user may see); only ids are accepted."""
    text = request.query_params.get("shops")
    if text is None or text == "":
        return None
    try:
        shops = {int(part) for part in text.split(",")}
    except ValueError:
        raise BadRequest("shops must be shop ids separated by commas") from None
    if not all(0 <= shop < 2**63 for shop in shops):  # ClickHouse's Int64
        raise BadRequest("shops must be shop ids separated by commas")
    return shops


def _dashboard(request: Request) -> Dashboard:
    return request.app.state.dashboard


async def index(request: Request) -> Response:
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})


async def me(request: Request) -> Response:
    dashboard = _dashboard(request)
    user = dashboard.user(request)
    return JSONResponse({"user": user.name, "all_shops": user.all_shops, "inventory": user.inventory,
                         "sign_in": dashboard.users is not None, "today": bj_today().isoformat(),
                         "first_day": dashboard.first_day.isoformat(), "map_names": MAP_NAMES,
                         "screens": [{"number": s.number, "title": s.title, "live": s.live}
                                     for s in SCREENS.values()]})


def _error(exc: Exception) -> JSONResponse:
    if isinstance(exc, BadRequest):
        return JSONResponse({"error": str(exc)}, status_code=400)
    return JSONResponse({"error": f"{exc}; the page tries again"}, status_code=503)


def screen_json(request: Request) -> Response:
    try:
        data = _dashboard(request).screen_data(request.path_params["number"], request)
    except (BadRequest, WarehouseBusy) as exc:
        return _error(exc)
    return JSONResponse(data, headers={"Cache-Control": "no-store"})


def export(request: Request) -> Response:
    """The reorder list of screen 6 as CSV (UTF-8 with BOM, so Excel reads the Chinese) or Excel."""
    kind = request.query_params.get("format", "csv")
    try:
        if kind not in ("csv", "xlsx"):
            raise BadRequest("format must be csv or xlsx")
        data = _dashboard(request).screen_data(6, request)
    except (BadRequest, WarehouseBusy) as exc:
        return _error(exc)
    if "reorder" in data["hidden"]:
        return JSONResponse({"error": "stock is not among what this user may see"}, status_code=403)
    records = data["sections"]["reorder"]
    frame = pl.DataFrame({label: [r[name] for r in records] for name, label in EXPORT_COLUMNS.items()},
                         schema={label: (pl.Utf8 if name in ("sku_id", "sku_name") else pl.Float64)
                                 for name, label in EXPORT_COLUMNS.items()})
    name = f"reorder-{data['day']}.{kind}"
    buffer = io.BytesIO()
    if kind == "csv":
        frame.write_csv(buffer, include_bom=True)
        media = "text/csv; charset=utf-8"
    else:
        frame.write_excel(buffer, worksheet="建议补货 reorder", autofit=True)
        media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(buffer.getvalue(), media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


async def login(request: Request) -> Response:
    dashboard = _dashboard(request)
    if request.method == "POST":
        form = await request.form()
        name, password = form.get("username"), form.get("password")
        user = None
        if dashboard.users is not None and isinstance(name, str) and isinstance(password, str):
            user = await run_in_threadpool(authenticate, dashboard.users, name, password)
        if user is not None:
            request.session.clear()
            request.session["user"] = user.name
            return RedirectResponse("/", status_code=303)
        await asyncio.sleep(0.5)  # a guess costs time
        return _sign_in_page(failed=True)
    return _sign_in_page()


async def logout(request: Request) -> Response:
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


def _sign_in_page(failed: bool = False) -> HTMLResponse:
    page = SIGN_IN_PAGE
    message = '<p class="error">用户名或密码错误 wrong user name or password</p>' if failed else ""
    return HTMLResponse(page.replace("<!--message-->", message), status_code=401 if failed else 200,
                        headers={"Cache-Control": "no-store"})


class SignedInOnly:
    """Everything but the sign-in page needs a signed-in user; the rest get the sign-in page."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in ("/login",):
            request = Request(scope, receive)
            if request.app.state.dashboard.user(request) is None:
                response = (_sign_in_page() if request.method == "GET" and scope["path"] == "/"
                            else RedirectResponse("/login", status_code=303))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def build_app(dashboard: Dashboard, secret_key: str | None = None, https_only: bool = False) -> Starlette:
    """The ASGI application serving `dashboard`."""
    routes = [
        Route("/", index),
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/api/me", me),
        Route("/api/screens/6/export", export),
        Route("/api/screens/{number:int}", screen_json),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    middleware = [Middleware(SessionMiddleware, secret_key=secret_key or secrets.token_urlsafe(32),
                             session_cookie="qeasy_session", same_site="strict", https_only=https_only,
                             max_age=12 * 3600),
                  Middleware(SignedInOnly)]
    app = Starlette(routes=routes, middleware=middleware)
    app.state.dashboard = dashboard
    return app
