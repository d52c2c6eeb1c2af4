"""Unsubscribes: add addresses or import a provider's export into audiences/suppressed.csv,
through the functions `chairside unsubscribe` calls."""

from __future__ import annotations

from email.utils import parseaddr

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from chairside.audience.addresses import mask
from chairside.audience.suppression import (
    SuppressionResult,
    add_suppressions,
    entries_from_export,
    open_export,
    read_suppressed,
)
from chairside.errors import ChairsideError
from chairside.studio.app import post, studio_of
from chairside.studio.uploads import safe_name, save, scratch_dir, uploads

SHOW_AT_MOST = 2000


def _context(request: Request, show: bool) -> dict:
    workspace = studio_of(request).workspace
    found = sorted(read_suppressed(workspace.suppressed_file))
    shown = found[:SHOW_AT_MOST]
    return {
        "label": workspace.relative(workspace.suppressed_file),
        "total": len(found),
        "addresses": shown if show else [mask(a) for a in shown],
        "show": show,
    }


def _outcome(label: str, result: SuppressionResult) -> tuple[str, str | None]:
    """`chairside unsubscribe`'s summary line, and its error for unreadable addresses."""
    notice = f"{label}: {len(result.added)} added, {result.already} already there."
    error = None
    if result.invalid:
        listed = "\n".join(f"  {where}: {why}" for where, why in result.invalid)
        error = f"{len(result.invalid)} not added, not an address:\n{listed}"
    return notice, error


async def page(request: Request) -> Response:
    show = request.query_params.get("show") == "1"
    context = await run_in_threadpool(_context, request, show)
    return studio_of(request).render(request, "unsubscribes.html", **context)


async def _done(request: Request, result: SuppressionResult) -> Response:
    studio = studio_of(request)
    context = await run_in_threadpool(_context, request, False)
    notice, error = _outcome(context["label"], result)
    return studio.render(
        request,
        "unsubscribes.html",
        status_code=400 if error else 200,
        notice=notice,
        error=error,
        **context,
    )


async def add(request: Request, form: FormData) -> Response:
    workspace = studio_of(request).workspace
    reason = str(form.get("reason", "")).strip() or "unsubscribed"
    typed = [line.strip() for line in str(form.get("addresses", "")).splitlines() if line.strip()]
    if not typed:
        raise ChairsideError("Type one or more addresses, one a line.")
    # "Maria Lopez <maria@example.com>", as copied from a mail program, means the address.
    entries = [(parseaddr(text)[1] or text, reason, repr(text)) for text in typed]
    result = await run_in_threadpool(add_suppressions, workspace.suppressed_file, entries)
    return await _done(request, result)


async def import_export(request: Request, form: FormData) -> Response:
    workspace = studio_of(request).workspace
    files = uploads(form, "export")
    if not files:
        raise ChairsideError("Choose the provider's unsubscribe or bounce export first.")
    with scratch_dir() as folder:
        path = await save(files[0], folder / safe_name(files[0].filename, "export.csv"))
        entries = await run_in_threadpool(lambda: entries_from_export(open_export(path)))
        result = await run_in_threadpool(add_suppressions, workspace.suppressed_file, entries)
    return await _done(request, result)


routes = [
    Route("/unsubscribes", page),
    post("/unsubscribes/add", add),
    post("/unsubscribes/import", import_export),
]
