"""Datasets the merchant simulation does not know, served from their declarations' `sandbox` rows.

A declaration gives the record versions whose `time_field` is on a Beijing day, as the API writes
them. As the real API does, a query sees each record once, as its newest version made by the
simulated clock's `now` (a version is made at its version time, or at its `time_field` where the
version is a `ts`), listed in the window of that version's `time_field`, ordered by that time, then
as generated. Paging, counts, the envelope and the faults are the protocol's (sandbox.api, and the
吉客云 gateway's methods).
"""

import copy
import threading
from datetime import date, timedelta

from qeasy.datasets import Dataset
from qeasy.erp.times import bj_day, date_of_day, parse_bj
from qeasy.ingest.rows import record_key, row_time, version


class DeclaredSource:
    """The records of one declared dataset as they stand at a moment, by window."""

    def __init__(self, dataset: Dataset, seed: int, epoch: date) -> None:
        self.dataset, self.seed, self.epoch = dataset, seed, epoch
        self._lock = threading.Lock()
        self._versions: list[tuple[int, int, int, str, dict]] = []  # (time, made, order, key, row)
        self._through = epoch - timedelta(days=1)  # the last day generated

    def _generate(self, last: date) -> None:
        """Add the versions of the days after those generated, through `last`. A version whose time
        cannot be read is dated its day's midnight (the real API would still list it somewhere)."""
        endpoint, order = self.dataset.endpoint, len(self._versions)
        timed = endpoint.version_field not in (None, "ts")  # versions carry the time they were made
        while self._through < last:
            self._through += timedelta(days=1)
            midnight = parse_bj(f"{self._through} 00:00:00")
            for row in self.dataset.sandbox(self._through, self.seed):
                at = row_time(endpoint, row) or midnight
                made = max(at, version(endpoint, row)) if timed else at
                self._versions.append((at, made, order, record_key(endpoint, row), row))
                order += 1

    def window(self, begin: int, end: int, now: int) -> list[dict]:
        """The records whose newest version by `now` (epoch ms) is in [begin, end], copies in API order."""
        with self._lock:
            self._generate(date_of_day(bj_day(now)))
            newest: dict[str, tuple[tuple[int, int], tuple[int, int, dict]]] = {}
            for at, made, order, key, row in self._versions:
                rank = (version(self.dataset.endpoint, row), at)
                if made <= now and (key not in newest or rank >= newest[key][0]):
                    newest[key] = (rank, (at, order, row))
        listed = sorted(item for _, item in newest.values() if begin <= item[0] <= end)
        return [copy.deepcopy(row) for _, _, row in listed]
