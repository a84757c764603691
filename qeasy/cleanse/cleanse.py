"""Cleansing one dataset's staged payloads: typed columns, lines exploded, flags and quarantine.

Nothing is dropped silently: a row whose grain key is missing cannot be kept, so it goes to
quarantine only; every other defect keeps the row, flags it (`is_anomaly`, `anomaly_reason`) and
quarantines a copy with the reason. A bad value never raises.
"""

import json
from dataclasses import dataclass

import duckdb
import polars as pl

from qeasy.cleanse.fields import GRAIN, parse
from qeasy.cleanse.labels import vocabulary
from qeasy.cleanse.shapes import Shape

QUARANTINE_SCHEMA = {
    "dataset": pl.String,
    "record_key": pl.String,
    "reason": pl.String,
    "raw": pl.String,
    "partition_day": pl.Date,
    "version": pl.Int64,
}
NO_REASONS = pl.lit([], pl.List(pl.String))
LINE = "_line_"  # prefix of a line's raw fields, so they never collide with the header's


@dataclass(frozen=True)
class Cleansed:
    rows: pl.DataFrame  # partition_day, record_key, typed fields, status_label, is_anomaly, anomaly_reason
    quarantine: pl.DataFrame  # QUARANTINE_SCHEMA: one row per record and reason
    records: pl.DataFrame  # partition_day, record_key of every record read from staging

    def per_day(self) -> dict:
        """day -> (records read, rows kept, anomalous rows, quarantine entries)."""

        def count(frame: pl.DataFrame, value: pl.Expr | None = None) -> dict:
            return dict(frame.group_by("partition_day").agg(pl.len() if value is None else value).iter_rows())

        records, rows, quarantined = count(self.records), count(self.rows), count(self.quarantine)
        anomalies = count(self.rows, pl.col("is_anomaly").sum())
        return {
            day: (n, rows.get(day, 0), anomalies.get(day, 0), quarantined.get(day, 0))
            for day, n in records.items()
        }

    def not_kept(self) -> tuple[int, int]:
        """(records only in quarantine, records neither kept nor quarantined: must be 0)."""
        key = ["partition_day", "record_key"]
        dropped = self.records.join(self.rows.select(key).unique(), on=key, how="anti")
        lost = dropped.join(self.quarantine.select(key).unique(), on=key, how="anti")
        return dropped.height, lost.height


def extract(
    conn: duckdb.DuckDBPyConnection, shape: Shape, days: list | None, table: str = ""
) -> pl.DataFrame:
    """Staged payloads of `days` (all when None) with every field as text, via DuckDB's JSON reader.

    `table` defaults to the dataset's ODS table; any relation with the same columns will do.
    """
    layout = {f.name: "VARCHAR" for f in shape.header}
    if shape.lines:
        layout[shape.lines] = [{f.name: "VARCHAR" for f in shape.line}]
    where = "" if days is None else "WHERE partition_day IN (SELECT UNNEST(?::DATE[]))"
    query = f"""
        SELECT partition_day, record_key, version, payload, json_valid(payload) AS _valid,
               UNNEST(CASE WHEN json_valid(payload) THEN json_transform(payload, ?) END)
        FROM {table or f"ods.{shape.dataset}"} {where}"""
    params = [json.dumps(layout)] + ([days] if days is not None else [])
    return pl.from_arrow(conn.execute(query, params).to_arrow_table())


def _reasons(exprs: list[pl.Expr]) -> pl.Expr:
    return pl.concat_list(exprs).list.drop_nulls() if exprs else NO_REASONS


