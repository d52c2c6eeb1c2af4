"""The time, and the practice's time zone.

`CHAIRSIDE_NOW` (an ISO 8601 time with its offset, e.g. ``2027-01-05T09:00:00-08:00``) stands
in for the computer's clock, so a schedule can be tried before, at and after its time. The
practice's zone is `timezone` in practice.toml's ``[schedule]`` (an IANA name such as
``America/Los_Angeles``), else this computer's own.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chairside.errors import ChairsideError

NOW_VARIABLE = "CHAIRSIDE_NOW"


def now() -> datetime:
    """The current time, aware: CHAIRSIDE_NOW when set, else the computer's clock (UTC)."""
    given = os.environ.get(NOW_VARIABLE, "").strip()
    if not given:
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(given)
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise ChairsideError(
            f"{NOW_VARIABLE}={given!r}: give a time with its offset, like "
            "2027-01-05T09:00:00-08:00, or unset it to use the computer's clock."
        )
    return value


def zone(name: str = "") -> ZoneInfo:
    """The zone called `name`, or this computer's own when `name` is empty."""
    if not name:
        import tzlocal

        try:
            name = tzlocal.get_localzone_name() or "UTC"
        except Exception:  # an odd /etc/localtime: fall back to UTC, said in every time shown
            name = "UTC"
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ChairsideError(
            f"[schedule] timezone: {name!r} is not a time zone name. Use a name like "
            '"America/Chicago" or "Europe/London".'
        ) from None


def parse_local(text: str, tz: ZoneInfo) -> datetime:
    """A time as a person types it ("2027-01-05 09:00"), in the practice's zone unless it
    carries its own offset. A local time that happens twice (the hour the clocks go back) or
    never (the hour they go forward) is refused with both readings, never guessed."""
    cleaned = text.strip().replace(" ", "T", 1)
    try:
        value = datetime.fromisoformat(cleaned)
    except ValueError:
        raise ChairsideError(
            f"{text!r} is not a time Chairside can read: write it like 2027-01-05 09:00 "
            "(year-month-day, then hours:minutes on a 24-hour clock)."
        ) from None
    if value.tzinfo is not None:
        return value
    first, second = value.replace(tzinfo=tz, fold=0), value.replace(tzinfo=tz, fold=1)
    if first.utcoffset() != second.utcoffset():
        if _round_trips(first):
            raise ChairsideError(
                f"{text} happens twice in {tz.key} (the clocks go back that night): "
                f"{_offset_form(first)} or {_offset_form(second)}. Give the one you mean "
                "with its offset, or choose another time."
            )
        raise ChairsideError(
            f"{text} does not exist in {tz.key} (the clocks go forward that night). Choose "
            "another time, such as an hour later."
        )
    return first


def _round_trips(value: datetime) -> bool:
    """Whether a local wall time exists (an hour skipped in spring comes back changed)."""
    back = value.astimezone(UTC).astimezone(value.tzinfo)
    return back.replace(tzinfo=None) == value.replace(tzinfo=None)


def _offset_form(value: datetime) -> str:
    return value.isoformat(timespec="minutes")


def stored(text: str) -> datetime:
    """A time Chairside stored (ISO 8601), aware: one written without an offset is UTC, as
    the send record and the return path write theirs."""
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def spoken(value: datetime, tz: ZoneInfo | None = None) -> str:
    """'Tuesday 5 January 2027, 09:00 (PST)': how a person reads a time."""
    local = value.astimezone(tz) if tz else value
    label = local.tzname() or local.strftime("%z")
    return f"{local:%A} {local.day} {local:%B %Y}, {local:%H:%M} ({label})"
