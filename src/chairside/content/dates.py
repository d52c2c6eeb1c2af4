"""Reading the dates posts carry, in the handful of spellings blogs and feeds use.

Stdlib only. `parse_date` never raises: a value it cannot read gives `None`, and the caller
decides whether that is an error (front matter the user typed) or not (a page's metadata).
"""

from __future__ import annotations

import re
import time
from datetime import date, datetime
from email.utils import parsedate_to_datetime

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_MONTH = r"(?P<month>[A-Za-z]{3,9})\.?"
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>\d{4})"
# An optional weekday in front ("Wednesday, December 3, 2026") is skipped by `search`.
_WRITTEN_DATES = (
    re.compile(rf"\b{_MONTH}\s+{_DAY},?\s+{_YEAR}\b"),  # December 3, 2026
    re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MONTH},?\s+{_YEAR}\b"),  # 3 December 2026
)
_ISO_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")


def parse_date(value: object) -> date | None:
    """The calendar date in `value`, or `None` when there is none to be read.

    Accepts `date`/`datetime` objects, `time.struct_time` (feedparser's), ISO 8601 strings
    ("2026-12-03", "2026-12-03T09:30:00Z"), RFC 822 strings ("Wed, 03 Dec 2026 09:30:00
    -0800") and written English dates ("December 3, 2026", "Dec. 3rd 2026", "3 December
    2026"). A timestamp keeps the day in its own time zone: a post published late on the
    3rd in Seattle is a post of the 3rd, not of the 4th in UTC.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, time.struct_time):
        return _safe_date(value.tm_year, value.tm_mon, value.tm_mday)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return None
    return _from_iso(text) or _from_rfc822(text) or _from_words(text)


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _from_iso(text: str) -> date | None:
    try:
        return datetime.fromisoformat(text).date()
    except ValueError:
        pass
    # Looser ISO-like stamps ("2026-12-03 09:30:00 +0000") still start with the day.
    match = _ISO_DAY.match(text)
    return _safe_date(*map(int, match.groups())) if match else None


def _from_rfc822(text: str) -> date | None:
    try:
        return parsedate_to_datetime(text).date()
    except (TypeError, ValueError, IndexError):
        return None


def _from_words(text: str) -> date | None:
    for pattern in _WRITTEN_DATES:
        match = pattern.search(text)
        if match:
            month = _MONTHS.get(match["month"].lower())
            if month:
                return _safe_date(int(match["year"]), month, int(match["day"]))
    return None
