"""A dataset declared once: how it is read (endpoint), what its records look like (shape), its status
labels, what each layer calls it, and how it is published. Every layer reads the declaration.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from enum import Enum

import polars as pl

from qeasy.cleanse.fields import Kind
from qeasy.cleanse.shapes import Shape
from qeasy.erp.endpoints import Endpoint


class Style(Enum):
    """How a dataset's DWD versions become a ClickHouse wide table."""

    LINES = "lines"  # a record with lines (an order): the lines of each record's newest version
    GRAIN = "grain"  # one row per grain (the shape's key), its newest version; the table is declared
    STOCK = "stock"  # current and end-of-day stock per SKU (qeasy.warehouse.dws)


@dataclass(frozen=True, kw_only=True)
class Wide:
    """A dataset's wide table."""

    table: str
    description: str  # one line for the UI
    style: Style
    # Columns of the table's own, computed from DWD rows joined with the dimensions (LINES).
    derive: Callable[[pl.DataFrame], pl.DataFrame] | None = None
    daily: str | None = None  # STOCK: the end-of-day table's description


# Rows the sandbox serves for a dataset of no built-in simulation: (Beijing day, seed) -> the records
# whose `time_field` falls on that day, as the API writes them (qeasy.sandbox.declared).
SandboxRows = Callable[[date, int], list[dict]]


@dataclass(frozen=True, kw_only=True)
class Dataset:
    """One ERP dataset, declared once (see the README's "Add a dataset")."""

    name: str
    description: str  # the ODS asset's line in the UI
    endpoint: Endpoint
    shape: Shape
    dwd: str | None = None  # the DWD asset's line: cleansed into `dwd.<name>`; None: read by a dimension
    wide: Wide | None = None
    labels: Mapping[str, str] = field(default_factory=dict)  # status (or code) -> label, overridable
    sandbox: SandboxRows | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "endpoint", replace(self.endpoint, dataset=self.name,
                                                     description=self.description))
        object.__setattr__(self, "shape", replace(self.shape, dataset=self.name))
        problems = list(self._problems())
        if problems:
            raise ValueError(f"dataset {self.name!r}: " + "; ".join(problems))

    def _problems(self):
        shape, wide = self.shape, self.wide
        if wide is not None and self.dwd is None:
            yield "a wide table is published from DWD: give `dwd` a description"
        if wide is not None and wide.style is Style.LINES and (self.record is None or self.line is None):
            yield "a LINES table needs an ID field in the header and one in the lines"
        if wide is not None and wide.style is Style.GRAIN:
            named = tuple(f.name for f in shape.fields if f.out in self.grain)  # as the API names them
            if named != tuple(self.endpoint.primary_key):
                yield f"the shape's key {named} must be the endpoint's primary key"
            if not shape.biz_time:
                yield "a GRAIN table is partitioned by business day: give the shape `biz_time`"
        if self.endpoint.revisit_days and (self.endpoint.version_field in (None, "ts")
                                           or not self.endpoint.window_days):
            yield "revisit_days files versions by their time: a window and a version_field time are needed"
        if self.sandbox is not None and (self.endpoint.cursor_param or not self.endpoint.window_days):
            yield "the declared sandbox serves time windows only (no cursor, a window_days)"

    @property
    def grain(self) -> tuple[str, ...]:
        return self.shape.key

    @property
    def record(self) -> str | None:
        """The record id of a dataset with lines."""
        return next((f.out for f in self.shape.header if f.kind is Kind.ID), None)

    @property
    def line(self) -> str | None:
        """The line id of a dataset with lines (the grain is record and line)."""
        return next((f.out for f in self.shape.line if f.kind is Kind.ID), None)

    @property
    def dwd_table(self) -> str:
        return f"dwd.{self.name}"
