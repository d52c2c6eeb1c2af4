"""The patient list: every row used correctly or reported with its line and reason.

Each data row ends in exactly one bucket, so the counts always add up:

    rows = rejected + duplicates + suppressed + no_consent + sendable

A row is *rejected* when its address is blank, invalid, or several addresses; a *duplicate*
when an earlier row has the same address (any case) and it was merged into that patient.
After merging, a patient is *suppressed* (unsubscribed or bounced), else *without consent*,
else *sendable*, with exactly one segment: the highest-priority one any of its rows matches.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from chairside.audience.addresses import InvalidAddress, normalise_address
from chairside.audience.columnchoice import columns_for
from chairside.audience.columns import Columns
from chairside.audience.encoding import SINGLE_BYTE, undecodable
from chairside.audience.names import name_case
from chairside.audience.segments import (
    Segment,
    load_patient_settings,
    load_segments,
    phrase_pattern,
)
from chairside.audience.suppression import read_suppressed
from chairside.audience.table import AudienceError, Table, open_table
from chairside.placeholders import clean_name
from chairside.workspace import Workspace

# What front desks type for "yes, email me" (compared without case or punctuation).
YES = frozenset(
    {
        "y",
        "yes",
        "true",
        "t",
        "1",
        "x",
        "on",
        "ok",
        "okay",
        "optin",
        "optedin",
        "subscribed",
        "agree",
        "agreed",
        "granted",
        "allowed",
        "allow",
        "checked",
        "emailok",
        "si",
        "oui",
        "ja",
    }
)
_PUNCT = re.compile(r"[^0-9a-z]+")


@dataclass(slots=True)
class Patient:
    """One person (one address) to write to.

    Mutable only while the list is read (duplicate rows are merged into the first one), so
    a million patients need one small object each; treat it as read-only afterwards.
    """

    email: str
    first_name: str
    """"" when unknown, or when the address is shared by people with different names."""
    segment: str
    line: int
    """The first line of the file that names this address."""

    @property
    def key(self) -> str:
        """The identity of a patient across rows, runs and files: the address, any case."""
        return self.email.lower()


@dataclass(frozen=True, slots=True)
class Rejection:
    line: int
    reason: str
    value: str
    """The cell as typed; printed only when the user asks to see addresses."""


@dataclass
class Audience:
    """What a patient export holds, counted."""

    source: Path
    encoding: str
    delimiter: str
    rows: int = 0
    patients: list[Patient] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    duplicates: int = 0
    suppressed: int = 0
    no_consent: int = 0
    notes: list[str] = field(default_factory=list)
    """Things about the file worth telling the office (e.g. no consent column)."""

    @property
    def sendable(self) -> int:
        return len(self.patients)

    def segment_counts(self, segments: Iterable[Segment]) -> dict[str, int]:
        counts = Counter(p.segment for p in self.patients)
        return {s.id: counts.get(s.id, 0) for s in segments}


def is_yes(value: str) -> bool:
    """A clear yes; blank or anything unclear is no (consent must be given, not assumed)."""
    return _PUNCT.sub("", value.strip().lower()) in YES


class SegmentMatcher:
    """Finds a patient's segment from the free text the front desk typed as concerns."""

    def __init__(self, segments: tuple[Segment, ...]) -> None:
        self.segments = segments
        self.patterns = [(i, phrase_pattern(s.patient_tags)) for i, s in enumerate(segments)]
        self.general = next(i for i, s in enumerate(segments) if s.is_general)
        self._cache: dict[str, int] = {}

    def index(self, concerns: str) -> int:
        """The position of the highest-priority matching segment (segments are sorted)."""
        found = self._cache.get(concerns)
        if found is None:
            found = next(
                (
                    i
                    for i, pattern in self.patterns
                    if pattern is not None and pattern.search(concerns)
                ),
                self.general,
            )
            if (
                len(self._cache) < 100_000
            ):  # concerns repeat; a pathological list must not grow it forever
                self._cache[concerns] = found
        return found


def _namer(source: Table) -> Callable[[list[str]], str]:
    """A function giving the name to greet from a row: a preferred name or nickname, else
    the first name (else the first word of a full name), in name case.

    Names repeat, so each distinct cell is cleaned once, and equal names share one string
    object, which keeps a big list small.
    """
    columns = [source.columns.get(f) for f in ("preferred_name", "first_name")]
    own = [c for c in columns if c is not None]
    full = source.columns.get("name")
    cache: dict[str, str] = {}  # cell as typed -> name to greet
    shared: dict[str, str] = {}  # name to greet -> its one string object

    def clean(raw: str, *, first_word: bool = False) -> str:
        found = None if first_word else cache.get(raw)
        if found is not None:
            return found
        found = clean_name(raw)
        if first_word:
            if "," in found:  # "Lopez, Maria"
                found = found.split(",", 1)[1].strip()
            found = found.split(" ", 1)[0] if found else ""
        found = name_case(found)
        if len(shared) < 200_000:  # a pathological list must not grow these forever
            found = shared.setdefault(found, found)
            if not first_word:
                cache[raw] = found
        return found

    def first_name(fields: list[str]) -> str:
        width = len(fields)
        for column in own:
            if column < width and fields[column].strip():
                return clean(fields[column])
        if full is not None and full < width:
            return clean(fields[full], first_word=True)
        return ""

    return first_name


def _suggest(columns: Columns, words: tuple[str, ...], field: str) -> str:
    """The line of segments.toml that names a column: the first unused header holding the
    likeliest word (in the order given), else a placeholder."""
    used = set(columns.index.values()) | set(columns.concerns)
    free = [h for i, h in enumerate(columns.headers) if i not in used and h.strip()]
    guess = next(
        (h for word in words for h in free if word in h.lower()),
        "Your Column Name",
    )
    return f"{field} = {json.dumps(guess, ensure_ascii=False)}"  # a TOML basic string


