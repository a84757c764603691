"""The 吉客云 answer envelope and its sub-codes (other-erps.md, "Envelope and errors").

Success is HTTP 200 and `code == 200` and a `subCode` among the success sub-codes; never judge by
`code` alone. `result.data` is sometimes a JSON-encoded string: decoded once.
"""

import json
from dataclasses import dataclass

# Success sub-codes seen in the sources ("200": omsapi-business.*; "0030000004": ERP goods methods).
SUCCESS_SUBCODES = ("", "0", "0000000000", "00000000", "200", "0030000004")

# Refusals retrying cannot fix: the call fails at once, saying what to change.
CONFIG_ERRORS = {
    "0858030801": "invalid signature: check JACKYUN_APP_KEY and JACKYUN_APP_SECRET",
    "0858030802": "unknown appkey: check JACKYUN_APP_KEY",
    "0858030803": "invalid token: check JACKYUN_TOKEN",
    "0130020310": "the app is not subscribed to this method: subscribe it in the developer console "
                  "(open.jackyun.com/developer)",
    "0130000609": "the app has no open-platform access (该应用未开通开放平台): ask Jackyun's account manager",
    "0050030002": "a parameter is missing or out of range (a window too long, no time pair?)",
    "0040139996": "the `fields` parameter is missing",
}
THROTTLED = frozenset({"0859999999"})  # throttled or briefly unavailable (AC's reading): back off
RETRY_ONCE = frozenset({"0130020001"})  # 未知错误: retried once, then the call fails


@dataclass(frozen=True)
class Answer:
    """One readable answer: its data when it succeeded, else its sub-code and message."""

    ok: bool
    sub_code: str
    msg: str
    data: object = None


def read(body: object, success: tuple[str, ...] = SUCCESS_SUBCODES) -> Answer | None:
    """The answer in a decoded JSON body; None when the body is not an envelope at all."""
    if not isinstance(body, dict) or "code" not in body:
        return None
    result = body.get("result")
    if result is not None and not isinstance(result, dict):
        return None
    sub_code = "" if body.get("subCode") is None else str(body["subCode"])
    msg = str(body.get("msg") or "")
    try:
        ok = int(body["code"]) == 200 and sub_code in success
    except (TypeError, ValueError):
        return None
    if not ok:
        return Answer(False, sub_code, msg)
    data = (result or {}).get("data")
    if isinstance(data, str) and data.lstrip()[:1] in ("{", "["):
        try:
            data = json.loads(data)
        except ValueError:
            return None
    return Answer(True, sub_code, msg, data)
