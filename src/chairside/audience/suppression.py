"""`audiences/suppressed.csv`: addresses that must never be emailed again (append-only)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from chairside.audience.addresses import InvalidAddress, normalise_address
from chairside.audience.csvfile import AudienceError, open_csv
from chairside.csvsafe import safe_row
from chairside.fsutil import write_text_atomic

HEADER = ("email", "reason", "date")


def read_suppressed(path: Path) -> frozenset[str]:
    """Every suppressed address, lowercased; a missing file suppresses nobody."""
    if not path.is_file() or not path.read_bytes().strip(b"\xef\xbb\xbf \r\n"):
        return frozenset()  # missing or emptied: nobody suppressed (appending recreates it)
    source = open_csv(path, mapping={}, mapping_label=str(path))
    column = source.columns.get("email")
    found = set()
    for _line, fields in source.rows():
        if column is not None and column < len(fields):
            raw = fields[column]
            raw = raw[1:] if raw.startswith("'") else raw  # written by safe_cell
            try:
                found.add(normalise_address(raw).lower())
            except InvalidAddress:
                continue  # an unusable line cannot match a patient either
    return frozenset(found)


@dataclass
class SuppressionResult:
    added: list[str] = field(default_factory=list)
    already: int = 0
    invalid: list[tuple[str, str]] = field(default_factory=list)
    """(where, reason) for addresses that could not be read."""


def add_suppressions(
    path: Path, entries: list[tuple[str, str, str]], *, today: date | None = None
) -> SuppressionResult:
    """Append (address, reason, where-from) entries not already suppressed; idempotent.

    The file is rewritten whole through a temporary file, so a crash never leaves half a line.
    """
    existing = read_suppressed(path)
    result = SuppressionResult()
    when = (today or date.today()).isoformat()
    rows: list[tuple[str, str, str]] = []
    seen = set(existing)
    for raw, reason, where in entries:
        try:
            email = normalise_address(raw)
        except InvalidAddress as exc:
            result.invalid.append((where, str(exc)))
            continue
        if email.lower() in seen:
            result.already += 1
            continue
        seen.add(email.lower())
        rows.append((email, reason, when))
        result.added.append(email)
    if rows:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        if not path.is_file() or not path.read_text(encoding="utf-8-sig").strip():
            writer.writerow(HEADER)
        writer.writerows(safe_row(row) for row in rows)
        before = path.read_text(encoding="utf-8-sig") if path.is_file() else ""
        if before and not before.endswith("\n"):
            before += "\n"
        write_text_atomic(path, before + buffer.getvalue())
    return result


def entries_from_export(path: Path) -> list[tuple[str, str, str]]:
    """(address, reason, line) from a provider's unsubscribe or bounce export."""
    try:
        source = open_csv(path, mapping={}, mapping_label=str(path))
    except AudienceError as no_email_column:
        # Mailgun's bounce export calls the column "address"; patient lists never may
        # (there it is the postal address).
        try:
            source = open_csv(path, mapping={"email": "address"}, mapping_label=str(path))
        except AudienceError:
            raise no_email_column from None
    email_col = source.columns.get("email")
    reason_col = source.columns.get("reason")
    entries = []
    for line, fields in source.rows():
        raw = fields[email_col] if email_col is not None and email_col < len(fields) else ""
        reason = (
            fields[reason_col].strip()
            if reason_col is not None and reason_col < len(fields)
            else ""
        )
        entries.append((raw, reason or f"imported from {path.name}", f"{path.name}, line {line}"))
    return entries
