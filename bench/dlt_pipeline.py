"""dlt's REST API source pulling Jushuitan sales-out orders into DuckDB: what a dlt user would write.

Runs in the bench venv (`.venv-bench`: dlt and its dependencies, nothing of qeasy), called by
`bench/ingest_vs_dlt.py` as a subprocess. Configured as far as dlt's documentation goes:

- `rest_api` resource(s) on `/open/orders/out/simple/query`, POST, rows at `data.datas`;
- `PageNumberPaginator` on `page_index` from 1, stopping on the API's `has_next` (or an empty page);
- `incremental` on `modified` with `start_param`/`end_param` mapped onto the API's window
  (`modified_begin`/`modified_end`), `initial_value`/`end_value` the day (a bounded backfill);
- a custom auth (`AuthConfigBase` subclass): the API takes everything in a signed form body, so the
  auth moves the query parameters dlt sets (page, window, page size) into the `biz` JSON string,
  adds the system fields and the MD5 signature (jushuitan-api.md);
- retries: dlt's `requests` Client with the runtime settings (`request_max_attempts`,
  `request_backoff_factor`, `request_max_retry_delay`) plus a `retry_condition`, the documented way
  to retry on a body. The API throttles with HTTP 200 and `code` 199/200, which dlt's default
  retries (429/5xx) cannot see: a response action raises on a non-zero code, and the retry
  condition retries that exception when the code is 199/200 (any other code fails the run);
- merge on `io_id`, the highest `ts` kept (`dedup_sort`), into a DuckDB file.

dlt has no client-side rate limiter; none is added. A single resource pages one call after the
other. `--slices N` cuts the day into N windows, one resource each, extracted in parallel by dlt's
extract workers (`extract.workers`, 5 by default): the documented way to get concurrency. In dlt
1.31.0 the rest_api `parallelized: True` flag is silently lost for resources without a parent (the
resource is cloned when rest_api binds its arguments, and the clone restores the generator from
before the parallel wrapper), so the resources are parallelized with `DltResource.parallelize()`
after the source is built, which works.

Writes a JSON summary (`--out`): timings, and every stored record's `io_id` and `ts`.
"""

import argparse
import hashlib
import json
import os
import time
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import dlt
import duckdb
from dlt.common.configuration import configspec, resolve_configuration
from dlt.common.configuration.specs import RuntimeConfiguration
from dlt.common.typing import TSecretStrValue
from dlt.sources.helpers.requests import Client
from dlt.sources.helpers.rest_client.auth import AuthConfigBase
from dlt.sources.helpers.rest_client.paginators import PageNumberPaginator
from dlt.sources.rest_api import rest_api_source
from requests import PreparedRequest, Response

PATH = "/open/orders/out/simple/query"
THROTTLED = {199, 200}
FMT = "%Y-%m-%d %H:%M:%S"


class ErpError(Exception):
    """A business error the API answered with HTTP 200 and a non-zero `code`."""

    def __init__(self, code: int, msg: str) -> None:
        super().__init__(f"ERP code {code}: {msg}")
        self.code = code


@configspec
class JushuitanAuth(AuthConfigBase):
    """Signs a call: query parameters become the `biz` JSON, system fields and `sign` the form body."""

    app_key: str = None
    app_secret: TSecretStrValue = None
    access_token: TSecretStrValue = None

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        url = urlsplit(request.url)
        biz = dict(parse_qsl(url.query, keep_blank_values=True))  # page_index, window, page_size
        form = {"app_key": self.app_key, "access_token": self.access_token,
                "timestamp": str(int(time.time())), "charset": "utf-8", "version": "2",
                "biz": json.dumps(biz, ensure_ascii=False, separators=(",", ":"))}
        text = "".join(f"{k}{v}" for k, v in sorted(form.items()) if v not in (None, ""))
        form["sign"] = hashlib.md5((self.app_secret + text).encode("utf-8")).hexdigest()
        request.prepare_url(urlunsplit(url._replace(query="")), None)
        request.headers.pop("Content-Length", None)
        request.prepare_body(form, None)
        return request


def check_code(response: Response, *args: Any, **kwargs: Any) -> Response:
    """Response action: an answer with a non-zero `code` is an error (dlt sees HTTP 200 only)."""
    if response.status_code == 200:
        body = response.json()
        code = int(body.get("code", 0))
        if code != 0:
            raise ErpError(code, str(body.get("msg", "")))
    return response


def throttled(response: Response | None, exception: BaseException | None) -> bool:
    """Retry condition: the API's throttle codes are worth retrying (with dlt's backoff)."""
    return isinstance(exception, ErpError) and exception.code in THROTTLED


