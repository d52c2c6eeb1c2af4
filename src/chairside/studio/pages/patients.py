"""Patients: upload the practice software's export, see who can be emailed in which version
and every row that can't (line and reason), and say which column is which.

The list is read by `chairside.audience.patients.read_audience`, as `chairside audience`
reads it. An upload replaces audiences/patients.csv only once it reads; one that doesn't
(say, its email column has an unusual name) waits in .chairside/ until its columns are
chosen, and the current list is untouched meanwhile.
"""

from __future__ import annotations

import csv
import os
import re
import tempfile
from pathlib import Path

import tomlkit
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from chairside.audience.addresses import mask
from chairside.audience.csvfile import (
    DELIMITER_NAMES,
    detect_delimiter,
    detect_encoding,
    open_csv,
)
from chairside.audience.patients import Audience, read_audience
from chairside.audience.segments import COLUMN_FIELDS, load_patient_settings, load_segments
from chairside.audience.suppression import read_suppressed
from chairside.delivery import state_dir
from chairside.errors import ChairsideError
from chairside.fsutil import write_text_atomic
from chairside.studio.app import post, studio_of
from chairside.studio.uploads import save, uploads
from chairside.workspace import Workspace

PENDING = "studio-upload.csv"
FIELD_LABELS = {
    "email": "Email address",
    "first_name": "First name",
    "name": "Full name (if there is no first-name column)",
    "concerns": "Concerns (what the front desk types)",
    "consent": "Consent to email (yes/no)",
    "opt_out": "Opted out of email (yes/no)",
}
SHOW_AT_MOST = 1000


def file_headers(path: Path) -> list[str]:
    """The export's column names, even when Chairside can't tell which is the email.

    (`open_csv` finds them the same way but refuses a file without an email column, which
    is exactly the file whose columns the office must choose here.)
    """
    encoding = detect_encoding(path)
    with path.open(encoding=encoding, errors="replace", newline="") as handle:
        line = handle.readline()
        excel = re.fullmatch(r"sep=(.)\s*", line, re.IGNORECASE)
        delimiter = excel.group(1) if excel else detect_delimiter(line)
        if excel:
            line = handle.readline()
    headers = next(csv.reader([line], delimiter=delimiter), [])
    return [h.strip() for h in headers if h.strip()]


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
        source = open_csv(path, mapping=mapping, mapping_label="audiences/segments.toml")
    except ChairsideError:
        return {}
    headers = source.columns.headers
    return {f: headers[i].strip() for f, i in source.columns.index.items() if f in COLUMN_FIELDS}


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
        for key in COLUMN_FIELDS:
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
    context["headers"] = file_headers(path)
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
    return {f: str(form.get(f"col_{f}", "")).strip() for f in COLUMN_FIELDS if form.get(f"col_{f}")}


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


def _pending(workspace: Workspace) -> Path:
    return state_dir(workspace) / PENDING


def _check_readable(path: Path, filename: str) -> None:
    start = path.read_bytes()[:4]
    if start.startswith(b"PK\x03\x04") or start.startswith(b"\xd0\xcf\x11\xe0"):
        raise ChairsideError(
            f"{filename} is an Excel workbook. Chairside reads the list as CSV: in Excel, "
            "choose File > Save As > 'CSV UTF-8 (Comma delimited)' and upload that file."
        )
    if not start:
        raise ChairsideError(f"{filename} is empty. Export the patient list again.")


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
        _check_readable(temporary, files[0].filename or "The file")
        await run_in_threadpool(_adopt, workspace, temporary, None)
    except ChairsideError as exc:
        pending = _pending(workspace)
        if temporary.exists() and temporary.stat().st_size:
            pending.parent.mkdir(parents=True, exist_ok=True)
            os.replace(temporary, pending)
        temporary.unlink(missing_ok=True)
        return await _pending_page(request, exc.format_message())
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
    headers = file_headers(pending) if pending.is_file() else []
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
        return await _pending_page(request, exc.format_message())
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
