"""SendGrid: the global unsubscribe, bounce, invalid email and spam report lists (offset/limit
paging), and the unsubscribe group's suppressions (ASM) when `[providers.sendgrid]
unsubscribe_group` is set; statistics by category (each variant's tag is its category).

Blocks are not read: a block is SendGrid refusing the practice's mail (reputation, content),
a fault of the sender, never of the patient's address.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from chairside.errors import ChairsideError
from chairside.providers.base import api_key
from chairside.providers.http import Http
from chairside.providers.sendgrid import unsubscribe_group
from chairside.returnpath.api import (
    Engagement,
    Record,
    Stats,
    client,
    count,
    get,
    iso,
    offset_pages,
)
from chairside.returnpath.state import BOUNCE, COMPLAINT, SOFT_BOUNCE, UNSUBSCRIBE

NAME, TITLE, KEY = "sendgrid", "SendGrid", "SENDGRID_API_KEY"
STATS = "/v3/categories/stats"
PAGE = 500  # SendGrid's largest `limit` for suppression lists
LISTS = (
    ("/v3/suppression/unsubscribes", UNSUBSCRIBE, "unsubscribed at SendGrid"),
    ("/v3/suppression/bounces", BOUNCE, "bounced at SendGrid"),
    ("/v3/suppression/invalid_emails", BOUNCE, "invalid address at SendGrid"),
    ("/v3/suppression/spam_reports", COMPLAINT, "spam report at SendGrid"),
)


def connect(settings: dict, options: dict, api_base: str | None) -> tuple[Http, dict]:
    key = api_key(KEY, TITLE)
    http = client(
        name=NAME,
        title=TITLE,
        key_variable=KEY,
        default_base="https://api.sendgrid.com",
        api_base=api_base,
        headers={"Authorization": f"Bearer {key}"},
    )
    return http, {"group": unsubscribe_group(settings)}


def suppressions(http: Http, context: dict, since: str | None) -> Iterator[list[Record]]:
    extra = {"start_time": int(datetime.fromisoformat(since).timestamp())} if since else {}
    for path, kind, detail in LISTS:
        for page in offset_pages(http, path, None, size=PAGE, **extra):
            records = []
            for item in page:
                if not item.get("email"):
                    continue
                status = str(item.get("status", ""))
                # SendGrid lists a bounce with its SMTP status; only 5.x.x is permanent.
                this_kind = SOFT_BOUNCE if kind == BOUNCE and status.startswith("4") else kind
                text = f"{detail} {status}".strip()
                records.append(Record(this_kind, item["email"], iso(item.get("created")), text))
            yield records
    if context.get("group"):
        yield _group(http, context["group"])


def _group(http: Http, group: int) -> list[Record]:
    """The unsubscribe group's suppressions: SendGrid answers them all at once, as a list of
    addresses without dates (so they are read whole each time; the record's keys make a
    second sight count once)."""
    path = f"/v3/asm/groups/{group}/suppressions"
    answer = get(http, path)
    if not isinstance(answer, list):
        raise ChairsideError(
            f"{http.provider} answered {path} with something else than the list of addresses "
            "it documents. What was read before is kept; run the same command again later."
        )
    detail = f"left unsubscribe group {group} at SendGrid"
    return [Record(UNSUBSCRIBE, email, "", detail) for email in answer if isinstance(email, str)]


def stats(http: Http, context: dict, tags: list[str], start: str) -> Stats:
    """Each category's (tag's) unique opens and clicks and deliveries since `start`
    (YYYY-MM-DD), and opens and clicks by day.

    SendGrid counts unique opens per day, week or month, never over a whole range: asked by
    month, a campaign within one month gets its exact figure; one that runs into a second
    month gets its largest month's (at least that many), with a note, never the months
    added up (a patient who opened in both would count twice).
    """
    found = Stats({tag: Engagement() for tag in tags})
    if not tags:
        return found
    end = max(datetime.now(UTC).date().isoformat(), start)
    window = {"start_date": start, "end_date": end, "categories": tags}
    months = _buckets(get(http, STATS, **window, aggregated_by="month"))
    for tag, engagement in found.tags.items():
        mine = [metrics for name, _date, metrics in months if name == tag]
        engagement.opens = max((count(m.get("unique_opens")) for m in mine), default=0)
        engagement.clicks = max((count(m.get("unique_clicks")) for m in mine), default=0)
        if any("delivered" in m for m in mine):  # else unknown: sent less what bounced
            engagement.delivered = sum(count(m.get("delivered")) for m in mine)
        if len(mine) > 1:  # the tag itself may name a concern: the note does not
            note = (
                "SendGrid counts unique opens and clicks month by month; this campaign ran "
                "into several months, so each version shows its busiest month (at least "
                "that many)."
            )
            if note not in found.notes:
                found.notes.append(note)
    for _name, day, metrics in _buckets(get(http, STATS, **window, aggregated_by="day")):
        found.add_day(day, count(metrics.get("opens")), count(metrics.get("clicks")))
    return found


def _buckets(answer: object) -> list[tuple[str, str, dict]]:
    """(category, date, metrics) of each bucket in a statistics answer."""
    found = []
    for bucket in answer if isinstance(answer, list) else []:
        if not isinstance(bucket, dict):
            continue
        for entry in bucket.get("stats") or []:
            if isinstance(entry, dict) and isinstance(entry.get("metrics"), dict):
                found.append(
                    (str(entry.get("name")), str(bucket.get("date"))[:10], entry["metrics"])
                )
    return found
