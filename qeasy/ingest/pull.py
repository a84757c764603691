"""Pulling one dataset for a set of Beijing days, loss-proof against page drift, in few calls.

Consecutive whole days are read together in windows as long as the API allows (7 days, 30 for
unique codes). Each window starts with one probe: page 1 of the window at the largest page size.
A quiet window is read by that one call. A busy window is cut into time slices that run
concurrently within the shared call budget (the API's count, or an estimate from the probe, says
how many keep the budget busy); the probe is the first page of the first slice, never thrown away.
A window too big to hold in memory is split into groups of days, each read and staged in turn.

How a slice is read depends on what the endpoint offers (its declaration says which):

- a row-version cursor (`ts` / `start_ts`): a window call finds where the slice starts in `ts`
  order; the cursor then walks on in `ts` order until rows are modified after the slice. A row
  edited meanwhile moves to the end of the `ts` order, so nothing is skipped.
- only a time window: keyset paging on `modified`. Every call asks for page 1 of the window that
  starts at the last second already read, so no page offset can drift. A second holding more
  rows than a page is paged by index on its own.
- a flat array of immutable rows (unique codes): pages by index until a short page.
- a server cursor (吉客云 `scrollId`): each slice scrolls its own window to a short page, each answer
  naming the next page's cursor.
- a list without window read by an id cursor (吉客云 `maxQuantityId`): the rows after the largest
  id seen, until a short page.
- a window on a time that never moves (吉客云 allocations: creation) over records that still change:
  a day is the versions made on it, read from the windows of the days that may hold them.

Paging parameter names, the first page's index and fixed parameters are the endpoint's.

A call that still fails after the client's retries becomes a dead letter for every day its
window covers; the rest goes on.

A day may also be read only from a given instant on (`since`): the near-real-time pull reads what
changed since the newest row it already staged, as a window that starts there (so a backlog after
a pause is sliced like any busy window), and the pull is marked partial so that staging replaces
only the records it read again.
"""

import math
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from qeasy.erp.client import CallStats, ErpGaveUp, HttpClient
from qeasy.erp.endpoints import Endpoint
from qeasy.erp.times import DAY_MS, bj_day, day_start_ms, format_bj
from qeasy.ingest.rows import combined, latest, row_time, version

MAX_PAGES = 100_000  # a walk longer than this is a misbehaving API, not data
PAGES_PER_SLICE = 10  # a slice walks about this many pages; more slices keep more calls in flight
REVISIT_GROUP_DAYS = 30  # days of a revisited dataset read and staged together
ROWS_PER_PULL = 150_000  # rows held in memory at once: a bigger window is read in groups of days


@dataclass(frozen=True)
class Slice:
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
    dead: DeadLetter | None = None


@dataclass(frozen=True)
class Page:
    """One answer, checked: its rows, whether more follow, and the API's count if it gave one."""

    rows: list[dict]
    has_next: bool
    count: int | None
    cursor: str | None = None  # the server cursor that reads on (a scroll)


@dataclass
class Plan:
    """How one window of consecutive days is read: its probe, in how many slices, or why it failed."""

    days: list[int]
    since: int | None = None  # epoch ms: the window starts here, not at midnight (a partial day)
    stats: CallStats = field(default_factory=CallStats)
    probe: Page | None = None  # page 1 of the whole window: the first page of its first slice
    parts: int = 1
    pages: int = 0  # pages the probe(s) read
    estimate: int = 0  # rows in the window: the API's count, or a guess from the probe
    horizon: int | None = None  # epoch ms: where the rows are expected to end (today: about now)
    dead: DeadLetter | None = None

    @property
    def begin(self) -> int:
        return day_start_ms(self.days[0]) if self.since is None else self.since

    @property
    def end(self) -> int:
        return day_start_ms(self.days[-1] + 1)


