"""Building a signed form for the open API, and reading its envelope."""

import json
import time
from collections.abc import Mapping

from qeasy.erp.signing import sign


class ErpError(RuntimeError):
    """The ERP answered with a non-zero business code."""

    def __init__(self, code: int, msg: str) -> None:
        super().__init__(f"ERP error {code}: {msg}")
        self.code = code


def signed_form(app_key: str, app_secret: str, access_token: str, biz: Mapping[str, object],
                timestamp: int | None = None) -> dict[str, str]:
    """The form body of a business call: system fields, `biz` as a JSON string, and `sign`."""
    form = {
        "app_key": app_key,
        "access_token": access_token,
        "timestamp": str(int(time.time()) if timestamp is None else timestamp),
        "charset": "utf-8",
        "version": "2",
        "biz": json.dumps(dict(biz), ensure_ascii=False, separators=(",", ":")),
    }
    form["sign"] = sign(form, app_secret)
    return form


def unwrap(envelope: Mapping[str, object]) -> object:
    """The envelope's `data`, or ErpError carrying its code and message."""
    code = int(envelope.get("code", -1))
    if code != 0:
        raise ErpError(code, str(envelope.get("msg", "")))
    return envelope.get("data")
