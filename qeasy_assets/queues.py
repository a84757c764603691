"""Where a step may run when Celery spreads the steps of a run over hosts (`jobs/distributed.py`).

DuckDB staging allows one writer and lives in one host's `QEASY_HOME`, so every step that uses it
(the `staging` resource) goes to the `staging` queue, which only that host's worker serves. Every
other step goes to Celery's default queue, `dagster`, which any worker serves. A test holds each
asset to this rule (tests/test_celery.py).
"""

QUEUE_TAG = "dagster-celery/queue"  # dagster_celery.tags.DAGSTER_CELERY_QUEUE_TAG (an optional package)
STAGING_QUEUE = "staging"
DEFAULT_QUEUE = "dagster"  # dagster_celery's task_default_queue
ON_STAGING_HOST = {QUEUE_TAG: STAGING_QUEUE}
