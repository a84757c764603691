"""Dagster sensors: the near-real-time trigger, metric alerts, alerts on failed runs and failed blocking
checks, dead-letter replay, dead runs failed."""

from sensors.dead_runs import dead_runs
from sensors.failures import failure_alerts
from sensors.metrics import metric_alerts
from sensors.nrt import near_real_time
from sensors.replay import replay_dead_letters

sensors = [near_real_time, metric_alerts, failure_alerts, replay_dead_letters, dead_runs]
