"""Request signing of the 吉客云 gateway (other-erps.md, "Signature")."""

import hashlib
import json
from collections.abc import Mapping

from qeasy.erp.times import format_bj

UNSIGNED = ("sign", "contextid", "token")  # sent, but not part of the signature


def sign(fields: Mapping[str, object], app_secret: str) -> str:
    """MD5 of secret + key1value1key2value2… (sorted keys, empty values left out) + secret, the whole
    string lower-cased first: leaving that step out is the classic cause of 0858030801."""
    # "null values" are left out (other-erps.md); a form has no nulls, only empty strings, and qeasy
    # sends no empty field, so both are left out alike.
    body = "".join(f"{key}{value}" for key, value in sorted(fields.items())
                   if key not in UNSIGNED and value is not None and value != "")
    return hashlib.md5(f"{app_secret}{body}{app_secret}".lower().encode("utf-8")).hexdigest()


def signed_form(method: str, app_key: str, app_secret: str, biz: Mapping[str, object], *,
                version: str = "v1.0", timestamp_ms: int, token: str = "") -> dict[str, str]:
    """The form body of one call: the system fields (single-word wire names), `bizcontent` as a JSON
    string exactly as signed, `sign`, and the unsigned ISV `token` when there is one."""
    form = {
        "method": method,
        "appkey": app_key,
        "version": version,
        "contenttype": "json",
        "timestamp": format_bj(timestamp_ms),  # Beijing wall clock, no offset
        "bizcontent": json.dumps(dict(biz), ensure_ascii=False, separators=(",", ":")),
    }
    form["sign"] = sign(form, app_secret)
    if token:
        form["token"] = token
    return form
