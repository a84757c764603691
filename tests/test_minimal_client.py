"""A minimal Jushuitan client written only from jushuitan-api.md, with no knowledge of the sandbox
code, signs, pages and reads every endpoint of the sandbox. It imports nothing from qeasy: if the
sandbox drifts from the documented API, this test notices. (The unique-code endpoint's window
parameter names, which the document leaves out, are those of the official SDK it cites.)"""

import hashlib
import json
import time

import httpx

# dataset: (path, rows key or None for a flat `data` array, max page size, window parameters)
DOCUMENTED = {
    "inventory": ("/open/inventory/query", "inventorys", 100, ("modified_begin", "modified_end")),
    "sales_out": ("/open/orders/out/simple/query", "datas", 50, ("modified_begin", "modified_end")),
    "after_sale": ("/open/refund/single/query", "datas", 50, ("modified_begin", "modified_end")),
    "sku": ("/open/sku/query", "datas", 50, ("modified_begin", "modified_end")),
    "shop": ("/open/shops/query", "datas", 100, None),
    "unique_code": ("/open/webapi/wmsapi/skusn/queryinoutitemskusns", None, 1000,
                    ("create_time_start", "create_time_end")),
}


class MinimalClient:
    def __init__(self, base_url: str, app_key: str, app_secret: str, access_token: str = "") -> None:
        self.base_url, self.app_key, self.app_secret = base_url, app_key, app_secret
        self.access_token = access_token

    def _sign(self, fields: dict) -> str:
        text = self.app_secret + "".join(f"{k}{v}" for k, v in sorted(fields.items()) if k != "sign" and v)
        return hashlib.md5(text.encode("utf-8")).hexdigest()

    def _post(self, path: str, fields: dict) -> dict:
        fields = {"app_key": self.app_key, "timestamp": str(int(time.time())), "charset": "utf-8", **fields}
        fields["sign"] = self._sign(fields)
        for _ in range(20):
            body = httpx.post(self.base_url + path, data=fields, timeout=30).json()
            if body["code"] in (199, 200):  # over the rate limit: back off and retry
                time.sleep(0.3)
                continue
            assert body["code"] == 0, body
            return body["data"]
        raise AssertionError("still throttled")

    def init_token(self) -> None:
        grant = {"grant_type": "authorization_code", "code": "a1b2c3"}
        data = self._post("/openWeb/auth/getInitToken", grant)
        self.access_token = data["access_token"]
        assert data["expires_in"] > 0 and data["refresh_token"]

    def call(self, path: str, biz: dict) -> dict:
        return self._post(path, {"access_token": self.access_token, "version": "2",
                                 "biz": json.dumps(biz, ensure_ascii=False)})

    def read_all(self, dataset: str, begin: str = "", end: str = "") -> list[dict]:
        path, rows_key, page_size, window = DOCUMENTED[dataset]
        biz = {"page_size": page_size}
        if window:
            biz |= {window[0]: begin, window[1]: end}
        rows, page = [], 1
        while True:
            data = self.call(path, biz | {"page_index": page})
            batch = data if rows_key is None else data[rows_key]
            rows += batch
            more = len(batch) == page_size if rows_key is None else data["has_next"]
            if not more:
                return rows
            page += 1

    def read_since(self, path: str, start_ts: int, until_rows: int) -> list[dict]:
        """Row-version cursor: advance start_ts to the last ts seen (inclusive, so dedupe by id)."""
        seen: dict[int, dict] = {}
        while len(seen) < until_rows:
            data = self.call(path, {"start_ts": start_ts, "page_index": 1, "page_size": 50,
                                    "is_get_total": "false"})
            for row in data["datas"]:
                seen[row["io_id"]] = row
            if not data["has_next"]:
                break
            start_ts = max(row["ts"] for row in data["datas"])
        return list(seen.values())


def test_minimal_client_reads_every_endpoint(make_sandbox) -> None:
    server, _ = make_sandbox(per_second=5, per_minute=10_000, orders_per_hour=20.0, skus=300)
    config = server.config
    client = MinimalClient(server.url, config.app_key, config.app_secret)
    client.init_token()
    begin, end = "2026-11-17 00:00:00", "2026-11-20 00:00:00"
    for dataset in ("inventory", "sales_out", "after_sale", "sku", "unique_code"):
        rows = client.read_all(dataset, begin, end)
        assert rows, dataset
    assert len(client.read_all("shop")) == config.shops
    out = client.read_all("sales_out", begin, end)
    assert all(isinstance(row["io_id"], int) and row["items"] for row in out)
    since = client.read_since("/open/orders/out/simple/query", min(r["ts"] for r in out), 120)
    assert len(since) >= 120
