"""Who may sign in to the dashboard and which shops they see (screens.md, 行级权限), from one JSON file.

    {"users": {
        "alice": {"password_hash": "$argon2id$...", "shops": "all", "inventory": true},
        "bob":   {"password_hash": "$argon2id$...", "shops": [16800001, 16800002], "inventory": false}
    }}

`shops` is "all" or a list of shop ids; `inventory` says whether the user sees the merchant-wide
stock parts of screens 1 and 6 (stock belongs to warehouses, not shops). Passwords are kept only as
salted argon2id hashes (argon2-cffi); `qeasy access add-user` writes them. The same file becomes
ClickHouse users with row policies on a server (`qeasy.dashboard.grants`).
"""

import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

USER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")
_hasher = PasswordHasher()
# Verified when the user is unknown, so that a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("qeasy: no such user")


class AccessError(ValueError):
    """The access file is missing, unreadable or malformed; the message names the file and the entry."""


@dataclass(frozen=True)
class User:
    name: str
    shops: frozenset[int] | None  # None: every shop
    inventory: bool
    password_hash: str = ""

    @property
    def all_shops(self) -> bool:
        return self.shops is None

    def visible(self, wanted: set[int] | None) -> frozenset[int] | None:
        """The shops a request may read: `wanted` (None: no filter asked) within the user's own."""
        if wanted is None:
            return self.shops
        return frozenset(wanted) if self.shops is None else self.shops & frozenset(wanted)


# Signed in without an access file: only on loopback, where the dashboard refuses any other address.
LOCAL_USER = User("local", None, True)


def hash_password(password: str) -> str:
    """A salted argon2id hash of `password`."""
    return _hasher.hash(password)


def load_access(path: str | Path) -> dict[str, User]:
    """The users of the access file at `path`; AccessError naming what is wrong."""
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AccessError(f"QEASY_DASHBOARD_ACCESS {path}: no such file") from None
    except (OSError, ValueError) as exc:
        raise AccessError(f"QEASY_DASHBOARD_ACCESS {path}: not readable JSON ({exc})") from None
    entries = document.get("users") if isinstance(document, dict) else None
    if not isinstance(entries, dict):
        raise AccessError(f"QEASY_DASHBOARD_ACCESS {path}: expected {{\"users\": {{name: {{...}}}}}}")
    return {name: _user(path, name, entry) for name, entry in entries.items()}


def _user(path: Path, name: str, entry) -> User:
    where = f"QEASY_DASHBOARD_ACCESS {path}: user {name!r}"
    if not USER_NAME.fullmatch(name):
        raise AccessError(f"{where}: a name is a letter then letters, digits, '_', '.' or '-'")
    if not isinstance(entry, dict):
        raise AccessError(f"{where}: expected an object")
    password_hash = entry.get("password_hash")
    if not isinstance(password_hash, str) or not password_hash.startswith("$argon2"):
        raise AccessError(f"{where}: password_hash must be an argon2 hash (qeasy access add-user writes one)")
    shops = entry.get("shops")
    if shops == "all":
        allowed = None
    elif isinstance(shops, list) and all(isinstance(s, int) and not isinstance(s, bool) for s in shops):
        allowed = frozenset(shops)
    else:
        raise AccessError(f"{where}: shops must be \"all\" or a list of shop ids (numbers)")
    inventory = entry.get("inventory", False)
    if not isinstance(inventory, bool):
        raise AccessError(f"{where}: inventory must be true or false")
    return User(name, allowed, inventory, password_hash)


def authenticate(users: dict[str, User], name: str, password: str) -> User | None:
    """The user whose name and password these are, None otherwise (in about the same time either way)."""
    user = users.get(name)
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    return user


def add_user(path: str | Path, name: str, password: str, shops: list[int] | None, inventory: bool) -> None:
    """Create or replace `name` in the access file (created when missing), written atomically."""
    path = Path(path)
    document = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"users": {}}
    entry = {"password_hash": hash_password(password), "shops": "all" if shops is None else sorted(shops),
             "inventory": inventory}
    _user(path, name, entry)  # the same rules as reading
    document.setdefault("users", {})[name] = entry
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, encoding="utf-8") as out:
        json.dump(document, out, ensure_ascii=False, indent=2)
    os.chmod(out.name, 0o600)  # hashes only, but nobody else needs to read them
    os.replace(out.name, path)
