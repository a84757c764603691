"""Published tables made from declarations: the wide tables of GRAIN datasets and the tables of
metrics that declare their columns; their DDL, and how the migration step keeps them in line.

A GRAIN table has the shape's fields (grain first, never NULL; the others Nullable), the labels
cleansing adds, the SKU (and shop) attributes joined from the dimensions, then the version, flags,
days and partition month every published wide table has. A declaration that gains a field gains
the column on the next migration (`ADD COLUMN IF NOT EXISTS`, and the reader's view is remade);
one that loses a field keeps the column (NULL from then on): nothing is dropped.
"""

from dataclasses import dataclass

from clickhouse_connect.driver.client import Client

from qeasy.cleanse.fields import GRAIN, Kind
from qeasy.datasets import PUBLISHED, Dataset, Style
from qeasy.warehouse.ads import METRICS
from qeasy.warehouse.schema import (
    BY_DAY,
    ENGINE,
    FACT_INDEXES,
    INTERNAL,
    MONEY,
    TIME,
    commented,
    published_view,
)
from qeasy.warehouse.schema import PUBLISHED as PUBLISHED_COLUMNS

TYPES = {Kind.ID: "Int64", Kind.KEY: "String", Kind.CODE: "Int64", Kind.REF: "String", Kind.INT: "Int64",
         Kind.QTY: "Int64", Kind.MONEY: MONEY, Kind.TEXT: "String", Kind.TIME: TIME, Kind.BOOL: "UInt8",
         Kind.STATUS: "String"}
SKU_ATTRIBUTES = [("i_id", "Nullable(String)", "款式编码 style id from dim_sku"),
                  ("sku_name", "Nullable(String)", "商品名称 SKU name from dim_sku"),
                  ("category", "Nullable(String)", "类目 SKU category from dim_sku")]
Column = tuple[str, str, str]  # name, ClickHouse type, comment


def columns(dataset: Dataset) -> list[Column]:
    """The columns of `dataset`'s GRAIN wide table, in order (see the module docstring)."""
    shape = dataset.shape
    fields = [f for f in shape.fields if f.kind is not Kind.VERSION]  # the version is `ts`, below
    names = {f.out for f in fields}
    out: list[Column] = []
    for f in fields:
        kind = TYPES[f.kind]
        doc = f.doc or f"{f.out} (API field {f.name})"
        out.append((f.out, kind if f.kind in GRAIN else f"Nullable({kind})", doc))
        if f.kind is Kind.STATUS:
            out.append(("status_label", "Nullable(String)", "状态名称 label of status from the mapping"))
        if f.kind is Kind.CODE:
            named = (f.doc.split() or [f.out])[0]
            out.append((f"{f.out}_label", "Nullable(String)", f"{named}名称 label of {f.out} from the "
                        "configurable mapping; NULL, and the row flagged, for a code outside it"))
    if "sku_id" in names:
        out += [column for column in SKU_ATTRIBUTES if column[0] not in names]
    if "shop_id" in names and "shop_name" not in names:
        out.append(("shop_name", "Nullable(String)", "店铺名称 shop name from dim_shop"))
    version = shape.staged_version and f"{dataset.endpoint.version_field} in epoch ms" or "`ts`"
    out += [("ts", "UInt64", f"版本 row version: {version}, the highest wins"),
            ("is_anomaly", "UInt8", "异常 1 when the row has a defect (anomaly_reason)"),
            ("anomaly_reason", "String", "异常原因 why the row is flagged, '; '-separated; empty when clean")]
    if "sku_id" in names:
        out.append(("sku_missing", "UInt8", "SKU缺失 1 when the SKU is not in dim_sku: its attributes "
                    "are NULL"))
    out += [("biz_date", "Date", f"业务日期 Beijing day of {shape.biz_time[0]} (else the staged day)"),
            ("source_day", "Date", "来源日 staged day the published version was read on"),
            ("part_month", "UInt32", "分区月 month the row was first published in: its partition for good "
             "(internal)")]
    return out


def grain_tables() -> list[Dataset]:
    """The datasets whose wide table is made from their declaration."""
    return [d for d in PUBLISHED if d.wide.style is Style.GRAIN]


@dataclass(frozen=True)
class Table:
    """A published table made from a declaration: a GRAIN dataset's or a metric's."""

    name: str
    columns: list[Column]
    extra: str  # what follows the published columns inside the parentheses (indexes)
    layout: str  # partitioning and order
    hidden: str  # the internal columns its `v_` view leaves out


def tables() -> list[Table]:
    """Every table made from a declaration, in the order they are created."""
    return [*(Table(d.wide.table, columns(d), f", {FACT_INDEXES}",
                    f"PARTITION BY part_month ORDER BY ({', '.join(d.grain)})", f"{INTERNAL}, part_month")
              for d in grain_tables()),
            *(Table(m.table, list(m.columns), "", f"{BY_DAY} ORDER BY ({m.grain})", INTERNAL)
              for m in METRICS if m.columns)]


def create(table: Table) -> list[str]:
    """The statements creating `table` and its reader's `v_` view."""
    return [f"CREATE TABLE IF NOT EXISTS {table.name} ({commented(table.columns)}, {PUBLISHED_COLUMNS}"
            f"{table.extra}) {ENGINE} {table.layout}", published_view(table.name, table.hidden)]


def statements() -> list[str]:
    """What a new warehouse runs for the declared tables (after the migrations)."""
    return [statement for table in tables() for statement in create(table)]


def catch_up(client: Client, table: Table) -> list[str]:
    """The statements bringing an existing `table` to its declaration: the columns it lacks, then its
    view remade (a view's columns are fixed when it is created); none when it is in line."""
    have = {row[0] for row in client.query(
        "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = {t:String}",
        parameters={"t": table.name}).result_rows}
    if not have:
        return create(table)
    missing = [column for column in table.columns if column[0] not in have]
    if not missing:
        return []
    added = [f"ALTER TABLE {table.name} ADD COLUMN IF NOT EXISTS {commented([c])}" for c in missing]
    return [*added, f"DROP VIEW IF EXISTS v_{table.name}", published_view(table.name, table.hidden)]
