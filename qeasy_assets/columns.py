"""What the Dagster UI shows of a table: its column schema (`dagster/column_schema`), derived from the
code that creates the table, and small markdown tables of its rows.

- ClickHouse tables: parsed from the migrations' DDL (`qeasy.warehouse.schema.MIGRATIONS`) and the
  declared tables' (`qeasy.warehouse.declared`);
- DWD tables in DuckDB: from the dataset's shape (`qeasy.datasets`) plus the columns cleansing adds;
- ODS staging tables: parsed from `qeasy.ingest.staging.ODS_TABLE`.
"""

import re
from collections.abc import Iterable, Sequence

import dagster as dg

from qeasy.cleanse.fields import Kind
from qeasy.datasets import SHAPES
from qeasy.ingest.staging import ODS_TABLE
from qeasy.warehouse import declared
from qeasy.warehouse.schema import MIGRATIONS

COLUMN_SCHEMA = "dagster/column_schema"

# Shared meanings of the columns that appear in several tables (warehouse.md is the authority).
NOTES = {
    "partition_day": "Beijing day whose window the record version was read in (the staged day)",
    "record_key": "the record's id as staged",
    "status_label": "Chinese label of the raw status, from the configurable mapping",
    "biz_date": "Beijing day the record counts on (its business time, else modified, else the staged day)",
    "source_day": "staged day the published version was read on",
    "is_anomaly": "1 when the row has a defect (anomaly_reason): left out of quantities and per-SKU metrics",
    "anomaly_reason": "why the row is flagged, '; '-separated; empty when clean",
    "sku_missing": "1 when the SKU is not (yet) in dim_sku: attributes NULL until it is looked up by id",
    "ts": "record version: the highest wins (latest-version rule)",
    "inout_type_label": "出入库类型 Chinese label of inout_type, from the configurable mapping; "
                        "NULL (and the row flagged) for a code outside it",
    "sku_name": "SKU name from dim_sku",
    "category": "SKU category from dim_sku",
    "shop_name": "shop name from dim_shop (the order's own when the shop is unknown)",
    "is_gift": "1 for a gift line (counts like any other line)",
    "is_refund": "1 for a refund order: latest status Confirmed and refund > 0",
    "stat_date": "Beijing day the metric is for",
    "out_orders": "distinct out orders (latest status Confirmed) of the day",
    "out_qty": "items shipped on non-anomalous lines",
    "out_amount": "sum of sale_amount on non-anomalous lines",
    "refund_orders": "distinct refund orders confirmed on the day",
    "refund_amount": "sum of refund, once per after-sale order",
    "after_sale_rate": "refund_orders / out_orders (NULL when out_orders = 0)",
    "out_orders_7d": "out orders with a non-anomalous line of the SKU, 7 days ending on stat_date",
    "refund_orders_7d": "refund orders with a non-anomalous line of the SKU, 7 days ending on stat_date",
    "after_sale_rate_7d": "refund_orders_7d / out_orders_7d (NULL when no out orders)",
    "end_qty": "stock at the end of the day (latest version seen by then; negative counts as 0 in metrics)",
    "out_qty_7d": "items shipped over the 7 days ending on stat_date",
    "turnover_days": "end_qty / (out_qty_7d / 7) (NULL when nothing shipped)",
    "below_min": "end_qty < min_qty",
    "min_qty": "minimum stock set in the ERP",
    "found_by": "how the SKU reached the dimension: 'window' (listed by modification day) or 'id lookup'",
    "enabled_label": "label of the enabled flag",
    "version": "modification time in epoch ms: the highest version wins",
    "publish_version": "refresh that wrote the row: the highest wins (internal, not in the v_ views)",
    "is_deleted": "1 on a deletion row: what it replaces no longer exists (internal, not in the v_ views)",
    "part_month": "month the record was first published in: its partition for good (internal)",
}
ODS_NOTES = NOTES | {
    "record_key": "the record's primary key ('|'-joined); 'missing-key:<hash>' when the API left it out",
    "version": "what orders the record's versions: `ts`, else its modification time in epoch ms; -1 if none",
    "modified": "the record's modification time (Beijing wall clock)",
    "payload": "the record exactly as the API returned it (JSON)",
    "window_begin": "start of the API time window it was read in",
    "window_end": "end of the API time window it was read in",
    "fetched_at": "when it was read",
    "run_id": "Dagster run that read it",
}
# What a field's kind means in a DWD table: its DuckDB type and how cleansing treats it.
KINDS = {
    Kind.ID: ("BIGINT", "id, part of the grain: a record without it is quarantined, not kept"),
    Kind.KEY: ("VARCHAR", "key, part of the grain: a record without it is quarantined, not kept"),
    Kind.REF: ("VARCHAR", "required reference: missing flags the row"),
    Kind.INT: ("BIGINT", "integer"),
    Kind.QTY: ("BIGINT", "quantity: negative flags the row"),
    Kind.MONEY: ("DECIMAL(18,2)", "amount"),
    Kind.TEXT: ("VARCHAR", "text"),
    Kind.TIME: ("TIMESTAMP_MS", "Beijing wall-clock time"),
    Kind.BOOL: ("BOOLEAN", "flag"),
    Kind.VERSION: ("BIGINT", NOTES["ts"]),
    Kind.STATUS: ("VARCHAR", "raw status: a value outside the label mapping flags the row"),
    Kind.CODE: ("BIGINT", "coded part of the grain: missing or unparseable quarantines the record, "
                "a code outside the label mapping flags the row"),
}


