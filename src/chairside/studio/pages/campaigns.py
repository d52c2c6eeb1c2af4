"""The campaigns list (each with its state and next step as a link), starting a new
campaign from posts or a feed, or as a copy of an earlier one, and deleting a draft that was
never sent (after a confirmation)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from chairside.campaign import campaign_file, check_name
from chairside.campaignops import next_name
from chairside.errors import ChairsideError
from chairside.studio import state
from chairside.studio.pagekit import post, studio_of
from chairside.studio.state import campaign_names, campaign_state
from chairside.studio.uploads import safe_name, save, scratch_dir, uploads
from chairside.studio.words import plain


async def campaigns(request: Request, *, notice: str = "") -> Response:
    """The list at once when every campaign's send record is known within `WAIT`, else
    the page with the list loaded as a fragment (`campaign_list`)."""
    studio = studio_of(request)
    workspace = studio.workspace

    def read() -> list | None:
        names = campaign_names(workspace)
        if not state.deliveries_ready(workspace, names, state.WAIT):
            return None
        return [campaign_state(workspace, name) for name in names]

    states = await run_in_threadpool(read)
    return studio.render(
        request, "campaigns.html", campaigns=states, reading=states is None, notice=notice
    )


async def campaign_list(request: Request) -> Response:
    studio = studio_of(request)
    workspace = studio.workspace
    states = await run_in_threadpool(
        lambda: [campaign_state(workspace, name) for name in campaign_names(workspace)]
    )
    return studio.render(request, "campaigns_list.html", campaigns=states)


async def new_form(
    request: Request, *, errors: dict[str, str] | None = None, status_code: int = 200, **values
) -> Response:
    studio = studio_of(request)
    names = campaign_names(studio.workspace)
    context = {"name": next_name(names), "since": "", "feed_url": "", "copy_name": next_name(names)}
    context.update(values)
    return studio.render(
        request,
        "new.html",
        status_code=status_code,
        campaigns=names,
        errors=errors or {},
        **context,
    )


async def copy(request: Request, form: FormData) -> Response:
    """An earlier campaign's settings and posts as the start of a new one."""
    from chairside.campaignops import copy_campaign

    studio = studio_of(request)
    source = str(form.get("source", "")).strip()
    name = str(form.get("copy_name", "")).strip()
    try:
        await run_in_threadpool(copy_campaign, studio.workspace, source, name)
    except ChairsideError as exc:
        return await new_form(
            request, errors={"copy": plain(exc.format_message())}, status_code=400,
            copy_name=name, source=source,
        )  # fmt: skip
    return RedirectResponse(f"/c/{name}/edit?copied={source}", 303)


async def delete_form(request: Request) -> Response:
    """Asks first: what deleting removes, or why this campaign cannot be deleted."""
    from chairside.campaignops import never_sent

    studio = studio_of(request)
    name = check_name(request.path_params["name"])
    campaign_file(studio.workspace, name)
    refused = await run_in_threadpool(never_sent, studio.workspace, name)
    return studio.render(request, "delete.html", name=name, refused=plain(refused or ""))


async def delete(request: Request, form: FormData) -> Response:
    from chairside.campaignops import delete_draft, never_sent

    studio = studio_of(request)
    name = check_name(request.path_params["name"])
    try:
        await run_in_threadpool(delete_draft, studio.workspace, name)
    except ChairsideError:
        refused = await run_in_threadpool(never_sent, studio.workspace, name)
        return studio.render(
            request, "delete.html", status_code=400, name=name, refused=plain(refused or "")
        )
    return await campaigns(request, notice=f"{name} was deleted.")


async def sources(form: FormData, folder: Path):
    """What a "new" or "add posts" form gave, as `create_campaign` and `add_posts` take it:
    (post files, feeds, since), the uploads saved in `folder`. The feed address is passed
    as typed: the library tells it from a file and fetches it."""
    since_text = str(form.get("since", "")).strip()
    feed_url = str(form.get("feed_url", "")).strip()
    feeds, posts = uploads(form, "feeds"), uploads(form, "posts")
    try:
        since = date.fromisoformat(since_text) if since_text else None
    except ValueError:
        raise ChairsideError(
            f"'Posts since' must be a date like 1 December 2026, not {since_text!r}."
        ) from None
    if since and not (feeds or feed_url):
        raise ChairsideError(
            "'Posts since' filters a feed's posts; give the feed's address or upload a "
            "saved feed with it."
        )
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
    addresses = (feed_url,) if feed_url else ()
    return tuple(saved_posts), addresses + tuple(str(p) for p in saved_feeds), since


async def create(request: Request, form: FormData) -> Response:
    """`chairside new NAME --feed URL --feed F --since D --post P...`: the feed by its
    address (fetched by the library, as `new` fetches it) and/or uploaded files."""
    from chairside.newcampaign import create_campaign

    studio = studio_of(request)
    name = str(form.get("name", "")).strip()
    since_text = str(form.get("since", "")).strip()
    feed_url = str(form.get("feed_url", "")).strip()
    try:
        with scratch_dir() as folder:
            posts, feeds, since = await sources(form, folder)
            result = await run_in_threadpool(
                lambda: create_campaign(
                    studio.workspace, name, posts=posts, feeds=feeds, since=since
                )
            )
    except ChairsideError as exc:
        return await new_form(
            request, errors={"new": plain(exc.format_message())}, status_code=400, name=name,
            since=since_text, feed_url=feed_url,
        )  # fmt: skip
    with studio.lock:
        studio.notes[name] = result.notes
    return RedirectResponse(f"/c/{name}/edit?created={len(result.posts)}", 303)


routes = [
    Route("/", campaigns),
    Route("/campaigns/list", campaign_list),
    Route("/new", new_form),
    post("/new", create),
    post("/copy", copy),
    Route("/c/{name}/delete", delete_form),
    post("/c/{name}/delete", delete),
]
