"""Prometheus metrics for the pipeline, read at each scrape from where qeasy already records what it
did: ClickHouse's `ops_api_calls` (calls, throttles, retries, errors, rows, last pull per dataset),
DuckDB staging's open dead letters, and Dagster's run history (runs by job and status, failed asset
checks). Nothing is pushed from inside runs, so every process that works on the home (runs from the
UI, the daemon or `qeasy run`) is counted, and an exporter restart loses nothing but the check
counter's early history (it counts the checks of runs that ended from an hour before its start).

A source that cannot be read at a scrape (the embedded warehouse busy past a short wait, staging
being written) leaves its series out of that scrape and says so in `qeasy_source_up`.
"""

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import dagster as dg
import duckdb
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from jobs import jobs
from qeasy.ingest.staging import open_dead_letters
from qeasy.settings import Settings
from qeasy.warehouse.clickhouse import WarehouseError, session

WAIT_SECONDS = 3.0  # for the embedded warehouse: a scrape must answer within Prometheus' timeout
CHECK_LOOKBACK = timedelta(hours=1)  # a near-real-time run ends every 10-60 s: 1 h is hundreds of runs
MARGIN = timedelta(minutes=1)  # run records updated in the same instant may arrive a little late
API_TOTALS = {  # ops_api_calls column -> metric name and help
    "calls": ("qeasy_api_calls", "ERP API calls made, retries included"),
    "throttled": ("qeasy_api_throttled", "ERP answers that throttled (199/200, HTTP 429)"),
    "retries": ("qeasy_api_retries", "ERP calls that were retries of a failed one"),
    "errors": ("qeasy_api_errors", "ERP calls that failed (HTTP errors, timeouts, bad answers)"),
    "rows": ("qeasy_api_rows", "rows read from the ERP"),
}
API_QUERY = (f"SELECT dataset, {', '.join(f'sum({c})' for c in API_TOTALS)}, "
             "dateDiff('millisecond', max(recorded_at), now64(3)) / 1000 FROM ops_api_calls GROUP BY dataset")


class PipelineCollector(Collector):
    """The collector `qeasy metrics` registers; one per exporter process."""

    def __init__(self, settings: Settings, instance: dg.DagsterInstance) -> None:
        self.settings = settings
        self.instance = instance
        self._after = datetime.now(UTC) - CHECK_LOOKBACK  # runs ended after this are yet to count
        self._counted: dict[str, datetime] = {}  # runs counted, by when they were last updated
        self._failed_checks: Counter[tuple[str, str, str]] = Counter()  # (asset, check, severity)

    def describe(self) -> list[Metric]:
        return []  # registering must not read the sources

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("qeasy_source_up", "1 when the source could be read at this scrape",
                               labels=["source"])
        for source, read in (("warehouse", self._api), ("staging", self._dead_letters),
                             ("dagster", self._dagster)):
            try:
                families = list(read())
            except (WarehouseError, duckdb.Error, OSError):
                up.add_metric([source], 0)
                continue
            up.add_metric([source], 1)
            yield from families
        yield up

    def _api(self) -> Iterator[Metric]:
        families = {column: CounterMetricFamily(name, help, labels=["dataset"])
                    for column, (name, help) in API_TOTALS.items()}
        age = GaugeMetricFamily("qeasy_freshness_lag_seconds",
                                "seconds since the dataset was last pulled from the ERP", labels=["dataset"])
        with session(self.settings.clickhouse_dsn, self.settings.clickhouse_database,
                     wait=WAIT_SECONDS, cluster=self.settings.clickhouse_cluster) as client:
            rows = client.query(API_QUERY).result_rows
        for dataset, *values, seconds in rows:
            for family, value in zip(families.values(), values, strict=True):
                family.add_metric([dataset], float(value))
            age.add_metric([dataset], float(seconds))
        yield from families.values()
        yield age

    def _dead_letters(self) -> Iterator[Metric]:
        open_letters = GaugeMetricFamily("qeasy_dead_letters_open",
                                         "days with pages or windows given up on and not yet re-read",
                                         labels=["dataset"])
        path = self.settings.home / "staging.duckdb"
        letters = []
        if path.exists():  # read-only and not waiting: a run writing staging holds the lock
            with duckdb.connect(str(path), read_only=True) as conn:
                letters = open_dead_letters(conn)
        for dataset, count in Counter(dataset for dataset, _, _ in letters).items():
            open_letters.add_metric([dataset], count)
        yield open_letters

    def _dagster(self) -> Iterator[Metric]:
        runs = GaugeMetricFamily("qeasy_runs", "Dagster runs that ended, by job and status",
                                 labels=["dagster_job", "status"])
        for job in jobs:
            for status in ENDED:
                count = self.instance.get_runs_count(dg.RunsFilter(job_name=job.name, statuses=[status]))
                runs.add_metric([job.name, status.value], count)
        yield runs
        self._count_failed_checks()
        checks = CounterMetricFamily("qeasy_check_failures", "failed asset-check evaluations",
                                     labels=["asset", "check", "severity"])
        for (asset, check, severity), count in sorted(self._failed_checks.items()):
            checks.add_metric([asset, check, severity], count)
        yield checks

    def _count_failed_checks(self) -> None:
        """Add the failed checks of the runs that ended since the last scrape (a run is counted once:
        the window re-reads a margin, and the runs in it are remembered until it has moved past)."""
        ended = self.instance.get_run_records(dg.RunsFilter(statuses=ENDED, updated_after=self._after))
        for record in ended:
            run_id = record.dagster_run.run_id
            if run_id in self._counted:
                continue
            self._counted[run_id] = record.update_timestamp
            for entry in self.instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
                check = entry.dagster_event.event_specific_data
                if not check.passed:
                    self._failed_checks[(check.asset_key.to_user_string(), check.check_name,
                                         check.severity.value.lower())] += 1
        if ended:
            self._after = max(r.update_timestamp for r in ended) - MARGIN
            self._counted = {run: at for run, at in self._counted.items() if at >= self._after}


ENDED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]
