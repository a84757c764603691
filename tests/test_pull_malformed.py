"""An ERP that answers in the wrong shape: a real HTTP server replaying fixed bodies. Nothing may
crash the pull, loop for ever, or merge rows that have no key."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from qeasy.datasets import ENDPOINTS
from qeasy.erp.budget import CallBudget
from qeasy.erp.client import ErpClient, RetryPolicy
from qeasy.erp.times import day_of_date
from qeasy.ingest.pull import Puller

DAY = day_of_date(__import__("datetime").date(2026, 11, 18))


@pytest.fixture
def erp(tmp_path):
    """A server answering every call with `bodies[path]` (a JSON-able envelope)."""
    bodies: dict[str, object] = {}
    calls: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            calls.append(self.path)
            body = json.dumps(bodies[self.path]).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    budget = CallBudget(tmp_path, "app", 1000, 100_000)
    client = ErpClient(f"http://127.0.0.1:{server.server_address[1]}", "app", "secret", "token", budget,
                       retry=RetryPolicy(max_attempts=2, backoff_base=0.01, backoff_cap=0.02))
    yield bodies, calls, client
    client.close()
    server.shutdown()


def test_rows_that_are_not_objects_make_a_dead_letter_not_a_crash(erp) -> None:
    bodies, _, client = erp
    bodies[ENDPOINTS["sku"].path] = {"code": 0, "msg": "", "data": {"datas": ["x", None], "has_next": False,
                                                                    "data_count": 2}}
    [pull] = Puller(client, ENDPOINTS["sku"]).pull([DAY])
    assert pull.dead and "malformed" in pull.dead[0].error and pull.rows == []


def test_data_null_is_a_dead_letter(erp) -> None:
    bodies, _, client = erp
    bodies[ENDPOINTS["shop"].path] = {"code": 0, "msg": "", "data": None}
    [pull] = Puller(client, ENDPOINTS["shop"]).pull([DAY])
    assert pull.dead


def test_has_next_as_the_string_false_ends_the_walk(erp) -> None:
    bodies, calls, client = erp
    bodies[ENDPOINTS["shop"].path] = {"code": 0, "msg": "", "data": {
        "datas": [{"shop_id": 1, "shop_name": "a"}], "has_next": "false"}}
    [pull] = Puller(client, ENDPOINTS["shop"]).pull([DAY])
    assert len(calls) == 1 and len(pull.rows) == 1 and not pull.dead


def test_rows_without_a_key_are_kept_apart(erp) -> None:
    bodies, _, client = erp
    rows = [{"shop_id": None, "shop_name": "a"}, {"shop_name": "b"}, {"shop_id": 7, "shop_name": "c"}]
    bodies[ENDPOINTS["shop"].path] = {"code": 0, "msg": "", "data": {"datas": rows, "has_next": False}}
    [pull] = Puller(client, ENDPOINTS["shop"]).pull([DAY])
    assert sorted(row["shop_name"] for row in pull.rows) == ["a", "b", "c"]


def test_window_rows_out_of_time_order_are_refused(erp) -> None:
    bodies, _, client = erp
    rows = [{"sku_id": f"S{i}", "modified": f"2026-11-18 10:00:{59 - i:02d}"} for i in range(50)]
    bodies[ENDPOINTS["sku"].path] = {"code": 0, "msg": "", "data": {"datas": rows, "has_next": True,
                                                                    "data_count": 500}}
    [pull] = Puller(client, ENDPOINTS["sku"], max_slices=1).pull([DAY])
    assert pull.dead and "not sorted" in pull.dead[0].error
