"""Cleansing one dataset's staged payloads: typed columns, lines exploded, flags and quarantine.

Nothing is dropped silently: a row whose grain key is missing cannot be kept, so it goes to
quarantine only; every other defect keeps the row, flags it (`is_anomaly`, `anomaly_reason`) and
quarantines a copy with the reason. A bad value never raises.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass

import duckdb
import polars as pl

from qeasy.cleanse.fields import GRAIN, Parsed, parse
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
TRUE = pl.lit(True)
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


BATCH_RECORDS = 100_000  # records cleansed at a time: memory stays flat however big the day


def extract(conn: duckdb.DuckDBPyConnection, shape: Shape, days: list | None, table: str = "",
            batch: int = BATCH_RECORDS, since: dict | None = None) -> Iterator[pl.DataFrame]:
    """Staged payloads of `days` (all when None), `batch` records at a time, with every field as
    text, via DuckDB's JSON reader. `table` defaults to the dataset's ODS table. With `since`
    (day -> time), only the rows of those days staged after their time are read."""
    layout = {f.name: "VARCHAR" for f in shape.header if "." not in f.name}
    # A field of a nested object is read by its JSON path, as text like the others.
    nested = "".join(f', CASE WHEN _valid THEN json_extract_string(payload, \'$.{f.name}\') END AS "{f.name}"'
                     for f in shape.header if "." in f.name)
    if shape.lines:
        layout[shape.lines] = [{f.name: "VARCHAR" for f in shape.line}]
    source = table or f"ods.{shape.dataset}"
    params: list = [json.dumps(layout)]
    if since is not None:
        source = (f"(SELECT o.* FROM {source} o JOIN (SELECT UNNEST(?::DATE[]) AS day, "
                  "UNNEST(?::TIMESTAMP[]) AS after) s ON o.partition_day = s.day AND o.fetched_at > s.after)")
        params += [list(since), list(since.values())]
    where = "" if days is None else "WHERE partition_day IN (SELECT UNNEST(?::DATE[]))"
    query = f"""
        SELECT partition_day, record_key, version, payload, _valid,
               UNNEST(CASE WHEN _valid THEN json_transform(payload, ?) END){nested}
        FROM (SELECT *, json_valid(payload) AS _valid FROM {source} {where})"""
    params += [days] if days is not None else []
    reader = conn.execute(query, params).to_arrow_reader(batch)
    empty = True
    for arrow in reader:
        empty = False
        yield pl.from_arrow(arrow)
    if empty:  # nothing staged: one empty batch, typed, so that callers need no special case
        yield pl.from_arrow(reader.schema.empty_table())


def extract_all(conn: duckdb.DuckDBPyConnection, shape: Shape, days: list | None,
                table: str = "") -> pl.DataFrame:
    """`extract` in one frame, for small datasets (SKUs, shops)."""
    return pl.concat(list(extract(conn, shape, days, table)))


def _flagged(frame: pl.DataFrame, parsed: list[Parsed], keep: list[str], prefix: pl.Expr | None = None,
             where: pl.Expr = TRUE) -> pl.DataFrame:
    """`keep` columns and the list of reasons (`_why`, and `_why_q` with `prefix`), for the rows
    with a defect only: few rows are defective, and building reason text is what costs."""
    bad = pl.any_horizontal([p.bad for p in parsed]) if parsed else pl.lit(False)
    reasons = [p.reason for p in parsed] or [pl.lit(None, pl.String)]
    flagged = frame.filter(where & bad)
    columns = {"_why": pl.concat_list(reasons).list.drop_nulls()}
    if prefix is not None:
        columns["_why_q"] = pl.concat_list([prefix + r for r in reasons]).list.drop_nulls()
    return flagged.select(*keep, **columns)


def _lines(frame: pl.DataFrame, shape: Shape, known: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One row per line with typed line fields (a record without lines keeps one row, line key 0),
    and the reasons of the defective lines."""
    frame = (
        frame.with_columns(_n_lines=pl.col(shape.lines).list.len().fill_null(0))
        .explode(shape.lines, empty_as_null=True)
        .with_columns(pl.col(shape.lines).struct.rename_fields([LINE + f.name for f in shape.line]))
        .unnest(shape.lines)
        .with_row_index("_lid")
    )
    parsed = [parse(f, pl.col(LINE + f.name), known) for f in shape.line]
    has_lines = pl.col("_n_lines") > 0
    key = next(f for f in shape.line if f.kind in GRAIN)
    where = pl.lit("line ") + pl.coalesce(pl.col(LINE + key.name), pl.lit("?")) + pl.lit(": ")
    why = _flagged(frame, parsed, ["_lid", "_rid"], prefix=where, where=has_lines)
    typed = frame.with_columns(
        pl.when(has_lines).then(p.value).otherwise(0 if f is key else None).alias(f.out)
        for f, p in zip(shape.line, parsed, strict=True)
    )
    return typed.drop([LINE + f.name for f in shape.line if LINE + f.name != f.out]), why


