"""Edit: subject, preheader, intro, per-concern subject and intro, post order and format;
the preview of every version beside the form, and `check`'s findings beside their field."""

from __future__ import annotations

import contextlib
import json
import re
import threading

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from chairside.audience.segments import load_segments
from chairside.campaign import (
    FORMAT_LABELS,
    campaign_file,
    check_name,
    load_settings,
    read_articles,
)
from chairside.content.topics import explain
from chairside.errors import ChairsideError
from chairside.studio import state
from chairside.studio.campaignform import CampaignForm, save_campaign
from chairside.studio.pagekit import post, studio_of
from chairside.studio.state import delivery, delivery_ready, fingerprint, record, remember
from chairside.studio.uploads import scratch_dir
from chairside.studio.words import plain
from chairside.workspace import Workspace

# The email preview is the practice's own page, but it is shown sandboxed: no script runs,
# nothing of the studio is reachable from it.
PREVIEW_CSP = "sandbox; default-src 'none'; img-src https: http: data:; style-src 'unsafe-inline'"


def build_and_check(workspace: Workspace, name: str) -> dict:
    """`chairside build NAME` then `chairside check NAME`; the findings are remembered
    with the fingerprint they were made for (that is what makes a campaign "checked")."""
    from chairside.build import build

    before = fingerprint(workspace, name)
    result = build(workspace, name)
    findings = [f.as_dict() for f in result.check(workspace)]
    errors = sum(1 for f in findings if f["severity"] == "error")
    remember(
        workspace,
        name,
        fingerprint=before,
        errors=errors,
        warnings=len(findings) - errors,
        findings=findings,
    )
    return record(workspace, name)


_checks: dict[tuple[str, str], threading.Lock] = {}
_checks_lock = threading.Lock()


def current_check(workspace: Workspace, name: str) -> dict:
    """The remembered check if nothing changed since, else a fresh build and check (one at
    a time per campaign: a second asker waits, then finds it remembered)."""
    with _checks_lock:
        lock = _checks.setdefault((str(workspace.root), name), threading.Lock())
    with lock:
        if is_current(workspace, name):
            return record(workspace, name)
        return build_and_check(workspace, name)


def is_current(workspace: Workspace, name: str) -> bool:
    """Whether the remembered check was made for the campaign as it is now, and built."""
    built = (workspace.build_dir / name / "manifest.json").is_file()
    return built and record(workspace, name).get("fingerprint") == fingerprint(workspace, name)


def check_ready(workspace: Workspace, name: str, wait: float) -> bool:
    """Whether `current_check` answers within `wait` seconds (else it goes on in the
    background, and the page loads the form once it is done)."""
    if is_current(workspace, name):
        return True

    def check() -> None:
        with contextlib.suppress(ChairsideError):  # the form's request shows it
            current_check(workspace, name)

    worker = threading.Thread(target=check, daemon=True)
    worker.start()
    worker.join(wait)
    return not worker.is_alive()


def place_findings(findings: list[dict], titles: dict[str, str]) -> dict[str, list[dict]]:
    """Group findings by the field or post they concern ("other" for the rest); the same
    finding in several versions is shown once, naming them."""
    placed: dict[str, dict[tuple, dict]] = {}
    for finding in findings:
        where = finding["where"].lower()
        rule = finding["rule"]
        key = "other"
        segment = re.search(r"\[segments\.(\w+)\] (subject|intro)", finding["where"])
        if segment:
            key = f"{segment.group(2)}:{segment.group(1)}"
        elif where.startswith("subject") or rule.startswith("subject"):
            key = "subject"
        elif "preheader" in where or rule == "preheader-missing":
            key = "preheader"
        elif "intro" in where:
            key = "intro"
        else:
            # A post is named by its file first (checks/places.py), else by its title.
            for file, title in titles.items():
                if where.startswith(file.lower()) or (title and title.lower() in where):
                    key = f"post:{file}"
                    break
        group = placed.setdefault(key, {})
        ident = (finding["rule"], finding["severity"], finding["where"], finding["message"])
        if ident in group:
            group[ident]["variants"].append(finding["variant"])
        else:
            group[ident] = {**finding, "variants": [finding["variant"]]}
    return {key: list(group.values()) for key, group in placed.items()}


