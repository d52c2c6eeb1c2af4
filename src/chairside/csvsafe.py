"""CSV cells that stay data when a spreadsheet opens them (no formula injection).

Excel, LibreOffice and Google Sheets run a cell that starts with `=`, `+`, `-`, `@` (or a
tab/CR before one) as a formula: a patient named `=HYPERLINK(...)` would become a link in
the office's spreadsheet. A leading apostrophe makes them show the text instead (OWASP).
"""

from __future__ import annotations

from collections.abc import Iterable

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_TRIGGERS) else text


def safe_row(values: Iterable[object]) -> list[str]:
    return [safe_cell(value) for value in values]
