"""One Beijing day of sales-out orders, their after-sales and unique-code flows, with life cycles.

Everything about an order is drawn when its creation day is first needed: its lines and every
future event (confirmation, cancellation, a dropped line, an after-sale days later). The version
served at a moment is the one after the last event at or before that moment, so the same seed and
clock always give the same rows, and moving the clock makes records change as in a real ERP.
"""

import numpy as np

from qeasy.erp.times import DAY_MS, day_start_ms
from qeasy.sandbox.catalog import HOUR_MS, Catalog
from qeasy.sandbox.config import SandboxConfig
from qeasy.sandbox.randomness import generator
from qeasy.sandbox.regions import PROVINCES, WEIGHTS

NEVER = np.iinfo(np.int64).max
LIFETIME_DAYS = 16  # every event of an order happens within this many days of its creation day
# An id is its kind's base + the creation day's index (days since 1970-01-01) x IDS_PER_DAY + a
# serial, so it names its day whatever the first day of history: the same order keeps its id when
# the first day moves. Bases 10^12 apart hold 100,000 days per kind (to 2243); ids stay int64.
IDS_PER_DAY = 10_000_000
O_BASE, IO_BASE, AS_BASE = 1_000_000_000_000, 2_000_000_000_000, 3_000_000_000_000
# Sales rhythm over a Beijing day (relative weights per hour): quiet nights, lunch and evening peaks.
DAILY_RHYTHM = np.array([0.5, 0.3, 0.2, 0.15, 0.1, 0.1, 0.2, 0.4, 0.7, 1.0, 1.2, 1.2,
                         1.1, 1.0, 1.0, 1.0, 1.0, 1.0, 1.1, 1.3, 1.6, 1.9, 1.7, 1.0])
AS_TYPES = ["普通退货", "仅退款", "拒收退货", "换货", "补发", "其它", "投诉", "维修"]
AS_TYPE_P = [0.50, 0.25, 0.08, 0.07, 0.04, 0.03, 0.02, 0.01]
REFUND_TYPES = {0, 1, 2, 5, 6}  # types whose confirmation pays money back
RETURN_TYPES = {0, 2}  # types whose goods come back to the warehouse
AS_CONFIRMED, AS_CANCELLED, AS_MERGED = 0, 1, 2

# Sales-out status codes, in the order a life cycle can move through them.
WAIT, OUTER, CONFIRMED, CANCELLED, DELETED = range(5)
OUT_STATUS = ["WaitConfirm", "OuterConfirming", "Confirmed", "Cancelled", "Delete"]


def _exp_ms(rng: np.random.Generator, mean_ms: float, cap_ms: float, n: int) -> np.ndarray:
    return np.minimum(rng.exponential(mean_ms, n), cap_ms).astype(np.int64)


