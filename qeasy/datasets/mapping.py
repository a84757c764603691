"""A dataset of another ERP declared as a mapping onto a built-in one: its endpoint, and for every
field of the built-in shape the ERP's field that fills it. The shape, DWD table, wide table, labels
and column docs stay the built-in's, so every metric, alert, screen and check reads it unchanged."""

from collections.abc import Mapping
from dataclasses import replace

from qeasy.cleanse.fields import Field, Kind
from qeasy.datasets.declaration import Dataset
from qeasy.erp.endpoints import Endpoint


def mapped(onto: Dataset, endpoint: Endpoint, description: str, header: Mapping[str, str | None],
           lines: str | None = None, line: Mapping[str, str | None] | None = None,
           values: Mapping[str, dict[str, str]] | None = None) -> Dataset:
    """`onto` read from another ERP. `header` and `line` name, for every column of `onto`'s shape,
    the ERP's field (dotted for a nested object) or None where the ERP has none (the column stays
    empty). A None for the row version (`ts`) makes the version the one ingestion staged, from the
    endpoint's version field. `values` maps a column's raw values (status codes) onto `onto`'s."""
    values = values or {}

    def fields(own: tuple[Field, ...], names: Mapping[str, str | None], part: str) -> tuple[Field, ...]:
        unmapped = [f.out for f in own if f.out not in names]
        extra = sorted(set(names) - {f.out for f in own})
        if unmapped or extra:
            raise ValueError(f"{onto.name} from {endpoint.path}: the {part} mapping must name every column "
                             f"of the shape once (unmapped {unmapped}, unknown {extra})")
        return tuple(replace(f, name=names[f.out] or f.name, column=f.out, values=values.get(f.out))
                     for f in own if names[f.out] is not None or f.kind is not Kind.VERSION)

    shape = onto.shape
    versioned = any(f.kind is Kind.VERSION and header.get(f.out) is None for f in shape.header)
    return replace(onto, description=description, endpoint=endpoint, sandbox=None, shape=replace(
        shape, header=fields(shape.header, header, "header"), lines=lines if shape.lines else None,
        line=fields(shape.line, line or {}, "line") if shape.lines else (),
        staged_version=shape.staged_version or versioned))
