"""The sandbox's HTTP server: the open API on its real paths, introspection under `/__sandbox/`."""

import json
import sys
import threading
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

from qeasy.datasets import JUSHUITAN
from qeasy.erp.times import parse_bj
from qeasy.sandbox.api import OpenApi
from qeasy.sandbox.clock import SimClock
from qeasy.sandbox.config import SandboxConfig
from qeasy.sandbox.jackyun import PATH as JACKYUN_PATH
from qeasy.sandbox.jackyun import JackyunGateway
from qeasy.sandbox.merchant import Merchant, UnknownRecord

ADMIN = "/__sandbox/"


class SandboxServer:
    """A running sandbox. `start()` serves in a background thread; `serve_forever()` in this one."""

    def __init__(self, config: SandboxConfig | None = None, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self.config = config or SandboxConfig()
        self.clock = SimClock(self.config.clock)
        self.merchant = Merchant(self.config, self.clock)
        self.api = OpenApi(self.config, self.clock, self.merchant)
        # The same merchant behind a second protocol, sharing the fault switches and statistics.
        self.jackyun = JackyunGateway(self.config, self.clock, self.merchant, self.api)
        self.httpd = _Server((host, port), _handler_for(self))
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "SandboxServer":
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="erp-sandbox",
                                        daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> "SandboxServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- introspection -------------------------------------------------------------------
    def admin(self, method: str, route: str, body: dict) -> object:
        """Answer an introspection call (local only); ValueError/KeyError become HTTP 400."""
        api, merchant = self.api, self.merchant
        if route == "stats/reset" and method == "POST":
            api.reset_stats()
        if route in ("stats", "stats/reset"):
            return api.stats_snapshot()
        if route == "faults":
            if method == "POST":
                api.faults.update(body)
            return asdict(api.faults.settings)
        if route == "limits":
            if method == "POST":
                api.limiter.set_limits(int(body["per_second"]), int(body["per_minute"]))
            return {"per_second": api.limiter.per_second, "per_minute": api.limiter.per_minute}
        if route == "clock":
            if method == "POST":
                if "pin" in body:
                    self.clock.pin(body["pin"])
                if "advance_seconds" in body:
                    self.clock.advance(float(body["advance_seconds"]))
            return {"now_ms": self.clock.now_ms(), "pinned": self.clock.pinned}
        if route == "truth" and method == "POST":
            dataset = _dataset(body)
            begin = parse_bj(str(body["begin"])) if body.get("begin") else None
            end = parse_bj(str(body["end"])) if body.get("end") else None
            if dataset != "shop" and (begin is None or end is None):
                raise ValueError("begin and end are required")
            now = self.clock.now_ms()
            if body.get("count_only"):
                keys = merchant.shops() if dataset == "shop" else merchant.window(dataset, begin, end, now)
                count = len(keys)
                return {"dataset": dataset, "count": count}
            rows = merchant.truth(dataset, begin, end, now)
            return {"dataset": dataset, "count": len(rows), "rows": rows}
        if route == "touch" and method == "POST":
            dataset = _dataset(body)
            key = body["key"]
            key = merchant.catalog.sku_index(key) if isinstance(key, str) else int(key)
            merchant.touch(dataset, key, self.clock.now_ms())
            return {"touched": body["key"]}
        if route == "tokens/expire" and method == "POST":
            api.expire_tokens()
            return {"expired": True}
        if route == "permissions" and method == "POST":
            api.denied = {_dataset({"dataset": d}) for d in body.get("denied", [])}
            return {"denied": sorted(api.denied)}
        if route == "config":
            return self.config.public()
        raise KeyError(route)


def _dataset(body: dict) -> str:
    name = body.get("dataset")
    if name not in JUSHUITAN:
        raise ValueError(f"dataset must be one of {sorted(JUSHUITAN)}")
    return name


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request: object, client_address: object) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # the client gave up waiting (a timeout, a slow-answer fault): nothing to report
        super().handle_error(request, client_address)


def _handler_for(sandbox: SandboxServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: clients reuse connections
        disable_nagle_algorithm = True  # headers and body go out at once, no 40 ms ACK stall

        def do_POST(self) -> None:
            length = self._content_length()
            if length is None:
                # Where this body ends is unknown, so the connection cannot carry another request.
                self._send(400, b'{"error":"bad Content-Length"}', close=True)
                return
            raw = self.rfile.read(length) if length else b""
            path = self.path.split("?", 1)[0]
            if path.startswith(ADMIN):
                self._admin("POST", path, raw)
                return
            form = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
            if path == JACKYUN_PATH:
                status, body = sandbox.jackyun.handle(form)
            else:
                status, body = sandbox.api.handle(path, form)
            content_type = "application/json; charset=utf-8" if status == 200 else "text/html"
            self._send(status, body, content_type)

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path.startswith(ADMIN):
                self._admin("GET", path, b"")
            else:
                self._send(405, b'{"code":405,"msg":"POST only","data":null}')

        def _admin(self, method: str, path: str, raw: bytes) -> None:
            if self.client_address[0] not in ("127.0.0.1", "::1"):
                self._send(403, b'{"error":"introspection is local only"}')
                return
            try:
                body = json.loads(raw) if raw else {}
                if not isinstance(body, dict):
                    raise ValueError("the body must be a JSON object")
                answer = sandbox.admin(method, path[len(ADMIN):], body)
            except KeyError as exc:
                self._send(404 if not raw or method == "GET" else 400,
                           json.dumps({"error": f"unknown or missing: {exc}"}).encode())
                return
            except (ValueError, TypeError, OverflowError, RecursionError, UnknownRecord) as exc:
                self._send(400, json.dumps({"error": str(exc)}, ensure_ascii=False).encode())
                return
            self._send(200, json.dumps(answer, ensure_ascii=False).encode("utf-8"))

        def _content_length(self) -> int | None:
            """The request body's length; None when the header is not a non-negative integer."""
            text = (self.headers.get("Content-Length") or "0").strip()
            return int(text) if text.isascii() and text.isdigit() else None

        def _send(self, status: int, body: bytes, content_type: str = "application/json",
                  close: bool = False) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            if close:
                self.send_header("Connection", "close")  # also makes the handler close it
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass  # one line per call would drown the console at hundreds of calls a second

    return Handler
