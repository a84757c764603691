"""Reading a run's events for people: the cause of a failure, and whether a failed check blocked."""

import dagster as dg
from dagster._utils.error import SerializableErrorInfo  # the errors of step failures


def cause(error: SerializableErrorInfo) -> str:
    """The innermost message of an error chain: the cause a person can act on, on one line."""
    while error.cause is not None:
        error = error.cause
    return " ".join(error.message.split()) or error.cls_name or "an error"


def blocked(evaluation: dg.AssetCheckEvaluation) -> bool:
    """A failed check that stops the steps downstream of its asset, as Dagster decides it."""
    return (not evaluation.passed and evaluation.blocking
            and evaluation.severity == dg.AssetCheckSeverity.ERROR)
