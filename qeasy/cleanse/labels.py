"""Status labels shown to BI users, and the status vocabulary they define.

The defaults are in the datasets' declarations (`qeasy.datasets`). `QEASY_STATUS_LABELS` may name a
JSON file of the same shape whose entries override or extend these (a status added there stops
being flagged as unknown). A key `STATUS/GOOD_STATUS` refines the label of a status by the goods'
state. The unique-code flow's `inout_type` codes (1..18) are labelled the same way, under
`unique_code`.
"""

import json
from pathlib import Path

from qeasy.datasets import DATASETS

DEFAULT_LABELS: dict[str, dict[str, str]] = {name: dict(d.labels) for name, d in DATASETS.items() if d.labels}


def load_labels(path: str | None) -> dict[str, dict[str, str]]:
    """The defaults, overridden per dataset by the JSON file at `path` when given."""
    labels = {dataset: dict(mapping) for dataset, mapping in DEFAULT_LABELS.items()}
    if path:
        try:
            extra = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"QEASY_STATUS_LABELS: cannot read {path}: {exc}") from exc
        if not isinstance(extra, dict) or not all(isinstance(m, dict) for m in extra.values()):
            raise ValueError('QEASY_STATUS_LABELS must hold {"dataset": {"status": "label"}}')
        for dataset, mapping in extra.items():
            labels.setdefault(dataset, {}).update({str(k): str(v) for k, v in mapping.items()})
    return labels


def vocabulary(labels: dict[str, str]) -> list[str]:
    """The statuses a mapping knows (refinements `STATUS/...` name their status too)."""
    return sorted({key.split("/")[0] for key in labels})
