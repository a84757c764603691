"""Building the signed form body of a business call."""

import json
import time
from collections.abc import Mapping

from qeasy.erp.signing import sign


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
