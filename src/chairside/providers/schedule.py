"""`--schedule TIME`: parsed and checked against the destination's rules before anything
is sent, so a wrong time can never turn into "sent to everyone now".

Each provider's window, from its documentation:
- SendGrid `send_at` (a Unix time): at most 72 hours ahead ("Scheduling Parameters").
- Mailgun `o:deliverytime` (an RFC 2822 date): at most 3 days ahead, 7 on plans with
  7 days of message storage ("Scheduling Delivery"); `[providers.mailgun] schedule_days`.
- Mailchimp `schedule_time` (UTC, ISO 8601): on a quarter hour (:00, :15, :30, :45).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from chairside import clock
from chairside.errors import ChairsideError

# A time closer than this may have passed by the time the last batch is handed over.
SOONEST = timedelta(minutes=5)


@dataclass(frozen=True)
class Window:
    """How far ahead a provider can schedule (None: no limit), and on which minutes."""

    latest: timedelta | None
    quarter_hour: bool = False
    days: bool = False
    """Say the limit in days (Mailgun's documentation does), not hours (SendGrid's)."""


def parse_schedule(
    text: str, *, provider: str, window: Window | None, now: datetime | None = None
) -> datetime:
    """The time `text` names, aware and checked; ChairsideError says what is wrong."""
    if window is None:
        raise ChairsideError(
            f"{provider} cannot schedule a send: leave out --schedule (or push to Mailchimp, "
            "SendGrid or Mailgun, which can). Nothing was sent."
        )
    example = "2026-12-01T09:00:00-05:00 or 2026-12-01T14:00Z"
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ChairsideError(
            f"--schedule {text!r} is not a date and time: write it as ISO 8601 with a time "
            f"zone, e.g. {example}. Nothing was sent."
        ) from None
    if when.tzinfo is None or when.utcoffset() is None:
        raise ChairsideError(
            f"--schedule {text!r} has no time zone, so it could mean several moments: add one, "
            f"e.g. {example} (Z is UTC). Nothing was sent."
        )
    now = now or clock.now()
    if when < now + SOONEST:
        raise ChairsideError(
            f"--schedule {text!r} is in the past or less than {SOONEST.seconds // 60} minutes "
            "away: give a later time, or leave out --schedule to send now. Nothing was sent."
        )
    if window.latest is not None and when > now + window.latest:
        hours = window.latest.total_seconds() / 3600
        limit = f"{hours / 24:.0f} days" if window.days else f"{hours:.0f} hours"
        raise ChairsideError(
            f"--schedule {text!r} is too far ahead: {provider} schedules at most {limit} "
            f"ahead (until {(now + window.latest).isoformat(timespec='minutes')}). "
            "Push closer to the day. Nothing was sent."
        )
    if window.quarter_hour and (when.minute % 15 or when.second or when.microsecond):
        later = when.replace(second=0, microsecond=0) + timedelta(minutes=15 - when.minute % 15)
        raise ChairsideError(
            f"--schedule {text!r}: {provider} schedules only on the quarter hour (:00, :15, "
            f":30, :45), e.g. {later.isoformat()}. Nothing was sent."
        )
    return when