def _header_only(frame: pl.DataFrame, kept: pl.DataFrame, shape: Shape) -> pl.DataFrame:
    """A record whose lines all lack their id still has a newest version: it keeps one header row
    (line key 0, flagged by its lines' reasons), so an older version cannot count in its place."""
    record_key, line_key = shape.key
    orphans = frame.filter(pl.col("_valid") & pl.col(record_key).is_not_null() & pl.col(line_key).is_null()
                           & ~pl.col("_rid").is_in(kept["_rid"].implode()))
    return orphans.unique("_rid", keep="first", maintain_order=True).with_columns(
        pl.lit(None, frame.schema[f.out]).alias(f.out) for f in shape.line if f.out != line_key
    ).with_columns(pl.lit(0, frame.schema[line_key]).alias(line_key))


def _label(shape: Shape, labels: dict[str, str]) -> pl.Expr:
    status = pl.col(shape.status.out)
    label = status.replace_strict(labels, default=None, return_dtype=pl.String)
    if shape.refined_by:
        refined = pl.concat_str([status, pl.col(shape.refined_by)], separator="/")
        label = pl.coalesce(refined.replace_strict(labels, default=None, return_dtype=pl.String), label)
    return label.alias("status_label")


def _quarantine(shape: Shape, records: pl.DataFrame, why_record: pl.DataFrame,
                why_line: pl.DataFrame) -> pl.DataFrame:
    """One entry per record and reason, with the record's raw JSON; a payload that is not JSON at
    all gets that one reason."""
    entries = pl.concat([why_record.select("_rid", reason="_why"), why_line.select("_rid", reason="_why_q")])
    invalid = records.filter(~pl.col("_valid")).select("_rid", reason=pl.lit("payload is not valid JSON"))
    entries = entries.join(invalid, on="_rid", how="anti").explode("reason").drop_nulls("reason")
    return (
        pl.concat([entries, invalid])
        .join(records, on="_rid")
        .sort("partition_day", "version", nulls_last=False)
        .unique(["record_key", "reason"], keep="last", maintain_order=True)
        .select(pl.lit(shape.dataset).alias("dataset"), "record_key", "reason",
                pl.col("payload").alias("raw"), "partition_day", "version")
    )


def cleanse(raw: pl.DataFrame, shape: Shape, labels: dict[str, str]) -> Cleansed:
    """Typed, flagged rows and the quarantine entries for one dataset's extracted payloads."""
    known = vocabulary(labels)
    raw = raw.with_row_index("_rid")
    records = raw.select("_rid", "partition_day", "record_key", "version", "payload", "_valid")
    frame = raw.drop("payload")  # the raw JSON goes to quarantine only, never onto every line
    header = [parse(f, pl.col(f.name), known) for f in shape.header]
    why_record = _flagged(frame, header, ["_rid"])
    frame = frame.with_columns(p.value for p in header)
    if shape.lines:
        frame, why_line = _lines(frame, shape, known)
    else:
        frame = frame.with_columns(_lid=pl.col("_rid"))
        why_line = pl.DataFrame(schema={"_lid": pl.UInt32, "_rid": pl.UInt32, "_why": pl.List(pl.String),
                                        "_why_q": pl.List(pl.String)})
    kept = frame.filter(pl.col("_valid") & pl.all_horizontal([pl.col(k).is_not_null() for k in shape.key]))
    if shape.lines:
        kept = pl.concat([kept, _header_only(frame, kept, shape)])
    reasons = (
        kept.select("_lid", "_rid")
        .join(why_record.rename({"_why": "_why_record"}), on="_rid", how="left")
        .join(why_line.select("_lid", "_why"), on="_lid", how="left")
        .filter(pl.col("_why_record").is_not_null() | pl.col("_why").is_not_null())
        .select("_lid", anomaly_reason=pl.concat_list(pl.col("_why_record").fill_null([]),
                                                       pl.col("_why").fill_null([])).list.join("; "))
    )
    rows = kept.join(reasons, on="_lid", how="left").with_columns(
        is_anomaly=pl.col("anomaly_reason").is_not_null().cast(pl.UInt8),
        anomaly_reason=pl.col("anomaly_reason").fill_null(""),
        **({"status_label": _label(shape, labels)} if shape.status else {}),
        **({f"{shape.code.out}_label": pl.col(shape.code.out).cast(pl.String).replace_strict(
            labels, default=None, return_dtype=pl.String)} if shape.code else {}),
        # Ingestion's version (-1: none readable) is the row version where the API has no `ts`.
        **({"ts": pl.when(pl.col("version") >= 0).then(pl.col("version")).cast(pl.Int64)}
           if shape.staged_version else {}),
        # The day a record counts on; the staged day when none of its times is usable.
        **(
            {"biz_date": pl.coalesce(*(pl.col(t).dt.date() for t in shape.biz_time), "partition_day")}
            if shape.biz_time
            else {}
        ),
    )
    columns = ["partition_day", "record_key", *(f.out for f in shape.fields), *shape.added]
    return Cleansed(
        rows.select(*columns, "is_anomaly", "anomaly_reason"),
        _quarantine(shape, records, why_record, why_line),
        records.select("partition_day", "record_key"),
    )
