"""Mailgun: the domain's unsubscribes, bounces and complaints (paged by `paging.next`
URLs until a page comes back empty); opens, clicks and deliveries by tag through the
Analytics API (`POST /v1/analytics/metrics`), and the links clicked through the Logs API
(`POST /v1/analytics/logs`), which replace the deprecated tag stats and events."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import quote, unquote

from chairside.providers.base import api_key, setting
from chairside.providers.http import Http
from chairside.returnpath.api import (
    MAX_PAGES,
    Engagement,
    Record,
    Stats,
    client,
    count,
    get,
    iso,
    post,
    rfc2822,
    same_server,
    too_many_pages,
)
from chairside.returnpath.state import BOUNCE, COMPLAINT, UNSUBSCRIBE

NAME, TITLE, KEY = "mailgun", "Mailgun", "MAILGUN_API_KEY"
PAGE = 1000
MAX_EVENT_PAGES = 50
LOG_PAGE = 300
METRICS, LOGS = "/v1/analytics/metrics", "/v1/analytics/logs"
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


def stats(http: Http, context: dict, tags: list[str], start: str) -> Stats:
    """Each tag's unique opens and clicks and its deliveries (Mailgun's own totals since
    `start`, an ISO date), opens and clicks by day, and the links clicked (from the logs)."""
    found = Stats({tag: Engagement() for tag in tags})
    if not tags:
        return found
    since = datetime.fromisoformat(start) if start else datetime.now(UTC)
    window = {
        "start": rfc2822(since if since.tzinfo else since.replace(tzinfo=UTC)),
        "end": rfc2822(datetime.now(UTC)),
    }
    domain = unquote(context["domain"])
    where = {
        "AND": [
            {"attribute": "domain", "comparator": "=", "values": [_labelled(domain)]},
            {"attribute": "tag", "comparator": "=", "values": [_labelled(t) for t in tags]},
        ]
    }
    totals = {
        "dimensions": ["tag"],
        "metrics": ["delivered_count", "unique_opened_count", "unique_clicked_count"],
        "filter": where,
    }
    for item in _items(post(http, METRICS, window | totals)):
        tag, metrics = _dimension(item, "tag"), _metrics(item)
        if tag in found.tags:
            found.tags[tag] = Engagement(
                count(metrics.get("unique_opened_count")),
                count(metrics.get("unique_clicked_count")),
                count(metrics.get("delivered_count")),
            )
    daily = {
        "resolution": "day",
        "dimensions": ["time"],
        "metrics": ["opened_count", "clicked_count"],
        "filter": where,
    }
    for item in _items(post(http, METRICS, window | daily)):
        metrics = _metrics(item)
        found.add_day(
            iso(_dimension(item, "time"))[:10],
            count(metrics.get("opened_count")),
            count(metrics.get("clicked_count")),
        )
    token = None
    for _page in range(MAX_EVENT_PAGES):
        paging = {"sort": "timestamp:asc", "limit": LOG_PAGE, **({"token": token} if token else {})}
        query = {"events": ["clicked"], "filter": where, "pagination": paging}
        answer = post(http, LOGS, window | query)
        items = _items(answer)
        found.links.update(i["url"] for i in items if isinstance(i.get("url"), str))
        token = (answer.get("pagination") or {}).get("next")
        if len(items) < LOG_PAGE or not token:
            break
    return found


def _labelled(value: str) -> dict[str, str]:
    return {"label": value, "value": value}


def _items(answer: dict) -> list[dict]:
    items = answer.get("items")
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def _metrics(item: dict) -> dict:
    return item["metrics"] if isinstance(item.get("metrics"), dict) else {}


def _dimension(item: dict, name: str) -> str:
    for entry in item.get("dimensions") or []:
        if isinstance(entry, dict) and entry.get("dimension") == name:
            return str(entry.get("value", ""))
    return ""
