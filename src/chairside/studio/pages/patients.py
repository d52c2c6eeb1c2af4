"""Patients: upload the practice software's export, see who can be emailed in which version
and every row that can't (line and reason), and say which column is which.

The list is read by `chairside.audience.patients.load_audience`, as `chairside audience`
reads it. An upload keeps its format (a spreadsheet stays audiences/patients.xlsx, .xls or
.ods) and replaces the list only once it reads; one that doesn't (say, its email column has
an unusual name) waits in .chairside/ until its columns are chosen, and the current list is
untouched meanwhile. A column choice is kept with the headers it was made for
(audience/columnchoice.py), so next month's export with other headers is read by its
column names; a file with no address in it is "not a patient list", not a column problem.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from chairside.audience.columnchoice import columns_for, forget_columns, remember_columns
from chairside.audience.columns import SETTABLE
from chairside.audience.patients import Audience, read_audience
from chairside.audience.segments import load_patient_settings, load_segments
from chairside.audience.suppression import read_suppressed
from chairside.audience.table import DELIMITER_NAMES, has_addresses, open_table, table_headers
from chairside.delivery import state_dir
from chairside.errors import ChairsideError
from chairside.studio import state
from chairside.studio.pagekit import post, studio_of
from chairside.studio.uploads import safe_name, save, uploads
from chairside.studio.words import plain
from chairside.workspace import PATIENT_FILES, Workspace

PENDING = "studio-upload"
FORMATS = {".csv": ".csv", ".txt": ".csv", ".tsv": ".csv", ".xlsx": ".xlsx", ".xlsm": ".xlsx",
           ".xls": ".xls", ".ods": ".ods"}  # fmt: skip
"""An upload's extension → the extension the list keeps (text is kept as .csv)."""
FIELD_LABELS = {
    "email": "Email address",
    "first_name": "First name",
    "preferred_name": "Preferred name (used before the first name)",
    "name": "Full name (if there is no first-name column)",
    "concerns": "Concerns (what the front desk types)",
    "consent": "Consent to email (yes/no)",
    "opt_out": "Opted out of email (yes/no)",
}


def read_with(workspace: Workspace, path: Path, mapping: dict[str, str]) -> Audience:
    """`load_audience`, for `path` and a column mapping not yet saved."""
    settings = load_patient_settings(workspace.segments_file)
    return read_audience(
        path,
        load_segments(workspace.segments_file),
        mapping=mapping,
        suppressed=read_suppressed(workspace.suppressed_file),
        require_consent=settings.require_consent,
    )


def detected(path: Path, mapping: dict[str, str]) -> dict[str, str]:
    """Field → the header Chairside uses for it (the mapping's, or the one it recognised)."""
    try:
        source = open_table(path, mapping=mapping)
    except ChairsideError:
        return {}
    headers = source.columns.headers
    return {f: headers[i].strip() for f, i in source.columns.index.items() if f in SETTABLE}


def _columns(workspace: Workspace) -> dict:
    """The current list's headers, the kept choice for them, what is recognised: cached
    with the list."""
    path = workspace.patients_file

    def read() -> dict:
        settings = load_patient_settings(workspace.segments_file)
        mapping = columns_for(path, settings)
        headers = _headers(path)
        kept = next((c for c in settings.choices if c.fits(headers)), None)
        return {"mapping": mapping, "headers": headers, "found": detected(path, mapping),
                "kept": kept}  # fmt: skip

    return state.CACHE.get(("columns", str(workspace.root)), [path, workspace.segments_file], read)