def _page_context(workspace: Workspace, name: str) -> dict:
    """What the form shows: the settings as the CLI reads them, and each post's concerns."""
    segments = load_segments(workspace.segments_file)
    settings = load_settings(workspace, name, segments)
    posts = []
    try:
        articles = read_articles(workspace, name, settings, segments)
    except ChairsideError:
        articles = ()
    files = [entry.file for entry in settings.posts]
    by_file = dict(zip(files, articles, strict=True)) if articles else {}
    names = {s.id: s.name for s in segments}
    for entry in settings.posts:
        article = by_file.get(entry.file)
        tags = entry.tags if entry.tags is not None else (article.tags if article else ())
        title = article.title if article else ""
        why = explain(article, segments).lines(names) if article else []  # what Chairside saw
        posts.append({"file": entry.file, "title": title, "tags": tags, "why": why})
    return {
        "name": name,
        "settings": settings,
        "segments": segments,
        "concerns": [s for s in segments if not s.is_general],
        "names": {s.id: s.name for s in segments},
        "posts": posts,
        "formats": FORMAT_LABELS,
    }


def _previews(workspace: Workspace, name: str) -> list[dict]:
    folder = workspace.build_dir / name
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        return [
            {**v, "text_body": (folder / v["text"]).read_text(encoding="utf-8")}
            for v in manifest["variants"]
        ]
    except (OSError, ValueError, KeyError):
        return []


def _load(workspace: Workspace, name: str, *, fresh: bool, wait: float | None = None) -> dict:
    """With `wait`, what was sent of it is left to a fragment (`delivered` None) when
    reading the send record takes longer than that."""
    context = _page_context(workspace, name)
    error = None
    checked: dict = {}
    try:
        checked = build_and_check(workspace, name) if fresh else current_check(workspace, name)
    except ChairsideError as exc:
        error = plain(exc.format_message())
    titles = {p["file"]: p["title"] for p in context["posts"]}
    context.update(
        error=error,
        findings=place_findings(checked.get("findings", []), titles) if checked else {},
        check_errors=checked.get("errors"),
        warnings=checked.get("warnings"),
        previews=_previews(workspace, name) if not error else [],
        version=checked.get("fingerprint", ""),
        delivered=(
            delivery(workspace, name)
            if wait is None or delivery_ready(workspace, name, wait)
            else None
        ),
    )
    return context


async def edit(
    request: Request,
    *,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    notice: str = "",
) -> Response:
    """The page; `errors` beside their form ("add" for adding posts, "page" at the top)."""
    studio = studio_of(request)
    name = check_name(request.path_params["name"])
    workspace = studio.workspace
    campaign_file(workspace, name)  # a typo is an error, not a page that checks nothing
    wait = None if errors else state.WAIT  # an error is shown beside its field, in the form
    if wait is not None and not await run_in_threadpool(check_ready, workspace, name, wait):
        context = {"name": name, "checking": True, "delivered": None}
    else:
        context = await run_in_threadpool(lambda: _load(workspace, name, fresh=False, wait=wait))
    with studio.lock:
        notes = studio.notes.pop(name, ())
    return studio.render(
        request,
        "edit.html",
        status_code=status_code,
        created=request.query_params.get("created"),
        copied=request.query_params.get("copied"),
        added=request.query_params.get("added"),
        notes=notes,
        errors=errors or {},
        notice=notice,
        **context,
    )


async def body(request: Request) -> Response:
    """The form with its previews and findings, loaded by the page when the campaign had
    to be built and checked first."""
    studio = studio_of(request)
    name = check_name(request.path_params["name"])
    context = await run_in_threadpool(_load, studio.workspace, name, fresh=False)
    return studio.render(request, "edit_body.html", fragment=True, **context)


async def sent(request: Request) -> Response:
    """What was sent of the campaign (a warning beside the form), loaded by the page when
    reading the send record took a while."""
    studio = studio_of(request)
    name = check_name(request.path_params["name"])
    found = await run_in_threadpool(delivery, studio.workspace, name)
    return studio.render(request, "edit_sent.html", delivered=found)


