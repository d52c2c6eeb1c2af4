"""The guard on importing unsubscribes: a file that looks like the patient list is refused
unless the office confirms it, because importing it would stop email to everyone on it.

`chairside unsubscribe --import FILE` confirms with `--yes`; the studio with a checkbox. Both
call `refuse_patient_list`, so the decision and its words are the same in both faces.
"""

from __future__ import annotations

from pathlib import Path

from chairside.audience.patients import load_audience
from chairside.audience.suppression import patient_list_signs
from chairside.audience.table import Table
from chairside.errors import ChairsideError
from chairside.workspace import Workspace

MOST_PATIENTS_FROM = 10
"""An import naming more patients than this, and more than half of those who can be
emailed, is the patient list (or most of it), even without its tell-tale columns."""


class LooksLikePatientList(ChairsideError):
    """An unsubscribe import that would stop email to most or all patients."""


def _most_patients(
    workspace: Workspace, entries: list[tuple[str, str, str]], audience_file: Path | None
) -> str:
    """Why an import would stop most of the mailing list ("" when it would not)."""
    try:
        patients = {p.key for p in load_audience(workspace, audience_file).patients}
    except ChairsideError:
        return ""  # no usable list to compare with: the columns decide alone
    hits = len({raw.strip().lower() for raw, _, _ in entries} & patients)
    if hits > MOST_PATIENTS_FROM and hits * 2 > len(patients):
        return f"{hits} of the {len(patients)} patients who can be emailed now are in it"
    return ""


def patient_list_reason(
    workspace: Workspace,
    table: Table,
    entries: list[tuple[str, str, str]],
    *,
    audience_file: Path | None = None,
) -> str:
    """Why importing `table` (read into `entries`) as unsubscribes looks like a mistake:
    it is the patient list, has a consent or concerns column, or holds most of the patients
    who can be emailed. "" when it looks like a provider's export."""
    sign = patient_list_signs(table, audience_file or workspace.patients_file)
    return sign or _most_patients(workspace, entries, audience_file)


def refuse_patient_list(
    workspace: Workspace,
    table: Table,
    entries: list[tuple[str, str, str]],
    *,
    label: str,
    confirmed: bool,
    how_to_confirm: str,
    audience_file: Path | None = None,
) -> None:
    """Raise LooksLikePatientList, naming the file as `label` and saying `how_to_confirm`,
    when the import looks like the patient list and the office has not `confirmed` it."""
    if confirmed:
        return
    sign = patient_list_reason(workspace, table, entries, audience_file=audience_file)
    if sign:
        raise LooksLikePatientList(
            f"{label} looks like a patient list, not a list of unsubscribes: {sign}. "
            "Importing it would stop email to everyone on it. If that is really what you "
            f"want, {how_to_confirm}."
        )
