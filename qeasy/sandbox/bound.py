"""The fewest calls a correct client needs to read a range of days, from the sandbox's ground truth.

Per dataset, the range is cut into the longest windows the API allows (7 days, 30 for unique
codes), each read at the largest page size: ceil(records / page size) calls, and at least one,
which is also what proves a window empty. The shop list is one listing. Nothing else is counted:
no probe, no token call (a configured token needs none), and no retry, since a fault costs every
client the same call again. Records are the latest versions the ERP holds when asked, so rows a
client had to read before page drift moved them out of the range make the bound lower, not higher.
"""

import math

import httpx

from qeasy.datasets import JUSHUITAN
from qeasy.erp.times import day_start_ms, format_bj


def records(url: str, dataset: str, begin: int | None = None, end: int | None = None) -> int:
    """How many records the sandbox at `url` holds for a dataset in [begin, end] (epoch ms)."""
    body: dict = {"dataset": dataset, "count_only": True}
    if begin is not None and end is not None:
        body |= {"begin": format_bj(begin), "end": format_bj(end)}
    answer = httpx.post(f"{url}/__sandbox/truth", json=body, timeout=60)
    answer.raise_for_status()
    return int(answer.json()["count"])


def fewest_calls(url: str, first_day: int, last_day: int) -> dict[str, int]:
    """Per dataset: the calls a minimal correct client makes for days first_day..last_day."""
    days = list(range(first_day, last_day + 1))
    out = {}
    for dataset, endpoint in ((name, d.endpoint) for name, d in JUSHUITAN.items()):
        size = endpoint.page_size_max
        if endpoint.window_days is None:
            out[dataset] = max(1, math.ceil(records(url, dataset) / size))
            continue
        spans = [days[k:k + endpoint.window_days] for k in range(0, len(days), endpoint.window_days)]
        out[dataset] = sum(max(1, math.ceil(records(url, dataset, day_start_ms(span[0]),
                                                    day_start_ms(span[-1] + 1)) / size))
                           for span in spans)
    return out
