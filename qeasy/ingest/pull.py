"""Pulling one dataset for a set of Beijing days, loss-proof against page drift.

Each day is cut into slices that run concurrently within the shared call budget; how a slice is
read depends on what the endpoint offers (the endpoint table says which):

- a row-version cursor (`ts` / `start_ts`): one window call finds where the slice starts in `ts`
  order (and gives the API's `data_count` for reconciliation); the cursor then walks on in `ts`
  order until rows are modified after the slice. A row edited meanwhile moves to the end of the
  `ts` order, so nothing is skipped.
- only a time window: keyset paging on `modified`. Every call asks for page 1 of the window that
  starts at the last second already read, so no page offset can drift. A second holding more
  rows than a page is paged by index on its own.
- a flat array of immutable rows (unique codes): pages by index until a short page.

A slice that still fails after the client's retries becomes a dead letter; the rest goes on.

A day may also be read only from a given instant on (`since`): the near-real-time pull reads what
changed since the newest row it already staged, and the pull is marked partial so that staging
replaces only the records it read again.
"""

import math
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from qeasy.erp.client import CallStats, ErpClient, ErpGaveUp
from qeasy.erp.endpoints import Endpoint
from qeasy.erp.times import DAY_MS, bj_day, day_start_ms, format_bj
from qeasy.ingest.rows import latest, row_time, version

MAX_PAGES = 100_000  # a walk longer than this is a misbehaving API, not data
PAGES_PER_SLICE = 10  # a slice walks this many pages; more slices keep more calls in flight


@dataclass(frozen=True)
class Slice:
    day: int
    begin: int  # epoch ms, inclusive
    end: int  # epoch ms, inclusive: consecutive slices meet at the same instant


@dataclass
class DeadLetter:
    dataset: str
    day: int
    begin: int
    end: int
    request: dict  # the business parameters of the call that failed (never credentials)
    error: str


@dataclass
class SliceResult:
    slice: Slice
    rows: list[dict] = field(default_factory=list)
    pages: int = 0
    expected: int | None = None  # the API's data_count for the slice, where it reports one
    dead: DeadLetter | None = None


@dataclass(frozen=True)
class Page:
    """One answer, checked: its rows, whether more follow, and the API's count if it gave one."""

    rows: list[dict]
    has_next: bool
    count: int | None


@dataclass
class Plan:
    """How one day is read: in how many slices, what finding that out cost, or why it failed."""

    day: int
    parts: int
    stats: CallStats = field(default_factory=CallStats)
    dead: DeadLetter | None = None
    whole: SliceResult | None = None  # the day, when its first page was all of it


@dataclass
class DayPull:
    """Everything read for one day: rows (deduplicated), counts, reconciliation, dead letters."""

    day: int
    rows: list[dict]
    pages: int
    stats: CallStats
    expected: int | None
    got: int | None
    dead: list[DeadLetter]
    since: int | None = None  # epoch ms: only rows modified from then on were read (a partial day)

    @property
    def reconciled(self) -> bool | None:
        return None if self.expected is None else self.expected == self.got


