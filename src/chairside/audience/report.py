"""What `chairside audience` prints: counts, never a patient's details unless asked."""

from __future__ import annotations

from chairside.audience.addresses import mask
from chairside.audience.patients import Audience
from chairside.audience.segments import Segment
from chairside.audience.table import DELIMITER_NAMES
from chairside.words import plural


def as_dict(
    audience: Audience,
    segments: tuple[Segment, ...],
    *,
    label: str,
    show: bool = False,
    fallbacks: tuple[Segment, ...] = (),
) -> dict:
    """The JSON report; with `show`, rejected cells and every sendable patient are included.

    `fallbacks` are a campaign's concerns with no post of their own: their patients are
    counted under `general_instead` (they receive the general version)."""
    report = {
        "file": label,
        "rows": audience.rows,
        "encoding": audience.encoding,
        "delimiter": DELIMITER_NAMES[audience.delimiter],
        "sendable": audience.sendable,
        "segments": audience.segment_counts(segments),
        "rejected": [{"line": r.line, "reason": r.reason} for r in audience.rejected],
        "duplicates": audience.duplicates,
        "suppressed": audience.suppressed,
        "no_consent": audience.no_consent,
        "notes": list(audience.notes),
    }
    if fallbacks:
        counts = report["segments"]
        report["general_instead"] = {s.id: counts[s.id] for s in fallbacks}
    if show:
        for entry, rejection in zip(report["rejected"], audience.rejected, strict=True):
            entry["value"] = rejection.value
        report["patients"] = [
            {"line": p.line, "email": p.email, "first_name": p.first_name, "segment": p.segment}
            for p in audience.patients
        ]
    return report


def as_lines(
    audience: Audience,
    segments: tuple[Segment, ...],
    *,
    label: str,
    show: bool = False,
    fallbacks: tuple[Segment, ...] = (),
) -> list[str]:
    """The report for a person: counts first, then each rejected line and why."""
    delimiter = DELIMITER_NAMES[audience.delimiter]
    counts = audience.segment_counts(segments)
    lines = [
        f"{label}: {audience.rows} rows ({audience.encoding}"
        + (f", {delimiter}-separated)" if audience.delimiter else ")"),
        f"  sendable      {audience.sendable:>7}",
    ]
    lines += [f"    {s.id:<16} {counts[s.id]:>5}  {s.name}" for s in segments]
    lines += [
        f"  {s.id}: no post this month → {plural(counts[s.id], 'patient')} "
        f"{'gets' if counts[s.id] == 1 else 'get'} the general version"
        for s in fallbacks
    ]
    lines += [
        f"  rejected      {len(audience.rejected):>7}",
        f"  duplicates    {audience.duplicates:>7}  (merged: one email per address)",
        f"  suppressed    {audience.suppressed:>7}  (unsubscribed or bounced)",
        f"  no consent    {audience.no_consent:>7}",
    ]
    for rejection in audience.rejected:
        cell = rejection.value if show else mask(rejection.value)
        shown = f" ({cell})" if cell else ""
        lines.append(f"  line {rejection.line}: {rejection.reason}{shown}")
    lines += [f"note: {note}" for note in audience.notes]
    if show:
        lines.append("patients (line, address, first name, concern):")
        lines += [
            f"  {p.line}\t{p.email}\t{p.first_name or '-'}\t{p.segment}" for p in audience.patients
        ]
    return lines