async def add(request: Request, form: FormData) -> Response:
    """Posts added to the campaign from files or a feed, read and tagged as `new` does."""
    from chairside.newcampaign import add_posts
    from chairside.studio.pages.campaigns import sources

    studio = studio_of(request)
    name = check_name(request.path_params["name"])
    with scratch_dir() as folder:
        posts, feeds, since = await sources(form, folder)
        result = await run_in_threadpool(
            lambda: add_posts(studio.workspace, name, posts=posts, feeds=feeds, since=since)
        )
    with studio.lock:
        studio.notes[name] = result.notes
    return RedirectResponse(f"/c/{name}/edit?added={len(result.posts)}", 303)


async def remove(request: Request, form: FormData) -> Response:
    """One post taken out of the campaign (its entry and its file); what was typed in the
    rest of the form is saved with it, not lost."""
    from chairside.campaignops import remove_post

    studio = studio_of(request)
    workspace = studio.workspace
    name = check_name(request.path_params["name"])
    file = str(form.get("remove", ""))
    segments = load_segments(workspace.segments_file)
    values = form_values(form, segments)
    values.posts = [(f, tags) for f, tags in values.posts if f != file]
    await run_in_threadpool(remove_post, workspace, name, file)
    try:
        if values.posts:
            await run_in_threadpool(save_campaign, workspace, name, values, segments)
    except ChairsideError as exc:
        return await edit(request, errors={"page": plain(exc.format_message())}, status_code=400)
    return await edit(request, notice=f"Removed the post {file}.")


def form_values(form: FormData, segments) -> CampaignForm:
    count = int(str(form.get("post_count", "0")) or 0)
    posts = []
    for index in range(count):
        file = str(form.get(f"post_file_{index}", ""))
        try:
            order = float(str(form.get(f"post_order_{index}", index + 1)))
        except ValueError:
            order = index + 1
        tags = tuple(str(t) for t in form.getlist(f"post_tags_{index}"))
        posts.append((order, index, file, tags))
    posts.sort()
    return CampaignForm(
        subject=str(form.get("subject", "")),
        preheader=str(form.get("preheader", "")),
        intro=str(form.get("intro", "")),
        format=str(form.get("format", "auto")),
        posts=[(file, tags) for _, _, file, tags in posts],
        segment_subjects={s.id: str(form.get(f"subject_{s.id}", "")) for s in segments},
        segment_intros={s.id: str(form.get(f"intro_{s.id}", "")) for s in segments},
        call_to_action=str(form.get("call_to_action", "")),
        segment_calls={s.id: str(form.get(f"call_{s.id}", "")) for s in segments},
    )


async def save(request: Request, form: FormData) -> Response:
    studio = studio_of(request)
    workspace = studio.workspace
    name = check_name(request.path_params["name"])
    segments = load_segments(workspace.segments_file)
    values = form_values(form, segments)
    try:
        await run_in_threadpool(save_campaign, workspace, name, values, segments)
    except ChairsideError as exc:
        context = await run_in_threadpool(_load, workspace, name, fresh=False)
        context["error"] = plain(exc.format_message())
        return studio.render(request, "edit.html", status_code=400, **context)
    context = await run_in_threadpool(_load, workspace, name, fresh=True)
    return studio.render(request, "edit.html", saved=True, **context)


async def preview(request: Request) -> Response:
    """A built version's HTML (filled for the sample patient), sandboxed."""
    studio = studio_of(request)
    name = check_name(request.path_params["name"])
    segment = request.path_params["segment"]
    folder = studio.workspace.build_dir / name
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        files = {v["segment"]: v["html"] for v in manifest["variants"]}
        html = (folder / files[segment]).read_text(encoding="utf-8")
    except (OSError, ValueError, KeyError):
        raise HTTPException(404, "No such preview: build the campaign first.") from None
    return HTMLResponse(html, headers={"content-security-policy": PREVIEW_CSP})


routes = [
    Route("/c/{name}/edit", edit),
    Route("/c/{name}/edit/sent", sent),
    Route("/c/{name}/edit/body", body),
    post("/c/{name}/edit", save),
    post("/c/{name}/posts/add", add, again=edit, where="add"),
    post("/c/{name}/posts/remove", remove, again=edit, where="posts"),
    Route("/c/{name}/preview/{segment}.html", preview),
]
