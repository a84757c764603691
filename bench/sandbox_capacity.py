"""Sandbox capacity: requests/second the ERP sandbox serves on loopback.

The sandbox runs in its own process (`qeasy sandbox`, limits raised out of the way, clock pinned);
client threads in this process page through a week with keep-alive connections for a fixed time.
Prints one line per request kind. Figures vary with the machine; compare kinds within one run.
"""

import argparse
import threading
import time

import httpx
from common import add_json_option, median, write_json

from qeasy.datasets import ENDPOINTS
from qeasy.erp.request import signed_form
from qeasy.sandbox.config import SandboxConfig
from qeasy.sandbox.process import SandboxProcess

WEEK = {"modified_begin": "2026-11-13 00:00:00", "modified_end": "2026-11-20 00:00:00"}
KINDS = {
    "shop list (10 rows)": ("shop", {}),
    "sales-out page (50 rows)": ("sales_out", WEEK | {"page_size": 50}),
    "inventory page (100 rows)": ("inventory", WEEK | {"page_size": 100}),
    "after-sale page (50 rows)": ("after_sale", WEEK | {"page_size": 50}),
}


def measure(url: str, dataset: str, biz: dict, seconds: float, threads: int) -> tuple[float, int]:
    """(requests per second, failed answers) with `threads` clients paging for `seconds`."""
    config = SandboxConfig()
    path = ENDPOINTS[dataset].path
    counts, failures = [0] * threads, [0] * threads
    deadline = time.monotonic() + seconds

    form = signed_form(config.app_key, config.app_secret, config.access_token, biz)
    pages = max(1, httpx.post(url + path, data=form).json()["data"].get("page_count", 1))

    def client(slot: int) -> None:
        with httpx.Client(base_url=url, timeout=30) as http:
            page = slot * 97  # every request a full page, threads spread over the window
            while time.monotonic() < deadline:
                form = signed_form(config.app_key, config.app_secret, config.access_token,
                                   biz | {"page_index": page % pages + 1})
                if http.post(path, data=form).json()["code"] != 0:
                    failures[slot] += 1
                counts[slot] += 1
                page += 1

    workers = [threading.Thread(target=client, args=(slot,)) for slot in range(threads)]
    started = time.monotonic()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(counts) / (time.monotonic() - started), sum(failures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="measuring time per request kind")
    parser.add_argument("--threads", type=int, default=4, help="concurrent client connections")
    parser.add_argument("--runs", type=int, default=3, help="measurements per request kind (median)")
    add_json_option(parser)
    args = parser.parse_args()
    figures = {}
    with SandboxProcess(clock="2026-11-20 12:00:00", per_second=1_000_000, per_minute=100_000_000) as sandbox:
        url = sandbox.url
        print(f"Sandbox capacity on loopback ({args.threads} client threads, {args.seconds:.0f} s each, "
              f"median of {args.runs})")
        for name, (dataset, biz) in KINDS.items():
            measure(url, dataset, biz, 1.0, 1)  # warm-up: the week's data is generated once
            runs = [measure(url, dataset, biz, args.seconds, args.threads) for _ in range(args.runs)]
            rates = [rate for rate, _ in runs]
            failed = sum(failures for _, failures in runs)
            figures[name] = {"requests_per_s": median(rates), "runs": [round(r) for r in rates],
                             "failed": failed}
            print(f"  {name:<28} {median(rates):8.0f} requests/s   runs {figures[name]['runs']}   "
                  f"non-zero codes: {failed}", flush=True)
    write_json(args.json, figures)


if __name__ == "__main__":
    main()
