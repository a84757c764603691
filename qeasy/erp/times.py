"""Beijing time as the ERP writes it: `yyyy-MM-dd HH:mm:ss[.fff]`, UTC+8, no offset in the string
(or, in some 吉客云 answers, epoch milliseconds)."""

import re
from datetime import UTC, date, datetime, timedelta, timezone
from functools import lru_cache

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
DAY_MS = 86_400_000
_OFFSET_MS = 8 * 3_600_000
_FORMAT = "%Y-%m-%d %H:%M:%S"


@lru_cache(maxsize=65_536)  # a row's times are read several times while it is deduplicated and staged
def parse_bj(text: str) -> int:
    """Epoch milliseconds of a Beijing time string (milliseconds optional); ValueError if malformed."""
    text = text.strip()
    fmt = _FORMAT + ".%f" if "." in text else _FORMAT
    return int(datetime.strptime(text, fmt).replace(tzinfo=BEIJING).timestamp() * 1000 + 0.5)


def is_epoch_ms(value: object) -> bool:
    """Whether a time is written as epoch milliseconds (吉客云 goods: 1751707629000), a JSON number
    or a string of 12 or 13 digits, rather than a Beijing wall-clock string."""
    text = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else ""
    return text.isascii() and text.isdigit() and 12 <= len(text) <= 13


def format_bj(ms: int, with_ms: bool = False) -> str:
    """Beijing time string of epoch milliseconds."""
    text = _format_second(ms // 1000)
    return f"{text}.{ms % 1000:03d}" if with_ms else text


@lru_cache(maxsize=65_536)
def _format_second(second: int) -> str:
    return datetime.fromtimestamp(second, tz=UTC).astimezone(BEIJING).strftime(_FORMAT)


def bj_day(ms: int) -> int:
    """Index of the Beijing calendar day holding epoch millisecond `ms` (days since 1970-01-01)."""
    return (ms + _OFFSET_MS) // DAY_MS


def day_start_ms(day: int) -> int:
    """Epoch milliseconds of 00:00:00 Beijing time on day index `day`."""
    return day * DAY_MS - _OFFSET_MS


def day_of_date(value: date) -> int:
    """Day index of a calendar date."""
    return (value - date(1970, 1, 1)).days


def date_of_day(day: int) -> date:
    """Calendar date of a day index."""
    return date(1970, 1, 1) + timedelta(days=day)


def parse_day(text: str) -> date:
    """A calendar day written YYYY-MM-DD; ValueError otherwise (fromisoformat alone takes 20240101)."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise ValueError(f"not a day written YYYY-MM-DD: {text!r}")
    return date.fromisoformat(text)


def bj_today() -> date:
    """Today's Beijing calendar date on the wall clock."""
    return datetime.now(BEIJING).date()


def default_first_day() -> date:
    """The first day of history when none is configured: January 1st of the Beijing year before
    last, so the two previous calendar years are always covered."""
    return date(bj_today().year - 2, 1, 1)
