"""Inbox: read the practice's mailbox now, see what was done, and decide what was held.

The same library calls as `chairside inbox` (`read_mailbox`, `review.decide`); what is held
is listed masked until "Show addresses", each with Apply and Dismiss buttons. Errors are told
in this page's words: what to do, never a file or a command.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from chairside.audience.addresses import mask
from chairside.errors import ChairsideError
from chairside.studio.pagekit import post, studio_of

NOT_SET_UP = (
    "The practice's mailbox is not set up yet, or its settings are incomplete: fill in "
    "the mailbox (server, login) in Settings, then read it again."
)
UNREACHABLE = (
    "The mail server could not be reached, or it refused the login, so nothing was read. "
    "Check the mailbox settings and its password in Settings, and the internet connection."
)
LOST = (
    "The connection to the mail server was lost while reading. Everything read before that "
    "is kept; press Read the mailbox now again to carry on."
)


def _context(request: Request, show: bool) -> dict:
    from chairside.delivery import state_dir
    from chairside.returnpath.review import WHAT, masked, refusal_lines
    from chairside.returnpath.state import DB_FILE, ReturnState

    folder = state_dir(studio_of(request).workspace)
    if not (folder / DB_FILE).is_file():
        return {"held": [], "refusals": [], "show": show}
    state = ReturnState(folder)
    try:
        held = [
            {
                "id": item.id,
                "what": WHAT.get(item.kind, item.kind),
                "campaign": item.campaign or "",
                "who": item.email if show else mask(item.email),
                "says": masked(item.detail, show=show),
                "why": item.reason,
                "evidence": masked(item.evidence, show=show),
            }
            for item in state.held()
        ]
        refusals = [line.strip() for line in refusal_lines(state.refusals())]
    finally:
        state.close()
    return {"held": held, "refusals": refusals, "show": show}


async def page(request: Request) -> Response:
    show = request.query_params.get("show") == "1"
    context = await run_in_threadpool(_context, request, show)
    return studio_of(request).render(request, "inbox.html", **context)


def _done_lines(report) -> list[str]:
    """What the reading did, as the CLI prints it (addresses masked), without its hints."""
    from chairside.returnpath.inbox import lines_for

    return [line.strip() for line in lines_for(report, show=False) if "`" not in line]


async def read(request: Request, form: FormData) -> Response:
    from chairside.delivery import state_dir
    from chairside.returnpath.mailbox import (
        MailboxLost,
        MailboxNotSetUp,
        MailboxUnreachable,
        read_mailbox,
    )

    studio = studio_of(request)
    workspace = studio.workspace
    error, done, summary = None, [], ""
    try:
        report, _user = await run_in_threadpool(
            lambda: read_mailbox(workspace, state_dir(workspace))
        )
    except MailboxNotSetUp:
        error = NOT_SET_UP
    except MailboxUnreachable:
        error = UNREACHABLE
    except MailboxLost:
        error = LOST
    else:
        summary = (
            f"{report.new} new message{'s' * (report.new != 1)} read, "
            f"{len(report.suppressed)} patient{'s' * (len(report.suppressed) != 1)} taken off "
            f"the list, {len(report.held)} held for you to decide."
        )
        done = _done_lines(report)
    context = await run_in_threadpool(_context, request, False)
    return studio.render(
        request,
        "inbox.html",
        status_code=400 if error else 200,
        error=error,
        summary=summary,
        done=done,
        **context,
    )


async def decide(request: Request, form: FormData) -> Response:
    from chairside.delivery import state_dir
    from chairside.returnpath.review import decide as decide_items
    from chairside.returnpath.state import LedgerView, ReturnState, one_at_a_time

    studio = studio_of(request)
    workspace = studio.workspace
    action = str(form.get("action", ""))
    try:
        held_id = int(str(form.get("id", "")))
    except ValueError:
        held_id = -1
    if action not in ("apply", "dismiss") or held_id < 0:
        raise ChairsideError("Choose Apply or Dismiss beside an item of the list.")

    def run() -> str:
        folder = state_dir(workspace)
        with one_at_a_time(folder, "the studio's Inbox page"):
            state = ReturnState(folder)
            try:
                if state.held_one(held_id) is None:
                    return "That item is no longer in the list; the list below is up to date."
                [decision] = decide_items(
                    workspace, state, LedgerView(folder), [held_id], apply=action == "apply"
                )
            finally:
                state.close()
        return f"{mask(decision.held.email)}: {decision.done}."

    notice = await run_in_threadpool(run)
    context = await run_in_threadpool(_context, request, False)
    return studio.render(request, "inbox.html", notice=notice, **context)


routes = [
    Route("/inbox", page),
    post("/inbox/read", read),
    post("/inbox/decide", decide),
]