@dataclass
class DayPull:
    """Everything read for one day: rows (deduplicated), counts, reconciliation, dead letters.

    Days read in one window share its calls: the window's calls, pages and API count are on its
    first day, and `window` says which window read the day.
    """

    day: int
    rows: list[dict]
    pages: int
    stats: CallStats
    expected: int | None
    got: int | None
    dead: list[DeadLetter]
    window: tuple[int, int] | None = None  # epoch ms: the window this day was read in (default: the day)
    since: int | None = None  # epoch ms: only rows modified from then on were read (a partial day)

    def __post_init__(self) -> None:
        if self.window is None:
            self.window = (day_start_ms(self.day), day_start_ms(self.day + 1))

    @property
    def reconciled(self) -> bool | None:
        return None if self.expected is None else self.expected == self.got


def windows(days: Iterable[int], longest: int) -> list[list[int]]:
    """Runs of consecutive days, each at most `longest` days long."""
    out: list[list[int]] = []
    for day in sorted(set(days)):
        if out and out[-1][-1] == day - 1 and len(out[-1]) < longest:
            out[-1].append(day)
        else:
            out.append([day])
    return out


def slices(begin: int, end: int, parts: int) -> list[Slice]:
    """[begin, end] cut into `parts` equal slices that meet at the same instant."""
    bounds = [begin + (end - begin) * k // parts for k in range(parts + 1)]
    return [Slice(lo, hi) for lo, hi in zip(bounds, bounds[1:], strict=False)]


class Puller:
    """Reads one endpoint through one client; `pull(days)` returns a DayPull per day."""

    def __init__(self, client: HttpClient, endpoint: Endpoint, concurrency: int = 8,
                 max_slices: int = 48) -> None:
        self.client = client
        self.endpoint = endpoint
        self.concurrency = concurrency
        self.max_slices = max_slices

    def pull(self, days: list[int], since: dict[int, int] | None = None) -> list[DayPull]:
        """Read `days`; a day in `since` only from that instant (epoch ms) to its end."""
        return sorted((pull for group in self.groups(days, since) for pull in group),
                      key=lambda pull: pull.day)

    def groups(self, days: list[int], since: dict[int, int] | None = None) -> Iterator[list[DayPull]]:
        """The days read group by group (a window, or part of a big one), to be staged in turn."""
        if self.endpoint.window_days is None:  # one listing, no window: the shops, or dated rows
            plan = Plan(sorted(set(days)) if self.endpoint.dated and days else [days[0] if days else 0])
            [(result, stats)] = self._run([(Slice(0, 0), None)], self._listing)
            yield self._gather(plan, [(result, stats)])
            return
        if self.endpoint.revisit_days:  # a month at a time: a long backfill stages as it goes
            for run in windows(days, REVISIT_GROUP_DAYS):
                yield self._revisited(run)
            return
        since = {day: begin for day, begin in (since or {}).items() if day in days}
        for day, begin in since.items():  # read like a window, from the instant on: a busy one is sliced
            yield from self._read_window([day], since=begin)
        for run in windows([day for day in days if day not in since], self.endpoint.window_days):
            yield from self._read_window(run)

    def _revisited(self, days: list[int]) -> list[DayPull]:
        """Days of an API whose window selects on a time that never moves (creation) while records
        still change: each day is the versions made on it (their version time), read from the
        windows of the `revisit_days` days before it and its own. A window given up on is a dead
        letter of every day its records may have changed on."""
        endpoint, wanted = self.endpoint, sorted(set(days))
        read = sorted({d - back for d in wanted for back in range(endpoint.revisit_days + 1)})
        pulls = [pull for run in windows(read, endpoint.window_days) for group in self._read_window(run)
                 for pull in group]
        stats, rows = CallStats(), []
        for pull in pulls:
            stats.merge(pull.stats)
            rows += pull.rows
        by_day: dict[int, list[dict]] = {day: [] for day in wanted}
        for row in rows:
            made = version(endpoint, row)
            day = bj_day(made) if made >= 0 else wanted[0]  # an unreadable version time: flagged later
            if day in by_day:
                by_day[day].append(row)
        pages = sum(pull.pages for pull in pulls)
        return [DayPull(day, list(latest(endpoint, by_day[day]).values()), pages if k == 0 else 0,
                        stats if k == 0 else CallStats(), None, None,
                        [replace(letter, day=day) for pull in pulls for letter in pull.dead
                         if 0 <= day - pull.day <= endpoint.revisit_days])
                for k, day in enumerate(wanted)]

    def _read_window(self, days: list[int], spent: Plan | None = None,
                     since: int | None = None) -> Iterator[list[DayPull]]:
        plan = self._plan(days, since)
        if spent:  # the probe of the window this group was split from
            plan.stats.merge(spent.stats)
            plan.pages += spent.pages
        if plan.dead is None and len(days) > 1 and plan.estimate > ROWS_PER_PULL:
            # Too many rows to hold at once: read the window in groups of days, each probed anew;
            # this probe's call is counted with the first group.
            per_group = max(1, ROWS_PER_PULL * len(days) // plan.estimate)
            for first in range(0, len(days), per_group):
                yield from self._read_window(days[first:first + per_group], plan if first == 0 else None)
            return
        results = []
        if plan.dead is None:
            horizon = plan.horizon or plan.end
            pieces = slices(plan.begin, horizon, plan.parts) + ([Slice(horizon, plan.end)]
                                                                 if horizon < plan.end else [])
            # A scroll cursor belongs to its window: the probe starts the walk only of a window read
            # as one slice.
            reuse = not self.endpoint.scroll or len(pieces) == 1
            work = [(piece, plan.probe if k == 0 and reuse else None) for k, piece in enumerate(pieces)]
            results = self._run(work, self._reader())
        yield self._gather(plan, results)

    def _reader(self) -> Callable[[Slice, CallStats, Page | None], SliceResult]:
        if self.endpoint.cursor_param:
            return self._cursor
        if self.endpoint.scroll:
            return self._scroll
        return self._flat if self.endpoint.immutable else self._keyset

    def _plan(self, days: list[int], since: int | None = None) -> Plan:
        """The probe: page 1 of the window. If more follow, the API's count (or, without one, the
        probe's span of time) decides how many slices keep enough calls in flight to use the
        budget (one per PAGES_PER_SLICE pages). If even this call fails, the whole window is a dead
        letter rather than many."""
        plan = Plan(days, since)
        size = self.endpoint.page_size_max
        biz = self._window_biz(plan.begin, plan.end) | self.endpoint.paging(1, size) | self._scrolled("")
        try:
            plan.probe = page = self._page(biz, plan.stats)
            plan.pages += 1
        except ErpGaveUp as exc:
            plan.dead = DeadLetter(self.endpoint.dataset, days[0], plan.begin, plan.end, biz, str(exc))
            return plan
        plan.estimate = len(page.rows)
        if page.has_next:
            last = max(row_time(self.endpoint, r) or plan.begin for r in page.rows)
            reach, seen = max(last - plan.begin, 1000), len(page.rows)  # the probe's span of time
            plan.estimate = page.count or seen * (plan.end - plan.begin) // reach
            plan.horizon = self._horizon(plan, reach * plan.estimate * 5 // (4 * seen))
            wanted = math.ceil(plan.estimate / size / PAGES_PER_SLICE)
            plan.parts = max(1, min(self.max_slices, self._useful_slices(), wanted))
        return plan

    @staticmethod
    def _horizon(plan: Plan, expected_reach: int) -> int:
        """Where a window's rows are expected to end. Rows of today (or of a backlog since an
        instant today) end about now, not at midnight: equal slices up to midnight would leave them
        all to the first slice. So today's slices cover the time up to now (the probe's rows
        extrapolated to the API's count, a quarter more for safety, when that reaches further, as
        on an ERP whose clock runs ahead), and one more slice the rest of the window. A past
        window is sliced whole: its rhythm (a midnight spike on 双11) would mislead the guess."""
        now = int(time.time() * 1000)
        if plan.end <= now:
            return plan.end
        return min(plan.end, max(now + 5 * 60_000, plan.begin + 1000 + expected_reach))

    def _useful_slices(self) -> int:
        """More slices than the budget can keep busy only add part pages at their ends. A call
        takes well under half a second, so the calls the budget allows in half a second keep it
        busy; three times that covers slices that end early (a day's rhythm makes them uneven)."""
        budget = self.client.budget_for(self.endpoint.path)
        per_second = min(budget.per_second, budget.per_minute / 60)
        return min(3 * max(2, math.ceil(per_second * 0.5)), 2 * max(1, self.concurrency))

    def _run(self, work: list[tuple[Slice, Page | None]], reader) -> list[tuple[SliceResult, CallStats]]:
        def one(item: tuple[Slice, Page | None]) -> tuple[SliceResult, CallStats]:
            stats = CallStats()
            return reader(item[0], stats, item[1]), stats

        with ThreadPoolExecutor(max_workers=max(1, self.concurrency)) as pool:
            return list(pool.map(one, work))

    def _gather(self, plan: Plan, results: list[tuple[SliceResult, CallStats]]) -> list[DayPull]:
        """Merge a window's slices into its days: each row on the day of its own time, latest
        version each; a dead letter on every day its window covers; reconciliation over the window
        (the probe's count against the rows read)."""
        endpoint, stats = self.endpoint, CallStats()
        windowed = endpoint.window_days is not None
        dated = windowed or endpoint.dated  # rows are filed on the day of their own time
        window = (plan.begin, plan.end) if windowed else None
        expected = plan.probe.count if plan.probe else None
        rows: list[dict] = []
        dead = [plan.dead] if plan.dead else []
        stats.merge(plan.stats)
        for result, slice_stats in results:
            stats.merge(slice_stats)
            rows += result.rows
            if result.dead:
                dead.append(result.dead)
        got = None
        if expected is not None and window and not dead:
            # Times without milliseconds read as the start of their second, so the window's end
            # second counts as outside, as the API counts it for all but exact .000 rows.
            begin, end = window
            got = len(latest(endpoint, [r for r in rows if begin <= (row_time(endpoint, r) or -1) < end]))
        pages = sum(r.pages for r, _ in results) + plan.pages
        if endpoint.part_key:  # one row per record, whatever day its parts were modified on
            rows = combined(endpoint, rows)
        by_day: dict[int, list[dict]] = {day: [] for day in plan.days}
        for row in rows:
            # A row read here but modified on another day belongs to that day's partition (read by
            # its own window); a row with an unreadable time stays on the first day (cleansing flags it).
            t = row_time(endpoint, row) if dated else None
            day = plan.days[0] if t is None else bj_day(t)
            if day in by_day:
                by_day[day].append(row)
        out = []
        for k, day in enumerate(plan.days):
            first = k == 0
            begin, end = day_start_ms(day), day_start_ms(day + 1)
            letters = [replace(d, day=day) for d in dead
                       if not windowed or d.begin < end and d.end > begin]
            out.append(DayPull(day, list(latest(endpoint, by_day[day]).values()),
                               pages if first else 0, stats if first else CallStats(),
                               expected if first and not dead else None, got if first else None,
                               letters, window, plan.since))
        return out

    # ---- readers -------------------------------------------------------------------------
    def _window_biz(self, begin: int, end: int) -> dict:
        first, last = self.endpoint.window_params
        biz = {first: format_bj(begin), last: format_bj(end)}
        if self.endpoint.archive:
            name, value, days = self.endpoint.archive
            if end < time.time() * 1000 - days * DAY_MS:
                biz[name] = value
        return biz

    def _page(self, biz: dict, stats: CallStats, result: SliceResult | None = None) -> Page:
        """One call, its answer checked for shape: anything malformed is a failed call."""
        data = self.client.call(self.endpoint.path, {**self.endpoint.fixed, **biz}, stats)
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
        if self.endpoint.has_next:
            more = data.get("has_next") if isinstance(data, dict) else None
            has_next = str(more).lower() in ("true", "1") if more is not None else False
        else:  # a flat array: a full page may have more behind it
            has_next = len(rows) >= int(biz[self.endpoint.page_params[1]])
        if not rows:
            has_next = False  # an empty page ends any walk, whatever it says
        cursor = None
        if self.endpoint.scroll:
            cursor = data.get(self.endpoint.scroll[1]) if isinstance(data, dict) else None
            if has_next and not isinstance(cursor, str | int):
                raise ErpGaveUp(f"{self.endpoint.path}: a full page without a {self.endpoint.scroll[1]}")
        return Page(rows, has_next, count, None if cursor is None else str(cursor))

    def _scrolled(self, cursor: str) -> dict:
        """The server cursor parameter of a call (none for an API without one)."""
        return {self.endpoint.scroll[0]: cursor} if self.endpoint.scroll else {}

    def _guarded(self, piece: Slice, stats: CallStats, body) -> SliceResult:
        """Run a reader body; a call that gives up becomes the slice's dead letter."""
        result = SliceResult(piece)
        request: dict = {}
        try:
            body(result, request)
        except ErpGaveUp as exc:
            result.dead = DeadLetter(self.endpoint.dataset, 0, piece.begin, piece.end, dict(request),
                                     str(exc))
        return result

    def _sorted_check(self, rows: list[dict]) -> None:
        """Window pages must come by modification time: the readers rely on it to never skip."""
        seconds = [(row_time(self.endpoint, r) or 0) // 1000 for r in rows]
        if any(later < earlier for earlier, later in zip(seconds, seconds[1:], strict=False)):
            raise ErpGaveUp(f"{self.endpoint.path}: window rows are not sorted by modification time")

    def _opening(self, piece: Slice, first: Page | None, request: dict, stats: CallStats,
                 result: SliceResult) -> tuple[Page, bool]:
        """The slice's first page, and whether nothing of the slice follows it.

        `first` is the window's probe when the slice starts the window: its rows up to the slice's
        end are the slice's first page, and a row past the end means the slice is all in it."""
        page = first
        if page is None:
            request.update(self._window_biz(piece.begin, piece.end) | self.endpoint.paging(1))
            page = self._page(request, stats, result)
        if page.has_next:
            self._sorted_check(page.rows)
        inside = [r for r in page.rows if (row_time(self.endpoint, r) or piece.begin) <= piece.end]
        result.rows += inside
        return Page(inside, page.has_next, page.count), not page.has_next or len(inside) < len(page.rows)

    def _cursor(self, piece: Slice, stats: CallStats, first: Page | None = None) -> SliceResult:
        endpoint = self.endpoint
        size = endpoint.page_size_max

        def body(result: SliceResult, request: dict) -> None:
            probe, complete = self._opening(piece, first, request, stats, result)
            if complete:
                return
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
                request.update({endpoint.cursor_param: start, **endpoint.paging(page_index, size),
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
            request.update(self._window_biz(second, second + 1000) | self.endpoint.paging(page_index, size))
            page = self._page(request, stats, result)
            rows += page.rows
            if not page.has_next:
                result.rows += rows
                return rows
        raise ErpGaveUp(f"{self.endpoint.path}: more than {MAX_PAGES} pages in one second")

    def _keyset(self, piece: Slice, stats: CallStats, first: Page | None = None) -> SliceResult:
        endpoint = self.endpoint
        size = endpoint.page_size_max

        def body(result: SliceResult, request: dict) -> None:
            page, complete = self._opening(piece, first, request, stats, result)
            low = piece.begin
            for _ in range(MAX_PAGES):
                if complete:
                    return
                last_second = (row_time(endpoint, page.rows[-1]) or low) // 1000 * 1000
                if last_second > low:
                    low = last_second
                else:  # more rows than a page share one second: read that second alone, then go on
                    self._whole_second(low, stats, result, request)
                    low += 1000
                    if low > piece.end:
                        return
                request.clear()
                request.update(self._window_biz(low, piece.end) | endpoint.paging(1, size))
                page = self._page(request, stats, result)
                if page.has_next:
                    self._sorted_check(page.rows)
                result.rows += page.rows
                complete = not page.has_next
            raise ErpGaveUp(f"{endpoint.path}: more than {MAX_PAGES} pages in one slice")

        return self._guarded(piece, stats, body)

    def _paged(self, piece: Slice, stats: CallStats, first: Page | None, window: bool) -> SliceResult:
        """Pages by index: the flat array of unique codes (immutable rows, a short page ends it)
        and the shop list (no window)."""
        size = self.endpoint.page_size_max

        def body(result: SliceResult, request: dict) -> None:
            complete, page_index = False, 1
            if window:
                _, complete = self._opening(piece, first, request, stats, result)
                page_index = 2
            while not complete:
                if page_index > MAX_PAGES:
                    raise ErpGaveUp(f"{self.endpoint.path}: more than {MAX_PAGES} pages")
                request.clear()
                request.update((self._window_biz(piece.begin, piece.end) if window else {})
                               | self.endpoint.paging(page_index, size))
                page = self._page(request, stats, result)
                result.rows += page.rows
                complete, page_index = not page.has_next, page_index + 1

        return self._guarded(piece, stats, body)

    def _flat(self, piece: Slice, stats: CallStats, first: Page | None = None) -> SliceResult:
        return self._paged(piece, stats, first, window=True)

    def _listing(self, piece: Slice, stats: CallStats, first: Page | None = None) -> SliceResult:
        return self._id_walk(piece, stats) if self.endpoint.id_cursor else \
            self._paged(piece, stats, first, window=False)

    def _scroll(self, piece: Slice, stats: CallStats, first: Page | None = None) -> SliceResult:
        """A server cursor over the slice's own window, to a short page: each answer names the next
        page's cursor (`first`, the window's probe, is the first page of a window read whole). No row
        order is assumed; a cursor that stops moving gives up."""
        endpoint = self.endpoint

        def body(result: SliceResult, request: dict) -> None:
            def read(cursor: str) -> Page:
                request.clear()
                request.update(self._window_biz(piece.begin, piece.end) | endpoint.paging(1)
                               | self._scrolled(cursor))
                return self._page(request, stats, result)

            page, seen = first or read(""), {""}
            while True:
                result.rows += [r for r in page.rows
                                if piece.begin <= (row_time(endpoint, r) or piece.begin) <= piece.end]
                if not page.has_next:
                    return
                if not page.cursor or page.cursor in seen or len(seen) > MAX_PAGES:
                    raise ErpGaveUp(f"{endpoint.path}: the {endpoint.scroll[1]} stopped moving")
                seen.add(page.cursor)
                page = read(page.cursor)

        return self._guarded(piece, stats, body)

    def _id_walk(self, piece: Slice, stats: CallStats) -> SliceResult:
        """A list without window read by an id cursor: each call asks for the rows after the largest
        id seen so far (rows need not come sorted), until a short page."""
        param, name = self.endpoint.id_cursor

        def body(result: SliceResult, request: dict) -> None:
            last = 0
            for _ in range(MAX_PAGES):
                request.clear()
                request.update({param: last} | self.endpoint.paging(1))
                page = self._page(request, stats, result)
                result.rows += page.rows
                ids = [_whole(row.get(name)) for row in page.rows]
                if not page.has_next:
                    return
                if None in ids or max(ids) <= last:
                    raise ErpGaveUp(f"{self.endpoint.path}: a full page whose {name}s do not move the "
                                    f"cursor past {last}")
                last = max(ids)
            raise ErpGaveUp(f"{self.endpoint.path}: more than {MAX_PAGES} pages")

        return self._guarded(piece, stats, body)


def _whole(value: object) -> int | None:
    """An integer id (a JSON number or a string of digits), None otherwise."""
    try:
        return int(str(value))
    except ValueError:
        return None
