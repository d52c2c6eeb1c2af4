"""Reports and sync: how each sent campaign went (the figures and charts of `chairside
report`, and its page written to the build folder as the CLI writes it), and a Sync button
for each provider the practice uses (what `chairside sync --from NAME` does).

Keys come from `chairside.secrets`; a provider without one says so and points to Settings,
in this page's words: no file, setting name, option or command is named here.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from chairside import secrets
from chairside.campaign import check_name
from chairside.errors import ChairsideError
from chairside.returnpath.reportpage import STYLE, day, title
from chairside.returnpath.sync import PROVIDERS
from chairside.studio.pagekit import post, studio_of
from chairside.workspace import Workspace, load_practice

SHOW_AT_MOST = 20
NEEDS = {"mailchimp": ("audience_id", "audience"), "mailgun": ("domain", "sending domain")}
"""Provider → (its setting that sync needs, that setting as people say it)."""


@dataclass
class Provider:
    name: str
    title: str
    missing: str = ""
    """Why it cannot be synced now, in this page's words ("" when it can)."""


def providers(workspace: Workspace) -> list[Provider]:
    """The providers the practice set up or sent through, each with what is missing."""
    from chairside.delivery import state_dir
    from chairside.returnpath.state import latest_sends

    practice = load_practice(workspace)
    used = set(latest_sends(state_dir(workspace), excluding=None))
    found = []
    for name in PROVIDERS:
        if name not in practice.providers and name not in used:
            continue
        provider = Provider(name, title(name))
        setting = NEEDS.get(name)
        if not secrets.get(name):
            provider.missing = f"No {provider.title} key is saved yet."
        elif setting and not str(practice.providers.get(name, {}).get(setting[0], "")).strip():
            provider.missing = f"No {provider.title} {setting[1]} is set yet."
        found.append(provider)
    return found


def sent_campaigns(workspace: Workspace) -> list[tuple[str, str]]:
    """(campaign, first sent) of every campaign with a message sent, newest first."""
    from chairside.delivery import state_dir
    from chairside.returnpath.state import LedgerView

    first: dict[str, str] = {}
    for delivery in LedgerView(state_dir(workspace)).deliveries:
        if delivery.status == "sent":
            first[delivery.campaign] = min(first.get(delivery.campaign, delivery.at), delivery.at)
    return sorted(first.items(), key=lambda item: item[1], reverse=True)


def _context(workspace: Workspace) -> dict:
    return {"providers": providers(workspace), "campaigns": sent_campaigns(workspace), "day": day}


async def reports(request: Request) -> Response:
    studio = studio_of(request)
    context = await run_in_threadpool(_context, studio.workspace)
    return studio.render(request, "reports.html", **context)


@dataclass
class SyncDone:
    provider: str
    read: int
    pages: int
    new: list[tuple[str, str, str]]
    """(what, masked address, detail) of each new record, the first SHOW_AT_MOST."""
    more: int
    added: int
    already: int


WHAT = {
    "unsubscribe": "unsubscribed",
    "bounce": "bounced (address gone)",
    "soft-bounce": "bounced for now",
    "complaint": "marked as spam",
}


def _sync(workspace: Workspace, name: str) -> SyncDone:
    from chairside.audience.addresses import mask
    from chairside.delivery import state_dir
    from chairside.returnpath.state import one_at_a_time
    from chairside.returnpath.sync import sync

    practice = load_practice(workspace)
    with one_at_a_time(state_dir(workspace), "The studio's Sync"):
        report = sync(workspace, practice, name, api_base=None, options={}, dry_run=False)
    new = [o for o in report.outcomes if o.new]
    shown = [
        (WHAT.get(o.event.kind, o.event.kind), mask(o.event.email), o.event.detail)
        for o in new[:SHOW_AT_MOST]
    ]
    return SyncDone(
        title(name),
        report.records,
        report.pages,
        shown,
        max(0, len(new) - SHOW_AT_MOST),
        len(report.suppressed),
        report.already_suppressed,
    )


async def sync_now(request: Request, form: FormData) -> Response:
    studio = studio_of(request)
    name = request.path_params["provider"]
    context = await run_in_threadpool(_context, studio.workspace)
    provider = next((p for p in context["providers"] if p.name == name), None)
    if provider is None or provider.missing:
        why = provider.missing if provider else f"{title(name)} is not set up for this practice."
        return studio.render(
            request, "reports.html", status_code=400, sync_error=(name, why), **context
        )
    try:
        done = await run_in_threadpool(_sync, studio.workspace, name)
    except ChairsideError as exc:
        return studio.render(
            request,
            "reports.html",
            status_code=400,
            sync_error=(name, _sync_failure(provider, exc)),
            **context,
        )
    return studio.render(request, "reports.html", synced=done, **context)


def _sync_failure(provider: Provider, exc: ChairsideError) -> str:
    """What went wrong, in this page's words (the library's name variables and commands)."""
    text = exc.message
    if "is reading unsubscribes and bounces" in text:
        return (
            "Unsubscribes and bounces are being read right now (by the Inbox or another "
            "Sync); wait for that to finish, then press Sync again."
        )
    if "API key" in text or "401" in text or "403" in text:
        reason = f"{provider.title} refused the key"
    else:
        reason = f"{provider.title} could not be reached, or answered something unexpected"
    return (
        f"{reason}. What was read before that is kept and nothing was lost. Check the "
        f"{provider.title} key on the Settings page, then press Sync again."
    )


def _report(workspace: Workspace, name: str, show: bool) -> str | None:
    """The report's HTML fragment, its page written as the CLI writes it; None when
    nothing of `name` was sent."""
    from chairside.returnpath.report import build_report
    from chairside.returnpath.reportpage import body, write_page

    if name not in dict(sent_campaigns(workspace)):
        return None
    practice = load_practice(workspace)
    ask = {p.name for p in providers(workspace) if not p.missing}
    report = build_report(workspace, practice, name, show=show, ask=ask)
    for provider in providers(workspace):
        if provider.missing and provider.name in report.routes:
            report.unanswered.pop(provider.name, None)
            report.notes.append(
                f"{provider.missing} Add it on the Settings page to see this campaign's "
                "opens and clicks."
            )
    write_page(report, workspace.build_dir / name / "report.html", shown=show)
    return body(report, shown=show, for_studio=True)


async def campaign_report(request: Request) -> Response:
    studio = studio_of(request)
    name = check_name(request.path_params["name"])
    show = request.query_params.get("show") == "1"
    fragment = await run_in_threadpool(_report, studio.workspace, name, show)
    return studio.render(
        request, "report.html", name=name, fragment=fragment, style=STYLE, show=show
    )


routes = [
    Route("/reports", reports),
    Route("/c/{name}/report", campaign_report),
    post("/sync/{provider}", sync_now),
]
