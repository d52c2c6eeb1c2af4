"""The campaigns list (each with its state and next step), and starting a new campaign."""

from __future__ import annotations

import re
from datetime import date

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from chairside import clock
from chairside.errors import ChairsideError
from chairside.studio.pagekit import post, studio_of
from chairside.studio.state import campaign_names, campaign_state
from chairside.studio.uploads import safe_name, save, scratch_dir, uploads


async def campaigns(request: Request) -> Response:
    studio = studio_of(request)
    workspace = studio.workspace
    states = await run_in_threadpool(
        lambda: [campaign_state(workspace, name) for name in campaign_names(workspace)]
    )
    return studio.render(request, "campaigns.html", campaigns=states)


def suggested_name(existing: list[str], today: date | None = None) -> str:
    """The month after the newest YYYY-MM campaign, else this month (2027-01)."""
    months = [n for n in existing if re.fullmatch(r"\d{4}-\d{2}", n)]
    if months:
        year, month = (int(part) for part in max(months).split("-"))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return f"{year}-{month:02d}"
    today = today or clock.now().date()
    return f"{today:%Y-%m}"


async def new_form(request: Request) -> Response:
    studio = studio_of(request)
    return studio.render(
        request,
        "new.html",
        name=suggested_name(campaign_names(studio.workspace)),
        since="",
        feed_url="",
    )


async def create(request: Request, form: FormData) -> Response:
    """`chairside new NAME --feed URL --feed F --since D --post P...`: the feed by its
    address (fetched by the library, as `new` fetches it) and/or uploaded files."""
    from chairside.newcampaign import create_campaign

    studio = studio_of(request)
    name = str(form.get("name", "")).strip()
    since_text = str(form.get("since", "")).strip()
    feed_url = str(form.get("feed_url", "")).strip()
    feeds, posts = uploads(form, "feeds"), uploads(form, "posts")

    def again(error: str, since: str) -> Response:
        return studio.render(
            request,
            "new.html",
            status_code=400,
            error=error,
            name=name,
            since=since,
            feed_url=feed_url,
        )

    try:
        since = date.fromisoformat(since_text) if since_text else None
        if since and not (feeds or feed_url):
            raise ChairsideError(
                "'Posts since' filters a feed's posts; give the feed's address or upload a "
                "saved feed with it."
            )
        with scratch_dir() as folder:
            saved_posts, saved_feeds = [], []
            for kind, files, target in (("post", posts, saved_posts), ("feed", feeds, saved_feeds)):
                sub = folder / kind
                sub.mkdir()
                taken: set[str] = set()
                for upload in files:
                    filename = safe_name(upload.filename, f"{kind}.txt")
                    while filename.lower() in taken:
                        filename = "_" + filename
                    taken.add(filename.lower())
                    target.append(await save(upload, sub / filename))
            # An address is passed as typed: the library tells it from a file and fetches it.
            addresses = (feed_url,) if feed_url else ()
            result = await run_in_threadpool(
                create_campaign,
                studio.workspace,
                name,
                posts=tuple(saved_posts),
                feeds=addresses + tuple(str(path) for path in saved_feeds),
                since=since,
            )
    except ValueError:
        return again(f"'Posts since' must be a date like 2026-12-01, not {since_text!r}.", "")
    except ChairsideError as exc:
        return again(exc.format_message(), since_text)
    with studio.lock:
        studio.notes[name] = result.notes
    return RedirectResponse(f"/c/{name}/edit?created={len(result.posts)}", 303)


routes = [
    Route("/", campaigns),
    Route("/new", new_form),
    post("/new", create),
]
