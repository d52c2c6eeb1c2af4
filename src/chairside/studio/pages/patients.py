"""Patients: upload the practice software's export, see who can be emailed in which version
and every row that can't (line and reason), and say which column is which.

The list is read by `chairside.audience.patients.read_audience`, as `chairside audience`
reads it. An upload replaces audiences/patients.csv only once it reads; one that doesn't
(say, its email column has an unusual name) waits in .chairside/ until its columns are
chosen, and the current list is untouched meanwhile.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import tomlkit
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from chairside.audience.addresses import mask
from chairside.audience.columns import SETTABLE
from chairside.audience.patients import Audience, read_audience
from chairside.audience.segments import load_patient_settings, load_segments
from chairside.audience.suppression import read_suppressed
from chairside.audience.table import DELIMITER_NAMES, open_table, table_headers
from chairside.delivery import state_dir
from chairside.errors import ChairsideError
from chairside.fsutil import write_text_atomic
from chairside.studio.pagekit import post, studio_of
from chairside.studio.uploads import safe_name, save, uploads
from chairside.workspace import Workspace

PENDING = "studio-upload.csv"
FIELD_LABELS = {
    "email": "Email address",
    "first_name": "First name",
    "preferred_name": "Preferred name (used before the first name)",
    "name": "Full name (if there is no first-name column)",
    "concerns": "Concerns (what the front desk types)",
    "consent": "Consent to email (yes/no)",
    "opt_out": "Opted out of email (yes/no)",
}
SHOW_AT_MOST = 1000


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
        source = open_table(path, mapping=mapping, mapping_label="audiences/segments.toml")
    except ChairsideError:
        return {}
    headers = source.columns.headers
    return {f: headers[i].strip() for f, i in source.columns.index.items() if f in SETTABLE}


def save_columns(workspace: Workspace, mapping: dict[str, str]) -> None:
    """Write [patients.columns] in audiences/segments.toml, keeping its comments."""
    path = workspace.segments_file
    doc = tomlkit.parse(path.read_text(encoding="utf-8-sig"))
    patients = doc.get("patients")
    if patients is None:
        patients = tomlkit.table()
        doc.append("patients", patients)
    if mapping:
        columns = tomlkit.table()
        for key in SETTABLE:
            if mapping.get(key):
                columns[key] = mapping[key]
        patients["columns"] = columns
    elif "columns" in patients:
        del patients["columns"]
    write_text_atomic(path, tomlkit.dumps(doc))
    load_patient_settings(path)  # what the CLI will read back


def _report(workspace: Workspace, *, show: bool) -> dict:
    path = workspace.patients_file
    segments = load_segments(workspace.segments_file)
    mapping = load_patient_settings(workspace.segments_file).columns
    context: dict = {
        "segments": segments,
        "fields": FIELD_LABELS,
        "mapping": mapping,
        "show": show,
        "label": workspace.relative(path),
        "headers": [],
        "found": {},
        "audience": None,
    }
    if not path.is_file():
        return context
    context["headers"] = _headers(path)
    context["found"] = detected(path, mapping)
    try:
        audience = read_with(workspace, path, mapping)
    except ChairsideError as exc:
        context["error"] = exc.format_message()
        return context
    shown = (lambda v: v) if show else mask
    context.update(
        audience=audience,
        delimiter=DELIMITER_NAMES[audience.delimiter],
        counts=audience.segment_counts(segments),
        rejected=[(r.line, r.reason, shown(r.value)) for r in audience.rejected],
        patients=audience.patients[:SHOW_AT_MOST] if show else [],
    )
    return context


async def patients(request: Request) -> Response:
    studio = studio_of(request)
    show = request.query_params.get("show") == "1"
    context = await run_in_threadpool(_report, studio.workspace, show=show)
    return studio.render(request, "patients.html", **context)


def _mapping(form: FormData) -> dict[str, str]:
    return {f: str(form.get(f"col_{f}", "")).strip() for f in SETTABLE if form.get(f"col_{f}")}


async def columns(request: Request, form: FormData) -> Response:
    """Save the chosen columns, once the current list reads with them."""
    studio = studio_of(request)
    workspace = studio.workspace
    mapping = _mapping(form)
    try:
        if workspace.patients_file.is_file():
            await run_in_threadpool(read_with, workspace, workspace.patients_file, mapping)
        await run_in_threadpool(save_columns, workspace, mapping)
    except ChairsideError as exc:
        context = await run_in_threadpool(_report, workspace, show=False)
        context.update(error=exc.format_message(), mapping=mapping)
        return studio.render(request, "patients.html", status_code=400, **context)
    context = await run_in_threadpool(_report, workspace, show=False)
    context["notice"] = "Columns saved to audiences/segments.toml."
    return studio.render(request, "patients.html", **context)


def _headers(path: Path) -> list[str]:
    """The file's column names (none when it has no header row to offer)."""
    try:
        return table_headers(path)
    except ChairsideError:
        return []


