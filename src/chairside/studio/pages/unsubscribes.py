"""Unsubscribes: add addresses or unsubscribe codes, import a provider's export, or undo
either, in
audiences/suppressed.csv, through the functions `chairside unsubscribe` calls.

An import that looks like the patient list is refused as the CLI refuses it; where the CLI
asks for --yes, this page asks for a ticked box."""

from __future__ import annotations

from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from chairside.audience.addresses import mask
from chairside.audience.importguard import LooksLikePatientList, refuse_patient_list
from chairside.audience.suppression import (
    SuppressionResult,
    UndoResult,
    add_suppressions,
    entries_from_export,
    imported_from,
    open_export,
    read_suppressed,
    standing_imports,
    typed_address,
    typed_entries,
    undo_suppressions,
)
from chairside.errors import ChairsideError
from chairside.studio.pagekit import post, studio_of
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
        "imports": standing_imports(workspace.suppressed_file),
    }


def _outcome(label: str, result: SuppressionResult) -> tuple[str, str | None]:
    """`chairside unsubscribe`'s summary line, and its error for unreadable addresses."""
    notice = f"{label}: {len(result.added)} added, {result.already} already there."
    error = None
    if result.invalid:
        listed = "\n".join(f"  {where}: {why}" for where, why in result.invalid)
        error = f"{len(result.invalid)} not added, not an address:\n{listed}"
    return notice, error


async def page(
    request: Request, *, errors: dict[str, str] | None = None, status_code: int = 200
) -> Response:
    """The page; `errors` beside their form ("add", "codes", "import", "undo", "undo-import")."""
    show = request.query_params.get("show") == "1"
    context = await run_in_threadpool(_context, request, show)
    return studio_of(request).render(
        request, "unsubscribes.html", status_code=status_code, errors=errors or {}, **context
    )


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
    entries = typed_entries(typed, reason)
    result = await run_in_threadpool(add_suppressions, workspace.suppressed_file, entries)
    return await _done(request, result)


async def add_codes(request: Request, form: FormData) -> Response:
    """Unsubscribe by the code from an unsubscribe link (`chairside unsubscribe --token`)."""
    from chairside.delivery import unsubscribe_codes

    workspace = studio_of(request).workspace
    reason = str(form.get("reason", "")).strip() or "unsubscribed"
    codes = [line.strip() for line in str(form.get("codes", "")).splitlines() if line.strip()]
    if not codes:
        raise ChairsideError("Paste one or more unsubscribe codes, one a line.")

    def add_them() -> tuple[SuppressionResult, list[tuple[str, str]]]:
        entries, bad = unsubscribe_codes(workspace, codes, reason)
        return add_suppressions(workspace.suppressed_file, entries), bad

    result, bad = await run_in_threadpool(add_them)
    if not bad:
        return await _done(request, result)
    studio = studio_of(request)
    context = await run_in_threadpool(_context, request, False)
    notice, _ = _outcome("Unsubscribe list", result)
    listed = "\n".join(f"{given}: {why}" for given, why in bad)
    error = f"{len(bad)} line{'s' * (len(bad) != 1)} not used (the others were):\n{listed}"
    return studio.render(
        request, "unsubscribes.html", status_code=400, notice=notice, codes_error=error, **context
    )


def _import(workspace, path: Path, *, confirmed: bool) -> SuppressionResult:
    table = open_export(path)
    entries = entries_from_export(table)
    refuse_patient_list(
        workspace,
        table,
        entries,
        label=path.name,
        confirmed=confirmed,
        how_to_confirm="tick 'Import it all the same' and import it again (it can be undone "
        "below, under 'Undo an import')",
    )
    return add_suppressions(workspace.suppressed_file, entries)


async def import_export(request: Request, form: FormData) -> Response:
    studio = studio_of(request)
    files = uploads(form, "export")
    if not files:
        raise ChairsideError("Choose the provider's unsubscribe or bounce export first.")
    confirmed = form.get("confirmed") == "yes"
    with scratch_dir() as folder:
        path = await save(files[0], folder / safe_name(files[0].filename, "export.csv"))
        try:
            result = await run_in_threadpool(
                lambda: _import(studio.workspace, path, confirmed=confirmed)
            )
        except LooksLikePatientList as exc:
            context = await run_in_threadpool(_context, request, False)
            return studio.render(
                request,
                "unsubscribes.html",
                status_code=400,
                error=exc.format_message(),
                confirm_import=True,
                **context,
            )
    return await _done(request, result)


async def _undone(request: Request, result: UndoResult) -> Response:
    """`chairside unsubscribe --undo`'s summary line."""
    studio = studio_of(request)
    context = await run_in_threadpool(_context, request, False)
    notice = (
        f"{context['label']}: {len(result.resubscribed)} resubscribed, "
        f"{len(result.not_suppressed)} were not suppressed."
    )
    return studio.render(request, "unsubscribes.html", notice=notice, **context)


async def undo(request: Request, form: FormData) -> Response:
    """Take unsubscribes back (`chairside unsubscribe --undo ADDRESS --reason WHY`)."""
    workspace = studio_of(request).workspace
    typed = [line.strip() for line in str(form.get("addresses", "")).splitlines() if line.strip()]
    if not typed:
        raise ChairsideError("Type the addresses to email again, one a line.")
    addresses = [typed_address(text) for text in typed]
    why = str(form.get("reason", "")).strip()
    result = await run_in_threadpool(
        lambda: undo_suppressions(workspace.suppressed_file, addresses, why=why)
    )
    return await _undone(request, result)


async def undo_import(request: Request, form: FormData) -> Response:
    """Take back everything one import suppressed (`chairside unsubscribe --undo-import`)."""
    workspace = studio_of(request).workspace
    name = str(form.get("name", "")).strip()
    if not name:
        raise ChairsideError("Choose the import to undo.")
    why = str(form.get("reason", "")).strip()

    def undo_it() -> UndoResult:
        addresses = imported_from(workspace.suppressed_file, name)
        return undo_suppressions(workspace.suppressed_file, addresses, why=why)

    return await _undone(request, await run_in_threadpool(undo_it))


routes = [
    Route("/unsubscribes", page),
    post("/unsubscribes/add", add, again=page, where="add"),
    post("/unsubscribes/codes", add_codes, again=page, where="codes"),
    post("/unsubscribes/import", import_export, again=page, where="import"),
    post("/unsubscribes/undo", undo, again=page, where="undo"),
    post("/unsubscribes/undo-import", undo_import, again=page, where="undo-import"),
]
