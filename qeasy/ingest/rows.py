"""What a raw ERP row is made of for ingestion: its key, its time, its version, the latest version
of each record among many rows, and a record made of several rows (parts)."""

import hashlib
import json
from collections.abc import Iterable
from dataclasses import replace

from qeasy.erp.endpoints import Endpoint
from qeasy.erp.times import is_epoch_ms, parse_bj


def _time_of(row: dict, name: str) -> int | None:
    value = row.get(name)
    if is_epoch_ms(value):
        return int(value)
    try:
        return parse_bj(str(value)) if value else None
    except ValueError:
        return None


def row_time(endpoint: Endpoint, row: dict) -> int | None:
    """The row's own time (the endpoint's `time_field`) in epoch ms; None if unreadable."""
    return _time_of(row, endpoint.time_field)


def version(endpoint: Endpoint, row: dict) -> int:
    """What orders two versions of a record: `ts` where the API has it, else its version time."""
    if endpoint.version_field == "ts":
        try:
            return int(row["ts"])
        except (KeyError, TypeError, ValueError):
            return -1
    return _time_of(row, endpoint.version_field or "modified") or -1


def record_key(endpoint: Endpoint, row: dict) -> str:
    """The primary key as text; a row missing part of it keys on its whole content, so that it is
    kept (and flagged downstream) instead of merging with every other keyless row."""
    values = [row.get(name) for name in endpoint.primary_key]
    if any(value in (None, "") for value in values):
        content = json.dumps(row, sort_keys=True, ensure_ascii=False)
        return "missing-key:" + hashlib.sha256(content.encode()).hexdigest()[:16]
    return "|".join(str(value) for value in values)


def latest(endpoint: Endpoint, rows: Iterable[dict]) -> dict[str, dict]:
    """One row per record: the highest version (ties: the later `modified`)."""
    best: dict[str, tuple[tuple[int, int], dict]] = {}
    for row in rows:
        key = record_key(endpoint, row)
        rank = (version(endpoint, row), row_time(endpoint, row) or -1)
        if key not in best or rank > best[key][0]:
            best[key] = (rank, row)
    return {key: row for key, (_, row) in best.items()}


def combined(endpoint: Endpoint, rows: Iterable[dict]) -> list[dict]:
    """Rows that are parts of records (`part_key`) as one row per record: each part's latest version,
    the `summed` fields added up over the parts, the rest as the newest part has them."""
    parts = latest(replace(endpoint, primary_key=endpoint.part_key), rows).values()
    records: dict[str, list[dict]] = {}
    for row in parts:
        records.setdefault(record_key(endpoint, row), []).append(row)
    out = []
    for group in records.values():
        newest = max(group, key=lambda r: (version(endpoint, r), row_time(endpoint, r) or -1))
        out.append(newest | {name: _total([r.get(name) for r in group]) for name in endpoint.summed})
    return out


def _total(values: list) -> object:
    """The sum of quantities (numbers or numeric strings); a value that is not one is kept as it is,
    so cleansing flags the record; None when no part has a value."""
    present = [v for v in values if v not in (None, "")]
    total = 0
    for value in present:
        try:
            total += int(str(value).strip())
        except ValueError:
            try:
                total += float(str(value))
            except ValueError:
                return value
    return total if present else None
