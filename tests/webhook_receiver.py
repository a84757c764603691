"""A local stand-in for the Feishu and DingTalk custom bots: a real HTTP server that checks their
signatures as the bots do and records the messages it accepts."""

import base64
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from qeasy.alerts.channels import DINGTALK, FEISHU, Channel

FEISHU_SECRET = "feishu-secret"
DINGTALK_SECRET = "SECdingtalk-secret"


class Receiver:
    """Plays the Feishu (`/feishu`) and DingTalk (`/dingtalk?access_token=…`) bots: checks signatures
    as the bots do, records accepted messages, and can be told to fail the next calls with HTTP 500."""

    def __init__(self) -> None:
        self.accepted: list[tuple[str, dict]] = []  # (bot, body)
        self.requests: list[tuple[str, dict, dict]] = []  # (bot, query, body), accepted or not
        self.fail_next = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                url = urlsplit(self.path)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                status, answer = receiver.handle(url.path.strip("/"), query, body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def handle(self, bot: str, query: dict, body: dict) -> tuple[int, dict]:
        with self.lock:
            self.requests.append((bot, query, body))
            if self.fail_next:
                self.fail_next -= 1
                return 500, {"error": "internal"}
            if bot == "feishu":
                timestamp = body.get("timestamp", "")
                key = f"{timestamp}\n{FEISHU_SECRET}".encode()
                expected = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
                if body.get("sign") != expected or abs(time.time() - int(timestamp)) > 3600:
                    return 200, {"code": 19021, "msg": "sign match fail or timestamp is not within one hour"}
                self.accepted.append((bot, body))
                return 200, {"code": 0, "msg": "success", "data": {}}
            timestamp = query.get("timestamp", "")
            message = f"{timestamp}\n{DINGTALK_SECRET}".encode()
            expected = base64.b64encode(hmac.new(DINGTALK_SECRET.encode(), message, hashlib.sha256).digest())
            if (query.get("access_token") != "tok" or query.get("sign") != expected.decode()
                    or abs(time.time() * 1000 - int(timestamp)) > 3_600_000):
                return 200, {"errcode": 310000, "errmsg": "sign not match"}
            self.accepted.append((bot, body))
            return 200, {"errcode": 0, "errmsg": "ok"}

    def alerts_received(self) -> list[tuple[str, str]]:
        """(bot, alert line) for every alert line in the accepted messages."""
        lines = []
        for bot, body in self.accepted:
            if bot == "feishu":
                lines += [(bot, e["text"]["content"]) for e in body["card"]["elements"] if e["tag"] == "div"]
            else:
                lines += [(bot, line[2:]) for line in body["markdown"]["text"].splitlines()
                          if line.startswith("- ")]
        return lines

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def bots(receiver: Receiver, feishu_secret: str = FEISHU_SECRET) -> list[Channel]:
    return [Channel(FEISHU, f"{receiver.url}/feishu", feishu_secret),
            Channel(DINGTALK, f"{receiver.url}/dingtalk?access_token=tok", DINGTALK_SECRET)]


def bot_env(receiver: Receiver) -> dict[str, str]:
    """The settings that point qeasy's alerting at this receiver."""
    return {"QEASY_FEISHU_WEBHOOK": f"{receiver.url}/feishu", "QEASY_FEISHU_SECRET": FEISHU_SECRET,
            "QEASY_DINGTALK_WEBHOOK": f"{receiver.url}/dingtalk?access_token=tok",
            "QEASY_DINGTALK_SECRET": DINGTALK_SECRET}
