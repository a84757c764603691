"""pandera contracts of the DWD rows, built from the dataset shapes, and readable failure reports."""

import pandera.polars as pa
import polars as pl
from pandera.errors import SchemaError, SchemaErrors

from qeasy.cleanse.fields import DTYPES, GRAIN
from qeasy.cleanse.shapes import Shape


def _flag_matches_reason(data: pa.PolarsData) -> pl.LazyFrame:
    return data.lazyframe.select((pl.col("is_anomaly") == 1) == (pl.col("anomaly_reason") != ""))


def dwd_schema(shape: Shape) -> pa.DataFrameSchema:
    """Types of every column, grain keys present and unique per staged day, flags consistent."""
    columns = {
        "partition_day": pa.Column(pl.Date),
        "record_key": pa.Column(pl.String),
        **{f.out: pa.Column(DTYPES[f.kind], nullable=f.kind not in GRAIN) for f in shape.fields},
        "is_anomaly": pa.Column(pl.UInt8, pa.Check.isin([0, 1])),
        "anomaly_reason": pa.Column(pl.String),
    }
    if shape.status:
        columns["status_label"] = pa.Column(pl.String, nullable=True)
    if shape.code:
        columns[f"{shape.code.out}_label"] = pa.Column(pl.String, nullable=True)
    if shape.staged_version:
        columns["ts"] = pa.Column(pl.Int64, nullable=True)
    if shape.biz_time:
        columns["biz_date"] = pa.Column(pl.Date)
    return pa.DataFrameSchema(
        columns,
        strict=True,
        unique=["partition_day", *shape.key],
        name=f"dwd_{shape.dataset}",
        checks=[pa.Check(_flag_matches_reason, error="is_anomaly set exactly when anomaly_reason is")],
    )


def failures(schema: pa.DataFrameSchema, frame: pl.DataFrame) -> pl.DataFrame:
    """The failure cases of validating `frame` (empty when it conforms): check, column, value."""
    try:
        schema.validate(frame, lazy=True)
    except (SchemaErrors, SchemaError) as exc:
        cases = (
            exc.failure_cases
            if isinstance(exc, SchemaErrors)
            else pl.DataFrame({"check": [str(exc.check)], "column": [None], "failure_case": [str(exc)]})
        )
        return cases.select(pl.col(c).cast(pl.String) for c in ("check", "column", "failure_case"))
    return pl.DataFrame(schema={"check": pl.String, "column": pl.String, "failure_case": pl.String})


def markdown(frame: pl.DataFrame, limit: int = 20) -> str:
    """A small markdown table for check metadata in the UI."""
    if not frame.height:
        return "none"
    head = frame.head(limit)
    lines = ["| " + " | ".join(head.columns) + " |", "|" + "---|" * len(head.columns)]
    for row in head.iter_rows():
        lines.append("| " + " | ".join(str(v).replace("|", "\\|")[:120] for v in row) + " |")
    if frame.height > limit:
        lines.append(f"\n… and {frame.height - limit:,} more")
    return "\n".join(lines)
