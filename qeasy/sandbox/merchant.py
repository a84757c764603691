"""The simulated merchant: which record versions a query sees at a moment, and the ground truth.

Datasets built from orders live in day buckets generated on first use (bounded cache); SKUs,
stock and shops are small tables. Query results are cached until the next event of any record
they could contain, so paging through a window costs one computation, not one per page.
"""

import threading
from collections import OrderedDict
from collections.abc import Iterable
from datetime import date

import numpy as np

from qeasy.erp.times import bj_day, day_of_date, day_start_ms
from qeasy.sandbox.catalog import Catalog
from qeasy.sandbox.clock import SimClock
from qeasy.sandbox.config import SandboxConfig
from qeasy.sandbox.orders import (
    AS_BASE,
    AS_CANCELLED,
    AS_CONFIRMED,
    IDS_PER_DAY,
    IO_BASE,
    LIFETIME_DAYS,
    NEVER,
    O_BASE,
    OUT_STATUS,
    OrderDay,
)
from qeasy.sandbox.records import Renderer, version_ts

DAY_DATASETS = ("sales_out", "after_sale", "unique_code")
CATALOG_DATASETS = ("sku", "inventory")
# Unique-code flows are immutable stock movements: nothing edits them after they happen.
TOUCHABLE = ("sales_out", "after_sale") + CATALOG_DATASETS
STATUS_DATASETS = ("sales_out", "after_sale")  # the only datasets with a status filter
SIMULATED = DAY_DATASETS + CATALOG_DATASETS + ("shop",)  # others need rows in their declaration
MAX_CACHED_DAYS = 64
MAX_CACHED_QUERIES = 256


class UnknownRecord(LookupError):
    """A key that names no record of the dataset."""