def split_top_level(text: str) -> list[str]:
    """`text` split at the commas outside parentheses and quotes (types such as
    `Decimal(18, 2)` and `DateTime64(3, 'Asia/Shanghai')` hold commas of their own)."""
    parts, depth, quoted, start = [], 0, False, 0
    for i, char in enumerate(text):
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        elif not quoted and depth == 0 and char == ",":
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [part.strip() for part in parts if part.strip()]


def _body(statement: str) -> str:
    """The text between the first '(' of a CREATE TABLE and its matching ')'."""
    start = statement.index("(")
    depth = 0
    for i in range(start, len(statement)):
        depth += {"(": 1, ")": -1}.get(statement[i], 0)
        if depth == 0:
            return statement[start + 1 : i]
    raise ValueError(f"unbalanced parentheses in {statement[:60]!r}")


def _column(definition: str, clickhouse: bool, notes: dict[str, str]) -> dg.TableColumn:
    """One column definition (`name Type [DEFAULT ...] [COMMENT '...']`, or in DuckDB `name TYPE
    [NOT NULL]`); a ClickHouse comment is the description."""
    name, rest = definition.split(None, 1)
    kind = re.split(r"\s+(?:DEFAULT|NOT\s+NULL|COMMENT)\b", rest, maxsplit=1, flags=re.IGNORECASE)[0].strip()
    comment = re.search(r"\bCOMMENT '((?:[^']|'')*)'", rest)
    # ClickHouse columns hold NULL only when declared Nullable; DuckDB ones unless NOT NULL.
    nullable = kind.startswith("Nullable(") if clickhouse else "NOT NULL" not in rest.upper()
    return dg.TableColumn(name, kind, description=comment.group(1).replace("''", "'") if comment
                          else notes.get(name), constraints=dg.TableColumnConstraints(nullable=nullable))


def _columns(definitions: Iterable[str], clickhouse: bool, notes: dict[str, str]) -> dg.TableSchema:
    columns = [d for d in definitions if not d.startswith("INDEX ")]  # data-skipping indexes
    return dg.TableSchema(columns=[_column(definition, clickhouse, notes) for definition in columns])


def clickhouse_columns(table: str) -> dg.TableSchema:
    """The columns of ClickHouse `table` after every migration (its CREATE TABLE, then ADD COLUMNs), or
    as its declaration makes it."""
    create = re.compile(rf"CREATE TABLE IF NOT EXISTS {re.escape(table)} \(")
    add = re.compile(rf"ALTER TABLE {re.escape(table)} ADD COLUMN (?:IF NOT EXISTS )?(.+)", re.DOTALL)
    definitions: list[str] = []
    for statements in [*(each for _, _, each in MIGRATIONS), declared.statements()]:
        for statement in statements:
            if create.match(statement):
                definitions = split_top_level(_body(statement))
            elif match := add.match(statement):
                definitions.append(match.group(1).strip())
    if not definitions:
        raise KeyError(f"no CREATE TABLE for {table} in the migrations")
    return _columns(definitions, clickhouse=True, notes=NOTES)


def dwd_columns(dataset: str) -> dg.TableSchema:
    """The columns of `dwd.<dataset>` as cleansing writes them: staged day and key, the shape's
    fields in order, then the status label, business day and flags it adds."""
    shape = SHAPES[dataset]
    columns = [dg.TableColumn("partition_day", "DATE", description=NOTES["partition_day"]),
               dg.TableColumn("record_key", "VARCHAR", description=NOTES["record_key"])]
    for field in shape.fields:
        kind, meaning = KINDS[field.kind]
        source = f"{shape.lines}[].{field.name}" if field in shape.line else field.name
        columns.append(dg.TableColumn(field.out, kind, description=f"{meaning} (API field `{source}`)"))
    types = {"biz_date": "DATE", "ts": "BIGINT"}
    for name in shape.added:
        columns.append(dg.TableColumn(name, types.get(name, "VARCHAR"), description=NOTES.get(name)))
    columns += [dg.TableColumn("is_anomaly", "UTINYINT", description=NOTES["is_anomaly"]),
                dg.TableColumn("anomaly_reason", "VARCHAR", description=NOTES["anomaly_reason"])]
    return dg.TableSchema(columns=columns)


def ods_columns() -> dg.TableSchema:
    """The columns of an ODS staging table `ods.<dataset>` (DuckDB)."""
    return _columns(split_top_level(_body(ODS_TABLE)), clickhouse=False, notes=ODS_NOTES)


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A markdown table; '|' inside values is escaped so that names cannot break the layout."""
    def cell(value: object) -> str:
        return "" if value is None else str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)
