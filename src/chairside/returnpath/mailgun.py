"""Mailgun: the domain's unsubscribes, bounces and complaints (paged by `paging.next`
URLs until a page comes back empty); statistics by tag, and the links clicked from the
events log."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from urllib.parse import quote

from chairside.providers.base import api_key, setting
from chairside.providers.http import Http
from chairside.returnpath.api import (
    MAX_PAGES,
    Record,
    client,
    get,
    iso,
    same_server,
    too_many_pages,
)
from chairside.returnpath.state import BOUNCE, COMPLAINT, UNSUBSCRIBE

NAME, TITLE, KEY = "mailgun", "Mailgun", "MAILGUN_API_KEY"
PAGE = 1000
MAX_EVENT_PAGES = 50
LISTS = (
    ("unsubscribes", UNSUBSCRIBE, "unsubscribed at Mailgun"),
    ("bounces", BOUNCE, "bounced at Mailgun"),
    ("complaints", COMPLAINT, "complaint at Mailgun"),
)


def connect(settings: dict, options: dict, api_base: str | None) -> tuple[Http, dict]:
    domain = setting(
        option=options.get("domain"),
        practice=settings,
        key="domain",
        env="MAILGUN_DOMAIN",
        what="Mailgun sending domain",
        option_name="--domain",
    ).strip()
    http = client(
        name=NAME,
        title=TITLE,
        key_variable=KEY,
        default_base="https://api.mailgun.net",
        api_base=api_base,
        auth=("api", api_key(KEY, TITLE)),
    )
    return http, {"domain": quote(domain, safe="")}


def _pages(http: Http, path: str, **params) -> Iterator[list[dict]]:
    """Mailgun's paging: follow `paging.next` until a page has no items."""
    answer = get(http, path, **params)
    seen = set()
    while isinstance(answer, dict) and isinstance(answer.get("items"), list) and answer["items"]:
        if len(seen) >= MAX_PAGES:
            raise too_many_pages(http, path)
        yield [item for item in answer["items"] if isinstance(item, dict)]
        following = (answer.get("paging") or {}).get("next")
        if not following or following in seen:
            return
        seen.add(following)
        answer = get(http, same_server(http, following))


def suppressions(http: Http, context: dict, since: str | None) -> Iterator[list[Record]]:
    for name, kind, detail in LISTS:
        for page in _pages(http, f"/v3/{context['domain']}/{name}", limit=PAGE):
            records = []
            for item in page:
                if not item.get("address"):
                    continue
                code = str(item.get("code", "")).strip()
                text = f"{detail} {code}".strip()
                records.append(Record(kind, item["address"], iso(item.get("created_at")), text))
            yield records


def stats(http: Http, context: dict, tags: list[str]) -> dict[str, dict]:
    """Tag → unique opens and clicks, and the links clicked (from the events log)."""
    found = {}
    for tag in tags:
        answer = get(
            http,
            f"/v3/{context['domain']}/tags/{quote(tag, safe='')}/stats",
            event=["opened", "clicked"],
            duration="3m",
        )
        opens = clicks = 0
        for bucket in answer.get("stats", []) if isinstance(answer, dict) else []:
            opens += _count(bucket.get("opened"))
            clicks += _count(bucket.get("clicked"))
        links: Counter[str] = Counter()
        events = f"/v3/{context['domain']}/events"
        pages = _pages(http, events, event="clicked", tags=tag, limit=300)
        for number, page in enumerate(pages):
            links.update(item["url"] for item in page if item.get("url"))
            if number >= MAX_EVENT_PAGES:
                break
        found[tag] = {"opens": opens, "clicks": clicks, "links": dict(links)}
    return found


def _count(metric: object) -> int:
    """A stats bucket's count: unique when Mailgun gives it, else the total."""
    if not isinstance(metric, dict):
        return 0
    return int(metric.get("unique", metric.get("total", 0)) or 0)