class Merchant:
    """Answers window, cursor and id queries over the simulated merchant at a moment `now`."""

    def __init__(self, config: SandboxConfig, clock: SimClock) -> None:
        self.config = config
        self.clock = clock
        self.epoch_day = day_of_date(date.fromisoformat(config.epoch))
        self.catalog = Catalog(config, day_start_ms(self.epoch_day))
        self.renderer = Renderer(config, self.catalog)
        self._lock = threading.RLock()
        self._days: OrderedDict[int, OrderDay] = OrderedDict()
        self._states: dict[tuple, tuple] = {}
        self._queries: OrderedDict[tuple, tuple] = OrderedDict()
        self._touches: dict[str, dict[int, int]] = {name: {} for name in TOUCHABLE}
        self._generation = 0  # bumped by every touch: cached answers become stale

    # ---- buckets -------------------------------------------------------------------------
    def order_day(self, day: int) -> OrderDay:
        with self._lock:
            bucket = self._days.get(day)
            if bucket is None:
                bucket = OrderDay(self.config, self.catalog, day)
                self._days[day] = bucket
                if len(self._days) > MAX_CACHED_DAYS:
                    old, _ = self._days.popitem(last=False)
                    for key in [k for k in self._states if k[1] == old]:
                        del self._states[key]
            else:
                self._days.move_to_end(day)
            return bucket

    def _scopes(self, dataset: str, begin: int, end: int, now: int) -> Iterable[int | None]:
        if dataset not in DAY_DATASETS:
            return [None]
        first = max(self.epoch_day, bj_day(begin) - LIFETIME_DAYS)
        return range(first, min(bj_day(end), bj_day(now)) + 1)

    # ---- vectorised state ----------------------------------------------------------------
    def _state(self, dataset: str, scope: int | None, now: int) -> tuple[tuple[np.ndarray, ...], int]:
        """((keys, modified, alt_time, status) of the records visible at `now`, until when it holds).

        The validity comes back with the state: another thread may replace the cached entry with
        one computed for a later moment, whose validity says nothing about this `now`.
        """
        cache_key = (dataset, scope)
        with self._lock:
            hit = self._states.get(cache_key)
        if hit and hit[0] <= now < hit[1]:
            return hit[2], hit[1]
        state, until = self._compute_state(dataset, scope, now)
        with self._lock:
            self._states[cache_key] = (now, until, state)
        return state, until

    def _compute_state(self, dataset: str, scope: int | None, now: int):
        cat = self.catalog
        if dataset == "sku":
            mod = cat.sku_modified(now)
            keys = np.arange(cat.size)
            visible = (mod >= 0) & ~cat.hidden
            return (keys[visible], mod[visible], mod[visible], None), cat.sku_next_change(now)
        if dataset == "inventory":
            mod = cat.stock_modified(now)
            keys = np.arange(cat.size)
            visible = mod >= 0
            return (keys[visible], mod[visible], mod[visible], None), cat.stock_next_change(now)
        day = self.order_day(scope)
        if dataset == "unique_code":
            when = day.flows()[0]
            visible = when <= now
            keys = day.id_offset + np.flatnonzero(visible)
            return (keys, when[visible], when[visible], None), _next(when, now)
        events = day.out_events if dataset == "sales_out" else day.as_events
        mod = np.where(events <= now, events, -1).max(axis=0)
        visible = mod >= 0
        if dataset == "sales_out":
            keys = day.out_keys()
            status = np.where(day.bad_status, -2, day.out_status(now))
            alt = day.io_date(now)
        else:
            keys = day.as_keys()
            done = day.as_done <= now
            status = np.where(done, day.as_fate + 1, 0)
            status = np.where(day.as_bad_status, -2, status)
            alt = mod
        state = (keys[visible], mod[visible], alt[visible], status[visible])
        return state, _next(events, now)

    # ---- queries -------------------------------------------------------------------------
    def window(self, dataset: str, begin: int, end: int, now: int, by_io_date: bool = False,
               status: str | None = None) -> np.ndarray:
        """Keys of the records whose time (modified, or io_date) lies in [begin, end], sorted."""
        query = (dataset, begin, end, by_io_date, status)
        with self._lock:
            hit = self._queries.get(query)
            generation = self._generation
        if hit and hit[0] <= now < hit[1] and hit[2] == generation:
            return hit[3]
        scopes = list(self._scopes(dataset, begin, end, now))
        keys, times = [], []
        code = self._status_code(dataset, status)
        until = NEVER
        for scope in scopes:
            (k, mod, alt, st), valid = self._state(dataset, scope, now)
            until = min(until, valid)
            when = alt if by_io_date else mod
            pick = (when >= begin) & (when <= end)
            if code is not None:
                pick &= st == code
            keys.append(k[pick])
            times.append(when[pick])
        keys_a, times_a = _concat(keys), _concat(times)
        if not by_io_date:
            keys_a, times_a = self._overlay(dataset, keys_a, times_a, now, begin, end, code)
        result = keys_a[np.lexsort((keys_a, times_a // 1000))]  # (time to the second, id)
        if dataset in DAY_DATASETS and (not scopes or bj_day(end) > bj_day(now)):
            # Days not scanned yet get their first orders when they begin: the answer holds at most
            # until the next day starts.
            until = min(until, day_start_ms(bj_day(now) + 1))
        with self._lock:
            self._queries[query] = (now, until, generation, result)
            if len(self._queries) > MAX_CACHED_QUERIES:
                self._queries.popitem(last=False)
        return result

    def cursor(self, dataset: str, start_ts: int, now: int, need: int) -> np.ndarray:
        """Keys of records with `ts >= start_ts`, sorted by ts: at least `need` unless fewer exist."""
        start_ms = max(start_ts // 1000, day_start_ms(self.epoch_day))
        today = bj_day(now)
        if dataset in DAY_DATASETS:
            scopes = range(max(self.epoch_day, bj_day(start_ms) - LIFETIME_DAYS), today + 1)
        else:
            scopes = [None]
        # Touched records count with their touched version, whichever day they were created on,
        # before any early stop: a row touched to a later time no longer fills this page.
        touched = self._touched(dataset, now)
        touched_keys = np.array(list(touched), dtype=np.int64)
        t_keys, t_mods = self._touched_versions(dataset, touched, now, start_ms, NEVER, None)
        t_ts = version_ts(t_mods, t_keys)
        keys, tss = t_keys[t_ts >= start_ts], t_ts[t_ts >= start_ts]
        boundary = NEVER
        for scope in scopes:
            (k, mod, _, _), _ = self._state(dataset, scope, now)
            ts = version_ts(mod, k)
            pick = (ts >= start_ts) & ~np.isin(k, touched_keys)
            keys, tss = np.concatenate([keys, k[pick]]), np.concatenate([tss, ts[pick]])
            if scope is not None and scope < today:
                # Orders created after this day cannot have been modified before it ends.
                boundary = day_start_ms(scope + 1) * 1000
                if np.count_nonzero(tss < boundary) >= need:
                    break
                boundary = NEVER
        final = tss < boundary
        keys, tss = keys[final], tss[final]
        return keys[np.lexsort((keys, tss))]

    def lookup(self, dataset: str, param: str, values: list, now: int) -> np.ndarray:
        """Keys of the records named by an id list (hidden SKUs included), sorted by (modified, key)."""
        found: list[int] = []
        for value in values:
            found.extend(self._resolve(dataset, param, value, now))
        known = [k for k in dict.fromkeys(found) if self.modified(dataset, k, now) is not None]
        known.sort(key=lambda k: (self.modified(dataset, k, now), k))
        return np.array(known, dtype=np.int64)

    def shops(self) -> np.ndarray:
        return np.arange(self.config.shops)

    def catalogue(self, now: int) -> np.ndarray:
        """Every SKU that exists at `now`, sorted, hidden ones included: a walk over the whole
        catalogue (吉客云's maxSkuId) is no window query, so they cannot hide from it."""
        return np.flatnonzero(self.catalog.sku_modified(now) >= 0)

    # ---- single records ------------------------------------------------------------------
    def locate(self, dataset: str, key: int, now: int) -> tuple[OrderDay, int]:
        base = {"sales_out": IO_BASE, "after_sale": AS_BASE, "unique_code": 0}[dataset]
        created, index = divmod(key - base, IDS_PER_DAY)
        if not self._past_day(created, now):
            raise UnknownRecord(f"{dataset} has no record {key}")
        day = self.order_day(created)
        if dataset == "after_sale":
            k = int(np.searchsorted(day.as_order, index))
            if k >= len(day.as_order) or day.as_order[k] != index:
                raise UnknownRecord(f"after_sale has no record {key}")
            return day, k
        size = len(day.flows()[0]) if dataset == "unique_code" else day.n
        if index >= size:
            raise UnknownRecord(f"{dataset} has no record {key}")
        return day, index

    def modified(self, dataset: str, key: int, now: int) -> int | None:
        """The record's modification time at `now`, touches included; None if not visible."""
        cat = self.catalog
        if dataset == "sku":
            base = int(cat.sku_modified(now, key)) if 0 <= key < cat.size else -1
        elif dataset == "inventory":
            base = int(cat.stock_modified(now, key)) if 0 <= key < cat.size else -1
        else:
            try:
                day, i = self.locate(dataset, key, now)
            except UnknownRecord:
                return None
            if dataset == "unique_code":
                base = int(day.flows()[0][i])
                base = base if base <= now else -1
            else:
                events = (day.out_events if dataset == "sales_out" else day.as_events)[:, i]
                past = events[events <= now]
                base = int(past.max()) if len(past) else -1
        if base < 0:
            return None
        touched = self._touches.get(dataset, {}).get(key)
        return max(base, touched) if touched is not None and touched <= now else base

    def render(self, dataset: str, key: int, now: int) -> dict:
        """The API row of the record's version at `now`."""
        if dataset == "shop":
            return self.renderer.shop(int(key))
        modified = self.modified(dataset, int(key), now)
        if modified is None:
            raise UnknownRecord(f"{dataset} record {key} is not visible at this time")
        if dataset == "sku":
            return self.renderer.sku(int(key), modified)
        if dataset == "inventory":
            return self.renderer.inventory(int(key), int(self.catalog.stock_tick(now, key)), modified)
        day, i = self.locate(dataset, int(key), now)
        if dataset == "sales_out":
            return self.renderer.sales_out(day, i, now, modified)
        if dataset == "after_sale":
            return self.renderer.after_sale(day, i, now, modified)
        return self.renderer.flow(day, i)

    def touch(self, dataset: str, key: int, now: int) -> None:
        """Modify a record now (its `modified` and `ts` move to `now`), as an ERP user edit would."""
        if not self.can_touch(dataset):
            raise UnknownRecord(f"{dataset} records cannot be touched")
        if self.modified(dataset, key, now) is None:
            raise UnknownRecord(f"{dataset} has no visible record {key}")
        with self._lock:
            touches = self._touches[dataset]
            # Calls race on the wall clock: an edit seen late must not move a record back in time.
            touches[key] = max(touches.get(key, now), now)
            self._generation += 1

    @staticmethod
    def can_touch(dataset: str) -> bool:
        """Whether the dataset's records can be modified by `touch` (page drift needs it)."""
        return dataset in TOUCHABLE

    def truth(self, dataset: str, begin: int | None, end: int | None, now: int) -> list[dict]:
        """The latest version of every record whose time lies in [begin, end] (all shops)."""
        keys = self.shops() if dataset == "shop" else self.window(dataset, begin, end, now)
        return [self.render(dataset, int(k), now) for k in keys]

    # ---- helpers -------------------------------------------------------------------------
    def _overlay(self, dataset, keys, mods, now, begin, end, code):
        """Apply touches: a touched record's time is its touch when that is later."""
        touched = self._touched(dataset, now)
        if not touched:
            return keys, mods
        keep = ~np.isin(keys, list(touched))
        add_keys, add_mods = self._touched_versions(dataset, touched, now, begin, end, code)
        return (np.concatenate([keys[keep], add_keys]), np.concatenate([mods[keep], add_mods]))

    def _touched(self, dataset: str, now: int) -> dict[int, int]:
        """The touches in effect at `now`, copied under the lock: `touch` writes concurrently."""
        with self._lock:
            return {k: t for k, t in self._touches.get(dataset, {}).items() if t <= now}

    def _touched_versions(self, dataset: str, touched: Iterable[int], now: int, begin: int, end: int,
                          code: int | None) -> tuple[np.ndarray, np.ndarray]:
        """(keys, modified) of the touched records whose time lies in [begin, end] with status `code`."""
        extra = []
        for key in touched:
            mod = self.modified(dataset, key, now)
            if mod is not None and begin <= mod <= end and (code is None or self._status_of(
                    dataset, key, now) == code):
                extra.append((key, mod))
        add_keys = np.array([k for k, _ in extra], dtype=np.int64)
        add_mods = np.array([m for _, m in extra], dtype=np.int64)
        return add_keys, add_mods

    def _past_day(self, day: int, now: int) -> bool:
        """Whether an id's day names a day from the epoch to today: other days hold no records,
        and building one far in the future would overflow (or just waste a bucket)."""
        return self.epoch_day <= day <= bj_day(now)

    def _status_of(self, dataset: str, key: int, now: int) -> int:
        day, i = self.locate(dataset, key, now)
        if dataset == "sales_out":
            return -2 if day.bad_status[i] else day.out_status_of(i, now)
        if day.as_bad_status[i]:
            return -2
        return int(day.as_fate[i]) + 1 if day.as_done[i] <= now else 0

    @staticmethod
    def _status_code(dataset: str, status: str | None) -> int | None:
        """The status filter's code; None (no filter) where the dataset has no status."""
        if status is None or dataset not in STATUS_DATASETS:
            return None
        if dataset == "sales_out":
            return OUT_STATUS.index(status) if status in OUT_STATUS else -3
        names = {"WaitConfirm": 0, "Confirmed": AS_CONFIRMED + 1, "Cancelled": AS_CANCELLED + 1,
                 "Merged": 3}
        return names.get(status, -3)

    def _resolve(self, dataset: str, param: str, value, now: int) -> list[int]:
        text = str(value).strip()
        if dataset in CATALOG_DATASETS:
            index = Catalog.sku_index(text)
            return [index] if index is not None and index < self.catalog.size else []
        if param == "so_ids":
            text = text[2:] if text.startswith("SO") else ""
        if not (text.isascii() and text.isdigit()):  # "²".isdigit() is true, yet int() refuses it
            return []
        number = int(text)
        if dataset == "sales_out":
            return [number if param == "io_ids" else number - O_BASE + IO_BASE]
        if dataset == "after_sale":
            return [number if param == "as_ids" else number - O_BASE + AS_BASE]
        # unique codes by document: the flows of one order day whose document is `number`
        base = AS_BASE if number >= AS_BASE else IO_BASE
        if param == "o_ids":
            number, base = number - O_BASE + IO_BASE, IO_BASE
        created = (number - base) // IDS_PER_DAY
        if not self._past_day(created, now):
            return []
        day = self.order_day(created)
        flows = day.flows()
        docs = flows[1] if param == "io_ids" else day.out_keys()[day.line_order[flows[2]]]
        return [int(day.id_offset + f) for f in np.flatnonzero(docs == number)]


def _next(events: np.ndarray, now: int) -> int:
    upcoming = events[(events > now) & (events != NEVER)]
    return int(upcoming.min()) if upcoming.size else NEVER


def _concat(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts) if parts else np.empty(0, np.int64)
