"""Field kinds and how a raw value (always read as text) becomes a typed value or a reason.

ERP numbers arrive as JSON numbers or numeric strings, times as Beijing wall-clock strings with or
without milliseconds, or as epoch milliseconds; anything else is unparseable. A value is "present"
unless null or "".
"""

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

import polars as pl

TIME_FORMAT = "%Y-%m-%d %H:%M:%S%.f"
EARLIEST, LATEST = datetime(1992, 1, 1), datetime(2149, 1, 1)


class Kind(Enum):
    ID = "id"  # integer grain key: missing -> the row cannot be kept, only quarantined
    KEY = "key"  # text grain key, likewise
    REF = "ref"  # required reference such as sku_id: missing -> anomaly
    INT = "int"
    QTY = "qty"  # integer quantity: negative -> anomaly
    MONEY = "money"
    TEXT = "text"
    TIME = "time"
    BOOL = "bool"
    VERSION = "version"  # the row version `ts`
    STATUS = "status"  # text checked against the label vocabulary
    CODE = "code"  # integer grain key checked against the label vocabulary (unique-code inout_type)


MONEY = pl.Decimal(18, 2)
DTYPES = {
    Kind.ID: pl.Int64,
    Kind.KEY: pl.String,
    Kind.REF: pl.String,
    Kind.INT: pl.Int64,
    Kind.QTY: pl.Int64,
    Kind.MONEY: MONEY,
    Kind.TEXT: pl.String,
    Kind.TIME: pl.Datetime("ms"),
    Kind.BOOL: pl.Boolean,
    Kind.VERSION: pl.Int64,
    Kind.STATUS: pl.String,
    Kind.CODE: pl.Int64,
}
GRAIN = (Kind.ID, Kind.KEY, Kind.CODE)


@dataclass(frozen=True)
class Field:
    """One field of a record or line: its JSON name, kind, the column it becomes, and what the column
    means to a BI reader (its comment in the warehouse)."""

    name: str  # a header field of a nested object is written with dots: "returnChangePay.returnTotal"
    kind: Kind
    column: str = ""
    doc: str = ""
    # Raw values read as others before typing (an ERP's status codes as the contract's statuses);
    # a value not named passes as it is, so an unknown one is still flagged.
    values: dict[str, str] | None = None

    @property
    def out(self) -> str:
        return self.column or self.name


def _integer(text: pl.Expr) -> pl.Expr:
    number = text.cast(pl.Float64, strict=False)
    whole = pl.when(number.is_finite() & (number == number.floor())).then(number.cast(pl.Int64, strict=False))
    return pl.coalesce(text.cast(pl.Int64, strict=False), whole)


@dataclass(frozen=True)
class Parsed:
    """How one raw text column is cleansed: its typed value, whether it is defective (cheap, for
    every row) and why (text, built only for the few defective rows)."""

    value: pl.Expr
    bad: pl.Expr
    reason: pl.Expr


def parse(field: Field, raw: pl.Expr, vocabulary: list[str] | None = None) -> Parsed:
    """The typed value of a raw text column, its defect flag and the reason text."""
    text = raw.str.strip_chars()
    if field.values:
        text = text.replace(field.values)
    present = text.is_not_null() & (text != "")
    kind = field.kind
    if kind in (Kind.ID, Kind.INT, Kind.QTY, Kind.VERSION, Kind.CODE):
        value = _integer(text)
        if kind is Kind.VERSION:  # versions order records; a negative one is no version
            value = pl.when(value >= 0).then(value)
    elif kind is Kind.MONEY:
        value = text.cast(MONEY, strict=False)
    elif kind is Kind.TIME:
        value = text.str.to_datetime(TIME_FORMAT, strict=False, time_unit="ms")
        # Epoch milliseconds (吉客云 goods) become the Beijing wall clock the other times are written in.
        digits = pl.when(text.str.len_bytes().is_between(12, 13)).then(text.cast(pl.UInt64, strict=False))
        epoch = pl.from_epoch(digits.cast(pl.Int64), time_unit="ms") + pl.duration(hours=8)
        value = pl.coalesce(value, epoch)
        # Outside what the warehouse's Date columns hold (and before China's last daylight-saving
        # year, whose clock times can be ambiguous) a time is as good as unparseable.
        value = pl.when(value.is_between(EARLIEST, LATEST, closed="left")).then(value)
    elif kind is Kind.BOOL:
        value = text.str.to_lowercase().replace_strict(
            {"true": True, "1": True, "false": False, "0": False}, default=None, return_dtype=pl.Boolean
        )
    else:
        value = pl.when(present).then(text)
    shown = pl.lit(f"{field.name} '") + raw.str.slice(0, 40) + pl.lit("'")
    unparseable = pl.lit("unparseable ") + shown
    if kind is Kind.CODE:
        # Missing or unparseable: no grain, only quarantine; a number outside the vocabulary keeps
        # its row, flagged (an ERP code qeasy does not know yet is still a movement).
        known = value.cast(pl.String).is_in(vocabulary or []).fill_null(False)
        bad = ~known
        reason = (pl.when(~present).then(pl.lit(f"missing {field.name}"))
                  .when(value.is_null()).then(unparseable)
                  .otherwise(pl.lit("unknown ") + shown))
    elif kind in GRAIN or kind is Kind.REF:
        bad = value.is_null() if kind is Kind.ID else ~present
        reason = pl.when(~present).then(pl.lit(f"missing {field.name}")).otherwise(unparseable)
    elif kind is Kind.STATUS:
        bad = ~text.is_in(vocabulary or []).fill_null(False)
        reason = pl.lit("unknown ") + pl.coalesce(shown, pl.lit(f"{field.name} (empty)"))
    elif kind is Kind.TEXT:
        bad, reason = pl.lit(False), pl.lit(None, pl.String)
    else:
        bad = present & value.is_null()
        reason = unparseable
        if kind is Kind.QTY:
            negative = (value < 0).fill_null(False)
            bad = bad | negative
            reason = pl.when(negative).then(pl.lit(f"{field.name} < 0 (") + value.cast(pl.String) + ")") \
                .otherwise(reason)
    return Parsed(value.cast(DTYPES[kind]).alias(field.out), bad, pl.when(bad).then(reason))