def _check_columns(
    source: Table, segments: tuple[Segment, ...], *, require_consent: bool, label: str
) -> str:
    """AudienceError when consent is required and no column records it; a warning (returned)
    when no column holds concerns although segments other than `general` exist."""
    col = source.columns
    if require_consent and col.get("consent") is None and col.get("opt_out") is None:
        words = ("consent", "opt", "allow", "permission", "marketing", "newsletter", "ok")
        line = _suggest(col, words, "consent")
        raise AudienceError(
            f"{label}: no column says which patients agreed to email, so nobody can be "
            f"emailed. Its columns are: {col.listed()}.\nIf one of them records consent (Y/N), "
            f"add this line under [patients.columns] in audiences/segments.toml:\n  {line}\n"
            "If every patient on the list agreed to email, set require_consent = false under "
            "[patients] there instead."
        )
    if col.concerns or all(s.is_general for s in segments):
        return ""
    words = ("concern", "complaint", "alert", "condition", "diagnos", "medical", "note", "dx")
    line = _suggest(col, words, "concerns")
    return (
        "no concerns column: every patient gets the general version. Its columns are: "
        f"{col.listed()}. If one of them holds the patients' concerns, add this line under "
        f"[patients.columns] in audiences/segments.toml:\n  {line}"
    )


def read_audience(
    path: Path,
    segments: tuple[Segment, ...],
    *,
    mapping: dict[str, str] | None = None,
    mapping_label: str = "audiences/segments.toml",
    suppressed: frozenset[str] = frozenset(),
    require_consent: bool = True,
    label: str = "",
) -> Audience:
    """Read, validate, merge and assign every row of a patient export (streaming)."""
    source = open_table(path, mapping=mapping or {}, mapping_label=mapping_label)
    audience = Audience(path, source.encoding_name, source.delimiter)
    warning = _check_columns(
        source, segments, require_consent=require_consent, label=label or str(path)
    )
    matcher = SegmentMatcher(segments)
    col = source.columns
    email_col = col.get("email")
    consent_col, opt_out_col = col.get("consent"), col.get("opt_out")
    concerns_cols = col.concerns
    concerns_col = concerns_cols[0] if len(concerns_cols) == 1 else None
    damaged = source.damaged
    first_name = _namer(source)
    ids = [s.id for s in segments]
    merged: dict[str, Patient] = {}  # address, any case -> the patient its first row made
    withheld: set[str] = set()  # addresses some row gave no consent for
    rows = 0
    for line, fields in source.rows():
        rows += 1
        width = len(fields)
        if damaged and (bad := undecodable("\x1f".join(fields))):
            audience.rejected.append(
                Rejection(
                    line,
                    f"{bad} is not UTF-8 text; correct this line, or save the file again as "
                    "CSV UTF-8",
                    "",
                )
            )
            continue
        raw = fields[email_col] if email_col < width else ""
        try:
            email = normalise_address(raw)
        except InvalidAddress as exc:
            audience.rejected.append(Rejection(line, str(exc), raw.strip()))
            continue
        if concerns_col is not None:
            concerns = fields[concerns_col] if concerns_col < width else ""
        else:  # several columns (alerts and notes), or none
            concerns = "; ".join(fields[c] for c in concerns_cols if c < width)
        segment = matcher.index(concerns)
        if consent_col is not None and consent_col < width:
            consented = is_yes(fields[consent_col])
        elif opt_out_col is not None:
            consented = not (opt_out_col < width and is_yes(fields[opt_out_col]))
        else:
            consented = not require_consent
        name = first_name(fields)
        key = email.lower()
        key = email if key == email else key  # most addresses are lowercase: share the string
        if not consented:
            withheld.add(key)  # the most restrictive consent wins
        seen = merged.get(key)
        if seen is None:
            merged[key] = Patient(email, name, ids[segment], line)
            continue
        audience.duplicates += 1
        if seen.first_name.casefold() != name.casefold():
            seen.first_name = ""  # a shared family address: never greet one by another's name
        if segment < ids.index(seen.segment):
            seen.segment = ids[segment]
    audience.rows = rows
    blank = sum(1 for r in audience.rejected if r.reason == "no email address")
    if rows and blank == rows:
        audience.notes.append(
            f"the column {source.columns.headers[email_col]!r} is empty in every row: is it "
            "the email column? If not, name the right one under [patients.columns] in "
            "audiences/segments.toml."
        )
    if warning:
        audience.notes.append(warning)
    if source.encoding and source.encoding.codec in SINGLE_BYTE:
        audience.notes.append(
            f"the file is not UTF-8; it was read as {source.encoding.name}, the encoding in "
            "which its accented letters make sense. If names look wrong (see --show), save "
            "it from Excel as 'CSV UTF-8'."
        )
    for key, patient in merged.items():
        if key in suppressed:
            audience.suppressed += 1
        elif require_consent and key in withheld:
            audience.no_consent += 1
        else:
            audience.patients.append(patient)
    return audience


def load_audience(workspace: Workspace, path: Path | None = None) -> Audience:
    """The workspace's patient list (or `path`), with its segments, settings and suppressions."""
    segments = load_segments(workspace.segments_file)
    settings = load_patient_settings(workspace.segments_file)
    path = path or workspace.patients_file
    return read_audience(
        path,
        segments,
        label=workspace.relative(path),
        mapping=columns_for(path, settings),
        suppressed=read_suppressed(workspace.suppressed_file),
        require_consent=settings.require_consent,
    )
