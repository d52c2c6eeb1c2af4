"""What the provider modules of the return path share: settings, the HTTP client, paging.

Keys come from the same environment variables as a push (MAILCHIMP_API_KEY, …), the API
address from `--api-base`, then `CHAIRSIDE_<PROVIDER>_API_BASE`, then the provider's own.
Requests go through `providers.http.Http` (timeouts, retries, errors in plain words).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import urlsplit

from chairside import clock
from chairside.errors import ChairsideError
from chairside.providers.base import api_base_url
from chairside.providers.http import Http, RequestFailed, RequestUnknown

MAX_PAGES = 10_000  # 10 million records at the smallest page size: a server gone round


@dataclass
class Engagement:
    """One tag's figures as its provider counts them: unique people, over the whole time
    asked (a provider's per-day unique counts are never added up: a patient who opens on
    two days is one patient)."""

    opens: int = 0
    clicks: int = 0
    delivered: int | None = None
    """None: the provider does not say."""


@dataclass
class Stats:
    """What a provider says of a campaign's tags."""

    tags: dict[str, Engagement] = field(default_factory=dict)
    links: Counter[str] = field(default_factory=Counter)
    """URL → clicks."""
    days: dict[str, list[int]] = field(default_factory=dict)
    """ISO date → [opens, clicks] that day (every open and click, all tags together)."""
    notes: list[str] = field(default_factory=list)

    def add_day(self, day: str, opens: int, clicks: int) -> None:
        counts = self.days.setdefault(day, [0, 0])
        counts[0] += opens
        counts[1] += clicks


def count(value: object) -> int:
    """A count from a provider's JSON: anything but a non-negative whole number is 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


@dataclass(frozen=True)
class Record:
    """One suppression a provider lists: `kind` is one of the state's event kinds."""

    kind: str
    email: str
    at: str
    """ISO 8601, UTC."""
    detail: str


def client(
    *, name: str, title: str, key_variable: str, default_base: str, api_base: str | None, **auth
) -> Http:
    base = api_base_url(name, default_base, api_base)
    return Http(base=base, provider=title, key_variable=key_variable, **auth)


def get(http: Http, path: str, **params) -> object:
    """GET `path` as JSON; a failure becomes a ChairsideError that says nothing was lost."""
    try:
        return http.request("GET", path, params=params or None).json()
    except (RequestFailed, RequestUnknown) as exc:
        raise ChairsideError(
            f"{exc}. Nothing was lost: what was read so far is kept; run the same command again."
        ) from None
    except ValueError:
        raise ChairsideError(
            f"{http.provider} answered {path} with something that is not JSON."
        ) from None


def post(http: Http, path: str, body: dict) -> dict:
    """POST a query (it changes nothing, so it may be repeated) and read its JSON object."""
    try:
        answer = http.request("POST", path, json=body, acts=False).json()
    except (RequestFailed, RequestUnknown) as exc:
        raise ChairsideError(f"{exc}. Nothing was changed; try again later.") from None
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise ChairsideError(f"{http.provider} answered {path} with something that is not JSON.")
    return answer


def rfc2822(moment: datetime) -> str:
    """A time as the RFC 2822 date Mailgun's analytics ask for."""
    return format_datetime(moment.astimezone(UTC))


def same_server(http: Http, url: str) -> str:
    """A paging URL the provider gave, if it points at the server we asked (the API key
    goes with every request: it must never follow a link to another host)."""
    base = urlsplit(str(http.client.base_url))
    target = urlsplit(url)
    if (target.scheme, target.netloc) != (base.scheme, base.netloc):
        raise ChairsideError(
            f"{http.provider} sent a next-page address on another server ({target.netloc}); "
            "Chairside stopped rather than send the API key there."
        )
    return url


def iso(value: object) -> str:
    """A provider's timestamp (Unix seconds, ISO 8601 or RFC 2822) as ISO 8601 UTC."""
    try:
        if isinstance(value, (int, float)):
            moment = datetime.fromtimestamp(value, UTC)
        elif isinstance(value, str) and value[:4].isdigit():
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        else:
            moment = parsedate_to_datetime(str(value))
    except (TypeError, ValueError, OverflowError):
        return clock.now().astimezone(UTC).isoformat(timespec="seconds")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def offset_pages(
    http: Http, path: str, key: str | None, *, size: int, **params
) -> Iterator[list[dict]]:
    """Pages of a list paged with offset/limit (or count), until a short or empty page.

    `key` names the list in the answer ({"members": [...]}); None means the answer is the list.
    """
    offset = 0
    count_name = params.pop("_count_name", "limit")
    for _page in range(MAX_PAGES):
        answer = get(http, path, **params, **{count_name: size, "offset": offset})
        items = answer.get(key, []) if key and isinstance(answer, dict) else answer
        if not isinstance(items, list):
            raise ChairsideError(f"{http.provider} answered {path} with an unexpected shape.")
        if items:
            yield [item for item in items if isinstance(item, dict)]
        total = answer.get("total_items") if isinstance(answer, dict) else None
        offset += len(items)
        if len(items) < size or (isinstance(total, int) and offset >= total):
            return
    raise too_many_pages(http, path)


def too_many_pages(http: Http, path: str) -> ChairsideError:
    return ChairsideError(
        f"{http.provider} kept sending pages of {path} ({MAX_PAGES:,} so far); Chairside "
        "stopped. What was read is kept; run the same command again later."
    )
