"""DWD checks: a blocking contract (pandera schema: types, keys, flags) and warnings on the
anomaly rate and on records accounted for. Failing rows show as a table in the check's metadata."""

import dagster as dg
import polars as pl

from qeasy.cleanse.quality import markdown


def check_specs(key: dg.AssetKey, partitions: dg.PartitionsDefinition) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            "schema",
            asset=key,
            blocking=True,
            partitions_def=partitions,
            description="pandera contract: column types, grain keys present and unique, "
            "is_anomaly set exactly when a reason is.",
        ),
        dg.AssetCheckSpec(
            "anomaly_rate",
            asset=key,
            partitions_def=partitions,
            description="Share of flagged rows stays under the configured rate; examples "
            "with reasons from dq_quarantine.",
        ),
        dg.AssetCheckSpec(
            "accounted",
            asset=key,
            partitions_def=partitions,
            description="Every staged record is cleansed or quarantined: nothing dropped.",
        ),
    ]


def results(
    failures: pl.DataFrame, totals: dict[str, int], quarantine: pl.DataFrame, max_rate: float
) -> list[dg.AssetCheckResult]:
    """Check results from the schema failures, the run's totals and its quarantine entries."""
    rows, anomalies = totals["rows"], totals["anomalies"]
    rate = anomalies / rows if rows else 0.0
    reasons = (
        quarantine.with_columns(
            kind=pl.col("reason").str.replace(r"^line \S+: ", "").str.replace(r" '.*'$| \(.*\)$", "")
        )
        .group_by("kind")
        .len()
        .sort("len", descending=True)
        if quarantine.height
        else quarantine
    )
    return [
        dg.AssetCheckResult(
            check_name="schema",
            passed=not failures.height,
            metadata={"failures": failures.height, "failure_cases": dg.MetadataValue.md(markdown(failures))},
        ),
        dg.AssetCheckResult(
            check_name="anomaly_rate",
            passed=rate <= max_rate,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "anomalous_rows": anomalies,
                "rows": rows,
                "rate": round(rate, 6),
                "max_rate": max_rate,
                "by_reason": dg.MetadataValue.md(
                    markdown(reasons.rename({"len": "entries"}) if reasons.height else reasons)
                ),
                "examples": dg.MetadataValue.md(
                    markdown(quarantine.select("partition_day", "record_key", "reason"))
                ),
            },
        ),
        dg.AssetCheckResult(
            check_name="accounted",
            passed=totals["lost"] == 0,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "records_staged": totals["records"],
                "records_only_in_quarantine": totals["only"],
                "records_unaccounted": totals["lost"],
            },
        ),
    ]