def source(base_url: str, begin: str, end: str, slices: int, auth: JushuitanAuth):
    runtime = resolve_configuration(RuntimeConfiguration())  # RUNTIME__REQUEST_MAX_ATTEMPTS etc.
    session = Client(raise_for_status=False, retry_condition=throttled,
                     request_timeout=runtime.request_timeout,
                     request_max_attempts=runtime.request_max_attempts,
                     request_backoff_factor=runtime.request_backoff_factor,
                     request_max_retry_delay=runtime.request_max_retry_delay).session
    first, last = datetime.strptime(begin, FMT), datetime.strptime(end, FMT)
    bounds = [first + (last - first) * k / slices for k in range(slices + 1)]
    resources = []
    for k, (lo, hi) in enumerate(zip(bounds, bounds[1:], strict=False)):
        lo, hi = lo.replace(microsecond=0), hi.replace(microsecond=0)
        if k == slices - 1:
            hi = last
        resources.append({
            "name": f"sales_out_{k}" if slices > 1 else "sales_out",
            "table_name": "sales_out",
            "endpoint": {
                "path": PATH,
                "method": "POST",
                "params": {"page_size": 50},
                "data_selector": "data.datas",
                "paginator": PageNumberPaginator(base_page=1, page_param="page_index", total_path=None,
                                                 has_more_path="data.has_next"),
                "response_actions": [check_code],
                "incremental": {"cursor_path": "modified", "start_param": "modified_begin",
                                "end_param": "modified_end", "initial_value": lo.strftime(FMT),
                                "end_value": hi.strftime(FMT)},
            },
        })
    src = rest_api_source({
        "client": {"base_url": base_url, "auth": auth, "session": session},
        "resource_defaults": {"primary_key": "io_id", "write_disposition": "merge",
                              "columns": {"ts": {"dedup_sort": "desc"}}},
        "resources": resources,
    })
    if slices > 1:
        for resource in src.resources.values():
            resource.parallelize()  # `"parallelized": True` in the config is lost (see above)
    return src


def stored(path: str) -> tuple[list[list], int]:
    """(io_id, ts) of every stored record (variant columns folded in), and the item-line count."""
    with duckdb.connect(path, read_only=True) as conn:
        names = [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'ods' "
            "AND table_name = 'sales_out'").fetchall()]

        def column(name: str) -> str:
            variants = [c for c in names if c == name or c.startswith(name + "__v_")]
            return f"COALESCE({', '.join(f'CAST({c} AS VARCHAR)' for c in variants)})"

        rows = conn.execute(f"SELECT {column('io_id')}, {column('ts')} FROM ods.sales_out").fetchall()
        items = conn.execute("SELECT count(*) FROM ods.sales_out__items").fetchone()[0]
    return [[r[0], r[1]] for r in rows], items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--begin", required=True, help="yyyy-MM-dd HH:mm:ss, Beijing time")
    parser.add_argument("--end", required=True, help="yyyy-MM-dd HH:mm:ss (exclusive for dlt)")
    parser.add_argument("--slices", type=int, default=1)
    parser.add_argument("--workdir", required=True, help="pipelines dir and the DuckDB file go here")
    parser.add_argument("--out", required=True, help="JSON summary")
    args = parser.parse_args()
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")  # no traffic but to the sandbox
    os.environ.setdefault("RUNTIME__REQUEST_MAX_ATTEMPTS", "8")  # qeasy retries 8 times too
    os.environ.setdefault("RUNTIME__REQUEST_BACKOFF_FACTOR", "1")  # 1, 2, 4, ... s
    os.environ.setdefault("RUNTIME__REQUEST_MAX_RETRY_DELAY", "60")  # a 200 waits out the minute
    auth = JushuitanAuth(app_key=os.environ["JST_APP_KEY"], app_secret=os.environ["JST_APP_SECRET"],
                         access_token=os.environ["JST_ACCESS_TOKEN"])
    database = os.path.join(args.workdir, "dlt.duckdb")
    pipeline = dlt.pipeline(pipeline_name="jst_sales_out", pipelines_dir=args.workdir,
                            destination=dlt.destinations.duckdb(database), dataset_name="ods")
    started = time.monotonic()
    pipeline.run(source(args.base_url, args.begin, args.end, args.slices, auth))
    seconds = time.monotonic() - started
    steps = {step.step: (step.finished_at - step.started_at).total_seconds()
             for step in pipeline.last_trace.steps if step.finished_at and step.step != "run"}
    rows, items = stored(database)
    summary = {"dlt_version": dlt.__version__, "seconds": seconds, "steps": steps, "items": items,
               "rows": rows}
    with open(args.out, "w") as out:
        json.dump(summary, out)


if __name__ == "__main__":
    main()
