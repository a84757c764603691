"""Request signing of the Jushuitan open API (docId=70)."""

import hashlib
from collections.abc import Mapping


def sign(fields: Mapping[str, object], app_secret: str) -> str:
    """MD5 of the secret followed by every non-empty field but `sign`, sorted by key, as key+value."""
    body = "".join(
        f"{key}{value}"
        for key, value in sorted(fields.items())
        if key != "sign" and value is not None and value != ""
    )
    return hashlib.md5((app_secret + body).encode("utf-8")).hexdigest()
