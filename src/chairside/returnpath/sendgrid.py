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
from chairside.returnpath.api import Record, client, get, iso, offset_pages
from chairside.returnpath.state import BOUNCE, COMPLAINT, SOFT_BOUNCE, UNSUBSCRIBE

NAME, TITLE, KEY = "sendgrid", "SendGrid", "SENDGRID_API_KEY"
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
        raise ChairsideError(f"{http.provider} answered {path} with an unexpected shape.")
    detail = f"left unsubscribe group {group} at SendGrid"
    return [Record(UNSUBSCRIBE, email, "", detail) for email in answer if isinstance(email, str)]


def stats(http: Http, context: dict, tags: list[str], start: str) -> dict[str, dict]:
    """Category (tag) → unique opens and clicks since `start` (YYYY-MM-DD)."""
    found = {tag: {"opens": 0, "clicks": 0, "links": {}} for tag in tags}
    if not tags:
        return found
    end = datetime.now(UTC).date().isoformat()
    days = get(
        http,
        "/v3/categories/stats",
        start_date=start,
        end_date=max(end, start),
        categories=tags,
        aggregated_by="month",
    )
    for day in days if isinstance(days, list) else []:
        for entry in day.get("stats", []):
            tag, metrics = entry.get("name"), entry.get("metrics", {})
            if tag in found:
                found[tag]["opens"] += metrics.get("unique_opens", 0)
                found[tag]["clicks"] += metrics.get("unique_clicks", 0)
    return found