def _explode_lines(frame: pl.DataFrame, shape: Shape, known: list[str]) -> pl.DataFrame:
    """One row per line with typed line fields; a record without lines keeps one row, line key 0."""
    frame = frame.with_columns(_n_lines=pl.col(shape.lines).list.len().fill_null(0))
    frame = (
        frame.explode(shape.lines, empty_as_null=True)
        .with_columns(pl.col(shape.lines).struct.rename_fields([LINE + f.name for f in shape.line]))
        .unnest(shape.lines)
    )
    parsed = [parse(f, pl.col(LINE + f.name), known) for f in shape.line]
    no_lines = pl.col("_n_lines") == 0
    key = next(f for f in shape.line if f.kind in GRAIN)
    where = pl.lit("line ") + pl.coalesce(pl.col(LINE + key.name), pl.lit("?")) + pl.lit(": ")
    return frame.with_columns(
        *(
            pl.when(no_lines).then(0).otherwise(value).alias(f.out) if f is key else value
            for f, (value, _) in zip(shape.line, parsed, strict=True)
        ),
        _why_line=pl.when(no_lines).then(NO_REASONS).otherwise(_reasons([why for _, why in parsed])),
        _why_line_q=pl.when(no_lines)
        .then(NO_REASONS)
        .otherwise(_reasons([where + why for _, why in parsed])),
    )


def _label(shape: Shape, labels: dict[str, str]) -> pl.Expr:
    status = pl.col(shape.status.out)
    label = status.replace_strict(labels, default=None, return_dtype=pl.String)
    if shape.refined_by:
        refined = pl.concat_str([status, pl.col(shape.refined_by)], separator="/")
        label = pl.coalesce(refined.replace_strict(labels, default=None, return_dtype=pl.String), label)
    return label.alias("status_label")


def cleanse(raw: pl.DataFrame, shape: Shape, labels: dict[str, str]) -> Cleansed:
    """Typed, flagged rows and the quarantine entries for one dataset's extracted payloads."""
    known = vocabulary(labels)
    header = [parse(f, pl.col(f.name), known) for f in shape.header]
    frame = raw.with_columns(*(value for value, _ in header), _why_record=_reasons([w for _, w in header]))
    if shape.lines:
        frame = _explode_lines(frame, shape, known)
    else:
        frame = frame.with_columns(_why_line=NO_REASONS, _why_line_q=NO_REASONS)
    invalid = pl.lit(["payload is not valid JSON"])
    grain_missing = pl.any_horizontal([pl.col(k).is_null() for k in shape.key])
    frame = frame.with_columns(
        _keep=pl.col("_valid") & ~grain_missing,
        _why=pl.when(pl.col("_valid")).then(pl.concat_list("_why_record", "_why_line")).otherwise(invalid),
        _why_quarantine=pl.when(pl.col("_valid"))
        .then(pl.concat_list("_why_record", "_why_line_q"))
        .otherwise(invalid),
    )
    rows = frame.filter("_keep").with_columns(
        is_anomaly=(pl.col("_why").list.len() > 0).cast(pl.UInt8),
        anomaly_reason=pl.col("_why").list.join("; "),
        **({"status_label": _label(shape, labels)} if shape.status else {}),
        # The day a record counts on; the staged day when none of its times is usable.
        **(
            {"biz_date": pl.coalesce(*(pl.col(t).dt.date() for t in shape.biz_time), "partition_day")}
            if shape.biz_time
            else {}
        ),
    )
    columns = ["partition_day", "record_key", *(f.out for f in shape.fields)]
    columns += ["status_label"] if shape.status else []
    columns += ["biz_date"] if shape.biz_time else []
    quarantine = (
        frame.select("record_key", "payload", "partition_day", "version", reason="_why_quarantine")
        .explode("reason")
        .drop_nulls("reason")
        .unique(["record_key", "reason"], keep="last", maintain_order=True)
        .select(
            pl.lit(shape.dataset).alias("dataset"),
            "record_key",
            "reason",
            pl.col("payload").alias("raw"),
            "partition_day",
            "version",
        )
    )
    return Cleansed(
        rows.select(*columns, "is_anomaly", "anomaly_reason"),
        quarantine,
        raw.select("partition_day", "record_key"),
    )