def _pending(workspace: Workspace) -> Path:
    return state_dir(workspace) / PENDING


def _told(exc: ChairsideError, path: Path, name: str) -> str:
    """The library's message, naming the file the office uploaded, not where it was saved."""
    return exc.format_message().replace(str(path), name)


def _adopt(workspace: Workspace, uploaded: Path, mapping: dict[str, str] | None) -> Audience:
    """Read `uploaded`; if it reads, it becomes audiences/patients.csv (and `mapping`, when
    given, [patients.columns]). Raises, leaving everything as it was, if it doesn't."""
    current = load_patient_settings(workspace.segments_file).columns
    audience = read_with(workspace, uploaded, current if mapping is None else mapping)
    if mapping is not None and mapping != current:
        save_columns(workspace, mapping)
    os.replace(uploaded, workspace.patients_file)
    return audience


async def upload(request: Request, form: FormData) -> Response:
    studio = studio_of(request)
    workspace = studio.workspace
    files = uploads(form, "export")
    if not files:
        raise ChairsideError("Choose the patient export file to upload first.")
    workspace.audiences_dir.mkdir(parents=True, exist_ok=True)
    # In the same folder as the list, so the final rename is atomic.
    fd, name = tempfile.mkstemp(dir=workspace.audiences_dir, prefix=".upload-", suffix=".csv")
    os.close(fd)
    temporary = Path(name)
    try:
        await save(files[0], temporary)
        await run_in_threadpool(_adopt, workspace, temporary, None)
    except ChairsideError as exc:
        pending = _pending(workspace)
        if temporary.exists() and temporary.stat().st_size:
            pending.parent.mkdir(parents=True, exist_ok=True)
            os.replace(temporary, pending)
        temporary.unlink(missing_ok=True)
        name = safe_name(files[0].filename, "The upload")
        return await _pending_page(request, _told(exc, temporary, name))
    finally:
        temporary.unlink(missing_ok=True)
    _pending(workspace).unlink(missing_ok=True)
    context = await run_in_threadpool(_report, workspace, show=False)
    context["notice"] = f"Uploaded: {context['label']} replaced."
    return studio.render(request, "patients.html", **context)


async def _pending_page(request: Request, error: str) -> Response:
    studio = studio_of(request)
    workspace = studio.workspace
    pending = _pending(workspace)
    context = await run_in_threadpool(_report, workspace, show=False)
    headers = _headers(pending) if pending.is_file() else []
    context.update(
        error=error,
        pending_headers=headers,
        pending_found=detected(pending, {}) if pending.is_file() else {},
    )
    return studio.render(request, "patients.html", status_code=400, **context)


async def upload_columns(request: Request, form: FormData) -> Response:
    """Use the waiting upload with the columns chosen for it."""
    studio = studio_of(request)
    workspace = studio.workspace
    pending = _pending(workspace)
    if not pending.is_file():
        raise ChairsideError("There is no upload waiting: upload the export again.")
    try:
        await run_in_threadpool(_adopt, workspace, pending, _mapping(form))
    except ChairsideError as exc:
        return await _pending_page(request, _told(exc, pending, "The waiting upload"))
    context = await run_in_threadpool(_report, workspace, show=False)
    context["notice"] = f"Uploaded: {context['label']} replaced; columns saved."
    return studio.render(request, "patients.html", **context)


async def discard(request: Request, form: FormData) -> Response:
    """Forget the waiting upload (it holds patient data: it is not left lying around)."""
    studio = studio_of(request)
    _pending(studio.workspace).unlink(missing_ok=True)
    context = await run_in_threadpool(_report, studio.workspace, show=False)
    context["notice"] = "The upload was discarded; the list is as it was."
    return studio.render(request, "patients.html", **context)


routes = [
    Route("/patients", patients),
    post("/patients/upload", upload),
    post("/patients/columns", columns),
    post("/patients/upload/columns", upload_columns),
    post("/patients/upload/discard", discard),
]
