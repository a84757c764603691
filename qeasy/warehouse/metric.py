"""What a metric is, as data: `Metric`, one declaration per ADS table (the built-in ones are
`qeasy.warehouse.ads.METRICS`)."""

from dataclasses import dataclass
from datetime import date, timedelta

WINDOW_DAYS = 7


@dataclass(frozen=True, kw_only=True)
class Metric:
    """One ADS table, declared once: what it is, how it is computed, what it reads, and which days a
    change recomputes (every layer reads this: the refresh, the assets, the summary)."""

    table: str
    description: str  # one line for the UI
    sql: str | None  # the rows of the metric days `{days}`; None: computed by its own module
    grain: str
    reads: tuple[str, ...]  # the tables it is computed from (its asset's upstream)
    days: tuple[str, ...] = ()  # datasets whose changed business days it recomputes
    windowed: tuple[str, ...] = ()  # datasets whose changed days it recomputes with the 6 after each
    kinds: frozenset[str] = frozenset({"clickhouse"})
    # (name, ClickHouse type, comment) of its table, made from them (qeasy.warehouse.declared);
    # empty: the table is a migration's (the built-in metrics).
    columns: tuple[tuple[str, str, str], ...] = ()

    def changed(self, pending: dict[str, set[date]]) -> set[date]:
        """The metric days to recompute for the datasets' changed business days `pending`."""
        def of(datasets: tuple[str, ...]) -> set[date]:
            return set().union(*(pending.get(name, set()) for name in datasets))
        return of(self.days) | window(of(self.windowed))


def window(days: set[date]) -> set[date]:
    """The days whose 7-day windows contain one of `days`."""
    return {day + timedelta(days=k) for day in days for k in range(WINDOW_DAYS)}
