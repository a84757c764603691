"""Dagster sensors: metric alerts, alerts on failed runs and failed blocking checks, dead-letter replay."""

from sensors.failures import failure_alerts
from sensors.metrics import metric_alerts
from sensors.replay import replay_dead_letters

sensors = [metric_alerts, failure_alerts, replay_dead_letters]