class OrderDay:
    """Orders created on one Beijing day (index `day`) and everything that follows from them."""

    def __init__(self, config: SandboxConfig, catalog: Catalog, day: int) -> None:
        self.day = day
        self.id_offset = day * IDS_PER_DAY  # part of every id: the day the record was created
        rng = generator(config.seed, 2, day)
        start = day_start_ms(day)
        rhythm = np.ones(24) if config.profile == "peak" else DAILY_RHYTHM / DAILY_RHYTHM.mean()
        n = int(rng.poisson(config.orders_per_hour * 24))
        hours = rng.choice(24, n, p=rhythm / rhythm.sum())
        created = np.sort(start + hours * HOUR_MS + rng.integers(0, HOUR_MS, n))
        self.n = n
        self.created = created
        self.shop = rng.choice(len(catalog.shop_weights), n, p=catalog.shop_weights)
        self.wms = rng.integers(0, 3, n)
        self.freight = rng.choice([0.0, 0.0, 6.0, 10.0], n)

        # Lines: flattened, `line_start[i]` is order i's first line.
        n_lines = rng.choice([1, 2, 3, 4], n, p=[0.55, 0.25, 0.12, 0.08])
        self.n_lines = n_lines
        self.line_start = np.concatenate([[0], np.cumsum(n_lines)[:-1]]).astype(np.int64)
        self.line_order = np.repeat(np.arange(n), n_lines)
        total = int(n_lines.sum())
        self.line_sku = rng.choice(catalog.size, total, p=catalog.popularity)
        ghost = rng.random(total) < config.dirty.ghost_sku
        self.line_sku = np.where(ghost, -1 - rng.integers(1, 10_000, total), self.line_sku)
        self.line_qty = rng.choice([1, 2, 3, 5], total, p=[0.7, 0.2, 0.08, 0.02])
        negative = rng.random(total) < config.dirty.negative_qty
        self.line_qty = np.where(negative, -self.line_qty, self.line_qty)
        self.line_gift = rng.random(total) < 0.05
        self.line_no_key = rng.random(total) < config.dirty.missing_key
        self.line_list_price = price = np.where(ghost, 99.0, catalog.base_price[np.maximum(self.line_sku, 0)])
        discount = rng.choice([1.0, 0.9, 0.8], total, p=[0.6, 0.3, 0.1])
        self.line_price = np.where(self.line_gift, 0.0, np.round(price * discount, 2))

        # The buyer's address and payment, from a stream of their own: the draws above stay as they were.
        buyers = generator(config.seed, 3, day)
        self.province = buyers.choice(len(PROVINCES), n, p=WEIGHTS)
        self.city = buyers.random(n)
        self.t_pay = created + 5_000 + _exp_ms(buyers, 2 * 60_000, 9 * 60_000, n)  # before confirmation

        # Life cycle of each order.
        fate = rng.random(n)
        to_confirm = created + 10 * 60_000 + _exp_ms(rng, 2 * HOUR_MS, 20 * HOUR_MS, n)
        self.t_cancel = np.where(fate < 0.04, created + _exp_ms(rng, 0.5 * HOUR_MS, 6 * HOUR_MS, n),
                                 NEVER)
        self.t_delete = np.where((fate >= 0.04) & (fate < 0.06),
                                 created + _exp_ms(rng, HOUR_MS, 6 * HOUR_MS, n), NEVER)
        confirmed = fate >= 0.06
        self.t_confirm = np.where(confirmed, to_confirm, NEVER)
        self.t_outer = np.where(confirmed & (rng.random(n) < 0.1), (created + to_confirm) // 2, NEVER)
        late = rng.uniform(DAY_MS, 5 * DAY_MS, n).astype(np.int64)
        self.t_late_cancel = np.where(confirmed & (rng.random(n) < 0.01), to_confirm + late, NEVER)
        settled = np.minimum(np.minimum(self.t_cancel, self.t_delete), self.t_confirm)
        drop_at = created + ((settled - created) * rng.random(n)).astype(np.int64)
        self.t_drop = np.where((n_lines >= 2) & (rng.random(n) < 0.03), drop_at, NEVER)
        self.bad_status = rng.random(n) < config.dirty.unknown_status
        self._status_events = ((OUTER, self.t_outer), (CONFIRMED, self.t_confirm),
                               (CANCELLED, self.t_cancel), (DELETED, self.t_delete),
                               (CANCELLED, self.t_late_cancel))
        self.out_events = np.stack([created, self.t_outer, self.t_confirm, self.t_cancel,
                                    self.t_delete, self.t_late_cancel, self.t_drop])

        # After-sales for a few percent of confirmed orders, days later.
        has_as = confirmed & (rng.random(n) < 0.04)
        self.as_order = np.flatnonzero(has_as)
        m = len(self.as_order)
        base = to_confirm[self.as_order]
        self.as_created = base + rng.uniform(DAY_MS, 7 * DAY_MS, m).astype(np.int64)
        self.as_type = rng.choice(len(AS_TYPES), m, p=AS_TYPE_P)
        self.as_fate = rng.choice(3, m, p=[0.85, 0.10, 0.05])
        span = np.select([self.as_fate == AS_CONFIRMED, self.as_fate == AS_CANCELLED],
                         [rng.uniform(0.5, 6, m), rng.uniform(0.1, 3, m)], rng.uniform(0.1, 1, m))
        self.as_done = self.as_created + (span * DAY_MS).astype(np.int64)
        returns = np.isin(self.as_type, list(RETURN_TYPES))
        self.as_received = np.where(returns, (self.as_created + self.as_done) // 2, NEVER)
        self.as_lines = 1 + (rng.random(m) * n_lines[self.as_order]).astype(np.int64)
        self.as_bad_status = rng.random(m) < config.dirty.unknown_status
        self.as_events = np.stack([self.as_created, self.as_received, self.as_done])
        self._flows: tuple[np.ndarray, ...] | None = None
        self._line_rows: list[tuple] | None = None
        self._serial = catalog.serial

    def line(self, index: int) -> tuple[int, int, float, bool, bool]:
        """(sku index, qty, price, is_gift, sku_id missing) of one line, as Python values."""
        if self._line_rows is None:  # built once: numpy scalar access is slow per row
            self._line_rows = list(zip(self.line_sku.tolist(), self.line_qty.tolist(),
                                       self.line_price.tolist(), self.line_gift.tolist(),
                                       self.line_no_key.tolist(), strict=True))
        return self._line_rows[index]

    # ---- ids -----------------------------------------------------------------------------
    def io_id(self, i: int) -> int:
        return IO_BASE + self.id_offset + i

    def o_id(self, i: int) -> int:
        return O_BASE + self.id_offset + i

    def as_id(self, k: int) -> int:
        return AS_BASE + self.id_offset + int(self.as_order[k])

    def out_keys(self) -> np.ndarray:
        return IO_BASE + self.id_offset + np.arange(self.n, dtype=np.int64)

    def as_keys(self) -> np.ndarray:
        return AS_BASE + self.id_offset + self.as_order.astype(np.int64)

    # ---- state at a moment ---------------------------------------------------------------
    def out_status(self, now: int) -> np.ndarray:
        """Status code of every order at `now` (-1 where not yet created)."""
        status = np.where(self.created <= now, WAIT, -1)
        for code, times in self._status_events:
            status = np.where(times <= now, code, status)
        return status

    def out_status_of(self, i: int, now: int) -> int:
        """Status code of order `i` at `now` (the last status event at or before it)."""
        status = WAIT
        for code, times in self._status_events:
            if times[i] <= now:
                status = code
        return status

    def io_date(self, now: int) -> np.ndarray:
        return np.where(self.t_confirm <= now, self.t_confirm, self.created)

    def flows(self) -> tuple[np.ndarray, ...]:
        """Unique-code rows: (create_ms, io_id, line, unit, inout_type), sorted by time.

        Each unit of a serial-tracked SKU leaves on confirmation (type 3, 销售出仓) and comes back
        when a return after-sale is confirmed (type 4, 销售退货, under the after-sale's id).
        """
        if self._flows is None:
            line_order = self.line_order
            sku = self.line_sku
            tracked = (sku >= 0) & self._serial[np.maximum(sku, 0)] & (self.line_qty > 0)
            out_lines = np.flatnonzero(tracked & (self.t_confirm[line_order] != NEVER))
            parts = [self._units(out_lines, self.t_confirm[line_order[out_lines]],
                                 self.out_keys()[line_order[out_lines]], 3)]
            line_as = np.full(self.n, -1)
            line_as[self.as_order] = np.arange(len(self.as_order))
            k = line_as[line_order]
            within = (k >= 0) & (np.arange(len(sku)) - self.line_start[line_order]
                                 < np.where(k >= 0, self.as_lines[np.maximum(k, 0)], 0))
            ok = within & tracked
            ok[ok] &= np.isin(self.as_type[k[ok]], list(RETURN_TYPES)) & (
                self.as_fate[k[ok]] == AS_CONFIRMED)
            back = np.flatnonzero(ok)
            parts.append(self._units(back, self.as_done[k[back]], self.as_keys()[k[back]], 4))
            merged = [np.concatenate(column) for column in zip(*parts, strict=True)]
            order = np.lexsort((merged[3], merged[2], merged[1], merged[0]))
            self._flows = tuple(column[order] for column in merged)
        return self._flows

    def _units(self, lines: np.ndarray, when: np.ndarray, doc: np.ndarray, kind: int):
        qty = self.line_qty[lines]
        repeat = np.repeat(np.arange(len(lines)), qty)
        unit_no = np.arange(len(repeat)) - np.repeat(np.cumsum(qty) - qty, qty) + 1
        return (when[repeat], doc[repeat], lines[repeat], unit_no,
                np.full(len(repeat), kind, dtype=np.int64))
