"""Mailchimp: unsubscribed and cleaned members and abuse reports of the audience; campaign
reports (opens, clicks, the links clicked) for the campaigns a push created."""

from __future__ import annotations

from collections.abc import Iterator

from chairside.providers.base import api_key, setting
from chairside.providers.http import Http
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
from chairside.returnpath.state import BOUNCE, COMPLAINT, UNSUBSCRIBE

NAME, TITLE, KEY = "mailchimp", "Mailchimp", "MAILCHIMP_API_KEY"
PAGE = 1000  # Mailchimp's largest `count`


def connect(settings: dict, options: dict, api_base: str | None) -> tuple[Http, dict]:
    key = api_key(KEY, TITLE)
    datacenter = key.rpartition("-")[2] if "-" in key else "us1"
    http = client(
        name=NAME,
        title=TITLE,
        key_variable=KEY,
        default_base=f"https://{datacenter}.api.mailchimp.com/3.0",
        api_base=api_base,
        auth=("chairside", key),
    )
    return http, {"settings": settings, "options": options}


def _list_id(context: dict) -> str:
    """The audience id (only the suppression lists need it; reports go by campaign)."""
    return setting(
        option=context["options"].get("audience_id"),
        practice=context["settings"],
        key="audience_id",
        env="MAILCHIMP_AUDIENCE_ID",
        what="Mailchimp audience id",
        option_name="--audience-id",
    )


def suppressions(http: Http, context: dict, since: str | None) -> Iterator[list[Record]]:
    list_id = _list_id(context)
    path = f"/lists/{list_id}/members"
    fields = "members.email_address,members.status,members.last_changed,total_items"
    extra = {"since_last_changed": since} if since else {}
    for status, kind in (("unsubscribed", UNSUBSCRIBE), ("cleaned", BOUNCE)):
        pages = offset_pages(
            http,
            path,
            "members",
            size=PAGE,
            _count_name="count",
            status=status,
            fields=fields,
            **extra,
        )
        for page in pages:
            detail = f"{status} at Mailchimp"
            yield [
                Record(kind, m["email_address"], iso(m.get("last_changed")), detail)
                for m in page
                if m.get("email_address")
            ]
    reports = f"/lists/{list_id}/abuse-reports"
    for page in offset_pages(http, reports, "abuse_reports", size=PAGE, _count_name="count"):
        yield [
            Record(COMPLAINT, r["email_address"], iso(r.get("date")), "abuse report at Mailchimp")
            for r in page
            if r.get("email_address")
        ]


def stats(http: Http, context: dict, campaigns: dict[str, str]) -> Stats:
    """Each tag's unique opens and clicks and deliveries from its Mailchimp campaign's
    report (tag → campaign id), the links clicked, and opens and clicks by day (from the
    report's hourly timeseries, which covers the first day after sending)."""
    found = Stats()
    for tag, campaign_id in campaigns.items():
        report = _object(get(http, f"/reports/{campaign_id}"))
        bounces = _object(report.get("bounces"))
        sent = report.get("emails_sent")
        returned = sum(count(bounces.get(k)) for k in ("hard_bounces", "soft_bounces"))
        found.tags[tag] = Engagement(
            count(_object(report.get("opens")).get("unique_opens")),
            count(_object(report.get("clicks")).get("unique_subscriber_clicks")),
            max(0, sent - returned) if isinstance(sent, int) else None,
        )
        for hour in report.get("timeseries") or []:
            if isinstance(hour, dict) and isinstance(hour.get("timestamp"), str):
                found.add_day(
                    iso(hour["timestamp"])[:10],
                    count(hour.get("unique_opens")),
                    count(hour.get("recipients_clicks")),
                )
        links = _object(get(http, f"/reports/{campaign_id}/click-details", count=PAGE))
        for url in links.get("urls_clicked") or []:
            if isinstance(url, dict) and url.get("url"):
                found.links[url["url"]] += count(url.get("unique_clicks", url.get("total_clicks")))
    return found


def _object(value: object) -> dict:
    return value if isinstance(value, dict) else {}
