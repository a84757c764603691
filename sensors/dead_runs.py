"""Dead runs failed: a run whose process is gone (kill -9, out of memory) would stay STARTED for
ever and, holding the one staging-writer slot of the run queue, keep every later run queued."""

import dagster as dg

from qeasy.dead_runs import fail_dead_runs


@dg.sensor(minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Marks failed the runs whose process no longer exists, so that the run queue "
           "and the near-real-time trigger go on without them.")
def dead_runs(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    failed = fail_dead_runs(context.instance)
    return dg.SkipReason(f"marked failed (process gone): {', '.join(failed)}" if failed else "no dead runs")
