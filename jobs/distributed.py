"""Steps spread over hosts: Dagster's Celery executor (dagster-celery, in `qeasy[prod]`), on when
QEASY_CELERY_BROKER names a RabbitMQ (or Redis) broker.

Every job without an executor of its own (`main`, `shops`, `ingest`) then sends each step to a
Celery queue as `qeasy_assets.queues` routes it: steps that use DuckDB staging to the worker of the
staging host, the others to any worker. `nrt` keeps running in one process: its runs last seconds
and the 60-second freshness target has no room for a broker round trip per step; `push` is one step.

Workers run `dagster-celery worker start -A dagster_celery.app -y deploy/celery.yaml -q <queues>`;
deploy/celery.yaml must say what `CONFIG_SOURCE` says (a test holds them equal).
"""

import dagster as dg

from qeasy.settings import Settings, SettingsError

CONFIG_SOURCE = {
    # A step's message is acknowledged when the step has ended, so a worker killed mid-step leaves
    # it with the broker, which hands it to the next worker that serves the queue (RabbitMQ: as soon
    # as the dead worker's connection drops); the step then runs again from its start.
    "task_acks_late": True,
    "task_reject_on_worker_lost": True,  # the same when only the worker's pool process is killed
    "worker_prefetch_multiplier": 1,  # a worker holds no more steps than it is running
}


def celery_config(settings: Settings) -> dict:
    """The executor's config: broker and backend by environment variable (they may hold passwords,
    which Dagster then never shows), and the settings every worker shares."""
    rpc = settings.celery_backend == "rpc://"
    backend = settings.celery_backend if rpc else {"env": "QEASY_CELERY_BACKEND"}
    return {"broker": {"env": "QEASY_CELERY_BROKER"}, "backend": backend, "config_source": CONFIG_SOURCE}


def executor(settings: Settings) -> dg.ExecutorDefinition | None:
    """The Celery executor when a broker is configured; None keeps Dagster's default (a process per
    step, on the host of the run)."""
    if not settings.celery_broker:
        return None
    try:
        from dagster_celery import celery_executor
    except ImportError as exc:
        raise SettingsError("QEASY_CELERY_BROKER is set but dagster-celery is not installed: "
                            "pip install -c constraints.txt '.[prod]'") from exc
    return celery_executor.configured(celery_config(settings), name="celery")