def _report(workspace: Workspace, *, show: bool, wait: float | None = None) -> dict:
    """The page's context; with `wait`, the list's part is left to a fragment ("Counting
    patients…", `counting`) when reading it takes longer than that."""
    path = workspace.patients_file
    segments = load_segments(workspace.segments_file)
    context: dict = {
        "segments": segments,
        "names": {s.id: s.name for s in segments},
        "fields": FIELD_LABELS,
        "mapping": {},
        "show": show,
        "source": state.record(workspace, "patients").get("uploaded", ""),
        "headers": [],
        "found": {},
        "kept": None,
        "audience": None,
        "counting": False,
    }
    if not path.is_file():
        return context
    context.update(_columns(workspace))
    if wait is not None:
        ready = state.audience_ready if show else state.summary_ready
        if not ready(workspace, wait):
            context["counting"] = True
            return context
    try:
        # Addresses only when asked for: else the summary, kept across restarts.
        summary = state.list_summary(workspace)
        audience = state.audience(workspace) if show else None
    except ChairsideError as exc:
        context["error"] = plain(exc.format_message())
        return context
    context.update(
        audience=summary,
        delimiter=DELIMITER_NAMES[summary["delimiter"]],
        counts=summary["counts"],
        rejected=(
            [(r.line, r.reason, r.value) for r in audience.rejected[: state.SHOW_AT_MOST]]
            if audience
            else [tuple(r) for r in summary["rejected"]]
        ),
        rejected_count=summary["rejected_count"],
        patients=audience.patients[: state.SHOW_AT_MOST] if audience else [],
    )
    return context


async def patients(request: Request) -> Response:
    studio = studio_of(request)
    show = request.query_params.get("show") == "1"
    context = await run_in_threadpool(_report, studio.workspace, show=show, wait=state.WAIT)
    return studio.render(request, "patients.html", **context)


async def patients_list(request: Request) -> Response:
    """The list's part of the page alone, loaded by the page when counting took a while."""
    studio = studio_of(request)
    show = request.query_params.get("show") == "1"
    context = await run_in_threadpool(_report, studio.workspace, show=show)
    return studio.render(request, "patients_list.html", fragment=True, **context)


def _mapping(form: FormData) -> dict[str, str]:
    return {f: str(form.get(f"col_{f}", "")).strip() for f in SETTABLE if form.get(f"col_{f}")}


async def columns(request: Request, form: FormData) -> Response:
    """Keep the chosen columns for the current list's headers, once the list reads with
    them."""
    studio = studio_of(request)
    workspace = studio.workspace
    mapping = _mapping(form)
    path = workspace.patients_file

    def keep() -> None:
        read_with(workspace, path, mapping)
        remember_columns(workspace.segments_file, _headers(path), mapping)

    try:
        await run_in_threadpool(keep)
    except ChairsideError as exc:
        context = await run_in_threadpool(_report, workspace, show=False)
        context.update(columns_error=_told(exc, path, "The list"), mapping=mapping)
        return studio.render(request, "patients.html", status_code=400, **context)
    context = await run_in_threadpool(_report, workspace, show=False)
    context["notice"] = (
        "Columns saved, for files with these columns. An export with other columns is "
        "read by its column names."
    )
    return studio.render(request, "patients.html", **context)


async def forget(request: Request, form: FormData) -> Response:
    """Forget the choice kept for the current list's headers: back to recognising names."""
    studio = studio_of(request)
    workspace = studio.workspace
    path = workspace.patients_file
    await run_in_threadpool(lambda: forget_columns(workspace.segments_file, _headers(path)))
    context = await run_in_threadpool(_report, workspace, show=False)
    context["notice"] = "The column choice is forgotten: columns are recognised by their names."
    return studio.render(request, "patients.html", **context)


def _headers(path: Path) -> list[str]:
    """The file's column names (none when it has no header row to offer)."""
    try:
        return table_headers(path)
    except ChairsideError:
        return []


def _pending(workspace: Workspace) -> Path | None:
    found = sorted(state_dir(workspace).glob(f"{PENDING}.*"))
    return found[0] if found else None


def _told(exc: ChairsideError, path: Path, name: str) -> str:
    """The library's message in the studio's words, naming the file the office uploaded,
    not where it was saved."""
    return plain(exc.format_message().replace(str(path), name))


def _adopt(workspace: Workspace, uploaded: Path, mapping: dict[str, str] | None) -> Audience:
    """Read `uploaded`; if it reads, it becomes the patient list, in its own format (and
    `mapping`, when given, is kept for its headers). Raises, leaving everything as it was,
    if it doesn't."""
    settings = load_patient_settings(workspace.segments_file)
    chosen = columns_for(uploaded, settings) if mapping is None else mapping
    audience = read_with(workspace, uploaded, chosen)
    if mapping is not None:
        remember_columns(workspace.segments_file, _headers(uploaded), mapping)
    target = workspace.audiences_dir / f"patients{uploaded.suffix}"
    os.replace(uploaded, target)
    for name in PATIENT_FILES:  # one list: the one just uploaded
        if workspace.audiences_dir / name != target:
            (workspace.audiences_dir / name).unlink(missing_ok=True)
    return audience


