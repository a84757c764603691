"""Status labels shown to BI users, and the status vocabulary they define.

Defaults follow jushuitan-api.md; after-sale statuses read as refund progress the way operators
say it. `QEASY_STATUS_LABELS` may name a JSON file of the same shape whose entries override or
extend these (a status added there stops being flagged as unknown). A key `STATUS/GOOD_STATUS`
refines the label of a status by the goods' state. The unique-code flow's `inout_type` codes
(1..18) are labelled the same way, under `unique_code`.
"""

import json
from pathlib import Path

DEFAULT_LABELS: dict[str, dict[str, str]] = {
    "sales_out": {
        "WaitConfirm": "待出库",
        "Confirmed": "已出库",
        "Delete": "作废",
        "Cancelled": "取消",
        "OuterConfirming": "外部发货中",
    },
    "after_sale": {
        "WaitConfirm": "待审核",
        "WaitConfirm/SELLER_RECEIVED": "已收货",
        "Confirmed": "已退款",
        "Cancelled": "已作废",
        "Merged": "已作废",
    },
    "sku": {"1": "启用", "0": "备用", "-1": "禁用"},
    "unique_code": {str(code): label for code, label in enumerate(
        ["采购入库", "采购退货", "销售出仓", "销售退货", "调拨出", "调拨入", "盘点", "差异", "结算",
         "领用出仓", "领用退仓", "期初", "其它出库", "其它进仓", "发票", "加工出仓", "加工进仓",
         "其它退货"], start=1)},
}


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