def slices(days: Iterable[int], parts: int) -> list[Slice]:
    """Each day cut into `parts` equal slices that meet at the same instant."""
    out = []
    for day in days:
        start = day_start_ms(day)
        bounds = [start + DAY_MS * k // parts for k in range(parts + 1)]
        out += [Slice(day, lo, hi) for lo, hi in zip(bounds, bounds[1:], strict=False)]
    return out


class Puller:
    """Reads one endpoint through one client; `pull(days)` returns a DayPull per day."""

    def __init__(self, client: ErpClient, endpoint: Endpoint, concurrency: int = 8,
                 max_slices_per_day: int = 48) -> None:
        self.client = client
        self.endpoint = endpoint
        self.concurrency = concurrency
        self.max_slices = max_slices_per_day

    def pull(self, days: list[int], since: dict[int, int] | None = None) -> list[DayPull]:
        """Read `days`; a day in `since` only from that instant (epoch ms) to its end, in one slice."""
        endpoint = self.endpoint
        since = since or {}
        if endpoint.window_days is None:  # shops: one listing, no window
            return [self._gather(Plan(days[0] if days else 0, 1), self._run([Slice(0, 0, 0)], self._listing))]
        reader: Callable[[Slice, CallStats], SliceResult]
        if endpoint.cursor_param:
            reader = self._cursor
        elif endpoint.has_next:
            reader = self._keyset
        else:
            reader = self._flat
        whole_days = [day for day in days if day not in since]
        plans = [Plan(day, 1) for day in whole_days]
        if reader != self._flat:
            with ThreadPoolExecutor(max_workers=max(1, self.concurrency)) as pool:
                plans = list(pool.map(self._plan, whole_days))
        work = [piece for plan in plans if not plan.dead and not plan.whole
                for piece in slices([plan.day], plan.parts)]
        work += [Slice(day, begin, day_start_ms(day + 1)) for day, begin in since.items() if day in days]
        results = self._run(work, reader)
        results += [(plan.whole, CallStats()) for plan in plans if plan.whole]
        plans += [Plan(day, 1) for day in days if day in since]
        pulls = [self._gather(plan, [r for r in results if r[0].slice.day == plan.day]) for plan in plans]
        for pull in pulls:
            pull.since = since.get(pull.day)
        return sorted(pulls, key=lambda pull: pull.day)

    def _plan(self, day: int) -> Plan:
        """The first page of the day's window: if it is the only one, the day is read; otherwise
        the API's count decides how many slices keep enough calls in flight to use the budget
        (one per PAGES_PER_SLICE pages). If even this call fails, the whole day is one dead
        letter rather than many."""
        plan, whole = Plan(day, 1), Slice(day, day_start_ms(day), day_start_ms(day + 1))
        size = self.endpoint.page_size_max
        biz = self._window(whole.begin, whole.end) | {"page_index": 1, "page_size": size}
        try:
            page = self._page(biz, plan.stats)
        except ErpGaveUp as exc:
            plan.dead = DeadLetter(self.endpoint.dataset, day, whole.begin, whole.end, biz, str(exc))
            return plan
        if not page.has_next:  # a quiet day: one call read it all
            plan.whole = SliceResult(whole, rows=page.rows, pages=1, expected=page.count)
            return plan
        wanted = math.ceil((page.count or 0) / size / PAGES_PER_SLICE)
        plan.parts = max(1, min(self.max_slices, self._useful_slices(), wanted))
        return plan

    def _useful_slices(self) -> int:
        """More slices than the budget can keep busy only add part pages at their ends. A call
        takes well under half a second, so the calls the budget allows in half a second keep it
        busy; three times that covers slices that end early (a day's rhythm makes them uneven)."""
        budget = self.client.budget
        per_second = min(budget.per_second, budget.per_minute / 60)
        return 3 * max(2, math.ceil(per_second * 0.5))

    def _run(self, work: list[Slice], reader) -> list[tuple[SliceResult, CallStats]]:
        def one(piece: Slice) -> tuple[SliceResult, CallStats]:
            stats = CallStats()
            return reader(piece, stats), stats

        with ThreadPoolExecutor(max_workers=max(1, self.concurrency)) as pool:
            return list(pool.map(one, work))

    def _gather(self, plan: Plan, results: list[tuple[SliceResult, CallStats]]) -> DayPull:
        """Merge a day's slices: keep rows whose own time falls on the day, latest version each."""
        endpoint, stats, day = self.endpoint, CallStats(), plan.day
        rows: list[dict] = []
        expected, got = 0, 0
        dead = [plan.dead] if plan.dead else []
        counted = bool(results) and all(r.expected is not None for r, _ in results)
        stats.merge(plan.stats)
        for result, slice_stats in results:
            stats.merge(slice_stats)
            rows += result.rows
            if result.dead:
                dead.append(result.dead)
            if counted:
                s = result.slice
                # Times without milliseconds read as the start of their second, so the slice's
                # end second counts as outside, as the API counts it for all but exact .000 rows.
                in_slice = [r for r in result.rows if s.begin <= (row_time(endpoint, r) or -1) < s.end]
                expected += result.expected
                got += len(latest(endpoint, in_slice))
        pages = sum(r.pages for r, _ in results)
        if endpoint.window_days is not None:
            # A row read for this day but modified on another belongs to that day's partition;
            # a row with an unreadable time stays here (cleansing flags it).
            rows = [r for r in rows if (t := row_time(endpoint, r)) is None or bj_day(t) == day]
        unique = list(latest(endpoint, rows).values())
        return DayPull(day, unique, pages, stats, expected if counted else None,
                       got if counted else None, dead)

    # ---- readers -------------------------------------------------------------------------
    def _window(self, begin: int, end: int) -> dict:
        first, last = self.endpoint.window_params
        return {first: format_bj(begin), last: format_bj(end)}

    def _page(self, biz: dict, stats: CallStats, result: SliceResult | None = None) -> Page:
        """One call, its answer checked for shape: anything malformed is a failed call."""
        data = self.client.call(self.endpoint.path, biz, stats)
        if result is not None:
            result.pages += 1
        key = self.endpoint.rows_key
        rows = data if key is None else data.get(key) if isinstance(data, dict) else None
        if rows is None and isinstance(data, dict) and key is not None:
            rows = []  # an empty page may leave the rows key out
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise ErpGaveUp(f"{self.endpoint.path}: malformed answer (rows are not a list of objects)")
        count = data.get("data_count") if isinstance(data, dict) else None
        try:
            count = None if count in (None, "") else int(float(count))
        except (TypeError, ValueError) as exc:
            raise ErpGaveUp(f"{self.endpoint.path}: malformed data_count {count!r}") from exc
        more = data.get("has_next") if isinstance(data, dict) else None
        has_next = str(more).lower() in ("true", "1") if more is not None else False
        if not rows:
            has_next = False  # an empty page ends any walk, whatever it says
        return Page(rows, has_next, count)

    def _guarded(self, piece: Slice, stats: CallStats, body) -> SliceResult:
        """Run a reader body; a call that gives up becomes the slice's dead letter."""
        result = SliceResult(piece)
        request: dict = {}
        try:
            body(result, request)
        except ErpGaveUp as exc:
            result.dead = DeadLetter(self.endpoint.dataset, piece.day, piece.begin, piece.end,
                                     dict(request), str(exc))
        return result

    def _sorted_check(self, rows: list[dict]) -> None:
        """Window pages must come by modification time: the readers rely on it to never skip."""
        seconds = [(row_time(self.endpoint, r) or 0) // 1000 for r in rows]
        if any(later < earlier for earlier, later in zip(seconds, seconds[1:], strict=False)):
            raise ErpGaveUp(f"{self.endpoint.path}: window rows are not sorted by modification time")

    def _cursor(self, piece: Slice, stats: CallStats) -> SliceResult:
        endpoint = self.endpoint
        size = endpoint.page_size_max

        def body(result: SliceResult, request: dict) -> None:
            # A window probe: the API's count for the slice, and its first page of rows.
            request.update(self._window(piece.begin, piece.end) | {"page_index": 1, "page_size": size})
            probe = self._page(request, stats, result)
            result.expected = probe.count
            result.rows += probe.rows
            if not probe.has_next:
                return
            self._sorted_check(probe.rows)
            # Window rows come by (second, id) while `ts` follows the exact time. Every row not yet
            # seen is in the probe's last second or later, so the highest `ts` of an earlier
            # second is a safe start. A probe all in one second: read that second whole first.
            last = (row_time(endpoint, probe.rows[-1]) or piece.begin) // 1000
            earlier = [version(endpoint, r) for r in probe.rows
                       if (t := row_time(endpoint, r)) is not None and t // 1000 < last]
            if not earlier:
                crowded = self._whole_second(last * 1000, stats, result, request)
                earlier = [version(endpoint, r) for r in crowded] or [min(version(endpoint, r)
                                                                         for r in probe.rows)]
            start, page_index = max(earlier), 1
            for _ in range(MAX_PAGES):
                request.clear()
                request.update({endpoint.cursor_param: start, "page_index": page_index, "page_size": size,
                                "is_get_total": "false"})
                page = self._page(request, stats, result)
                inside = [r for r in page.rows if (row_time(endpoint, r) or piece.begin) <= piece.end]
                result.rows += inside
                if len(inside) < len(page.rows) or not page.has_next:
                    return
                top = max(version(endpoint, r) for r in page.rows)
                start, page_index = (start, page_index + 1) if top <= start else (top, 1)
            raise ErpGaveUp(f"{endpoint.path}: more than {MAX_PAGES} pages in one slice")

        return self._guarded(piece, stats, body)

    def _whole_second(self, second: int, stats: CallStats, result: SliceResult, request: dict) -> list[dict]:
        """Every row of one second, paged by index (a one-second window barely drifts)."""
        size, rows = self.endpoint.page_size_max, []
        for page_index in range(1, MAX_PAGES):
            request.clear()
            request.update(self._window(second, second + 1000) | {"page_index": page_index,
                                                                  "page_size": size})
            page = self._page(request, stats, result)
            rows += page.rows
            if not page.has_next:
                result.rows += rows
                return rows
        raise ErpGaveUp(f"{self.endpoint.path}: more than {MAX_PAGES} pages in one second")

    def _keyset(self, piece: Slice, stats: CallStats) -> SliceResult:
        endpoint = self.endpoint
        size = endpoint.page_size_max

        def body(result: SliceResult, request: dict) -> None:
            low = piece.begin
            for _ in range(MAX_PAGES):
                request.clear()
                request.update(self._window(low, piece.end) | {"page_index": 1, "page_size": size})
                page = self._page(request, stats, result)
                if result.expected is None:
                    result.expected = page.count
                result.rows += page.rows
                if not page.has_next:
                    return
                self._sorted_check(page.rows)
                last_second = (row_time(endpoint, page.rows[-1]) or low) // 1000 * 1000
                if last_second > low:
                    low = last_second
                    continue
                # More rows than a page share one second: read that second alone, then go on.
                self._whole_second(low, stats, result, request)
                low += 1000
            raise ErpGaveUp(f"{endpoint.path}: more than {MAX_PAGES} pages in one slice")

        return self._guarded(piece, stats, body)

    def _paged(self, piece: Slice, stats: CallStats, window: bool) -> SliceResult:
        """Pages by index: the flat array of unique codes (immutable rows, a short page ends it)
        and the shop list (no window)."""
        size = self.endpoint.page_size_max

        def body(result: SliceResult, request: dict) -> None:
            for page_index in range(1, MAX_PAGES):
                request.clear()
                request.update((self._window(piece.begin, piece.end) if window else {})
                               | {"page_index": page_index, "page_size": size})
                page = self._page(request, stats, result)
                result.rows += page.rows
                done = not page.has_next if self.endpoint.has_next else len(page.rows) < size
                if done:
                    return
            raise ErpGaveUp(f"{self.endpoint.path}: more than {MAX_PAGES} pages")

        return self._guarded(piece, stats, body)

    def _flat(self, piece: Slice, stats: CallStats) -> SliceResult:
        return self._paged(piece, stats, window=True)

    def _listing(self, piece: Slice, stats: CallStats) -> SliceResult:
        return self._paged(piece, stats, window=False)