def _not_a_list(name: str) -> str:
    return (
        f"{name} is not a patient list: none of its first rows holds an email address. "
        "Export the patient list from your practice software (as CSV or a spreadsheet) and "
        "upload that file."
    )


async def upload(request: Request, form: FormData) -> Response:
    studio = studio_of(request)
    workspace = studio.workspace
    files = uploads(form, "export")
    if not files:
        return await _again(request, "Choose the patient export file to upload first.")
    name = safe_name(files[0].filename, "The upload")
    suffix = FORMATS.get(Path(name).suffix.lower(), ".csv")
    workspace.audiences_dir.mkdir(parents=True, exist_ok=True)
    # In the same folder as the list, so the final rename is atomic.
    fd, temp = tempfile.mkstemp(dir=workspace.audiences_dir, prefix=".upload-", suffix=suffix)
    os.close(fd)
    temporary = Path(temp)
    try:
        await save(files[0], temporary)
        if not await run_in_threadpool(has_addresses, temporary):
            return await _again(request, _not_a_list(name))
        await run_in_threadpool(_adopt, workspace, temporary, None)
    except ChairsideError as exc:
        _discard(workspace)
        if temporary.exists() and temporary.stat().st_size:
            pending = state_dir(workspace) / f"{PENDING}{suffix}"
            pending.parent.mkdir(parents=True, exist_ok=True)
            os.replace(temporary, pending)
            state.remember(workspace, "patients", pending=name)
        return await _pending_page(request, _told(exc, temporary, name))
    finally:
        temporary.unlink(missing_ok=True)
    _discard(workspace)
    state.remember(workspace, "patients", uploaded=name)
    context = await run_in_threadpool(_report, workspace, show=False)
    context["notice"] = f"Uploaded {name}: it is the patient list now."
    return studio.render(request, "patients.html", **context)


async def _again(request: Request, error: str) -> Response:
    """The page with `error` beside the upload form."""
    studio = studio_of(request)
    context = await run_in_threadpool(_report, studio.workspace, show=False)
    context["upload_error"] = error
    return studio.render(request, "patients.html", status_code=400, **context)


async def _pending_page(request: Request, error: str) -> Response:
    studio = studio_of(request)
    workspace = studio.workspace
    pending = _pending(workspace)
    context = await run_in_threadpool(_report, workspace, show=False)
    context.update(
        upload_error=error,
        pending_headers=_headers(pending) if pending else [],
        pending_found=detected(pending, {}) if pending else {},
    )
    return studio.render(request, "patients.html", status_code=400, **context)


async def upload_columns(request: Request, form: FormData) -> Response:
    """Use the waiting upload with the columns chosen for it."""
    studio = studio_of(request)
    workspace = studio.workspace
    pending = _pending(workspace)
    if pending is None:
        return await _again(request, "There is no upload waiting: upload the export again.")
    try:
        await run_in_threadpool(_adopt, workspace, pending, _mapping(form))
    except ChairsideError as exc:
        return await _pending_page(request, _told(exc, pending, "The waiting upload"))
    uploaded = state.record(workspace, "patients").get("pending") or pending.name
    state.remember(workspace, "patients", uploaded=uploaded)
    context = await run_in_threadpool(_report, workspace, show=False)
    context["notice"] = "Uploaded: it is the patient list now; its columns are kept for it."
    return studio.render(request, "patients.html", **context)


def _discard(workspace: Workspace) -> None:
    for waiting in state_dir(workspace).glob(f"{PENDING}.*"):
        waiting.unlink(missing_ok=True)


async def discard(request: Request, form: FormData) -> Response:
    """Forget the waiting upload (it holds patient data: it is not left lying around)."""
    studio = studio_of(request)
    _discard(studio.workspace)
    context = await run_in_threadpool(_report, studio.workspace, show=False)
    context["notice"] = "The upload was discarded; the list is as it was."
    return studio.render(request, "patients.html", **context)


routes = [
    Route("/patients", patients),
    Route("/patients/list", patients_list),
    post("/patients/upload", upload),
    post("/patients/columns", columns),
    post("/patients/columns/forget", forget),
    post("/patients/upload/columns", upload_columns),
    post("/patients/upload/discard", discard),
]
