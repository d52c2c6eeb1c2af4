"""One reader for every practice table: patient lists, suppressions and provider exports.

Tables come from practice software, Excel and email providers: CSV in any common encoding
(see encoding.py) and delimiter, with Excel's `sep=;` line or a title above the header, or a
spreadsheet (.xlsx, .xlsm, .xlsb, .xls, .ods, read by python-calamine). The header row is
the first row that names an email column. Rows stream one at a time with the line (or
spreadsheet row) they start on, so a list of a million patients is read in constant memory.
"""

from __future__ import annotations

import csv
import datetime
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from chairside.audience.columns import Columns, find_columns, names_email
from chairside.audience.encoding import Encoding, detect_encoding, first_bad_line
from chairside.errors import ChairsideError

DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe", "": "spreadsheet"}
# Zip (xlsx, ods) and OLE2 (xls) signatures: a spreadsheet saved under a .csv name is still one.
_SPREADSHEET_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")
HEADER_SEARCH = 30
"""Lines (or sheet rows) searched for the header row: titles and blank lines come first."""
_EXCEL_SEP = re.compile(r"sep=(.)\s*", re.IGNORECASE)
# A broken quote can swallow the rest of a file into one field; stop well before memory does.
csv.field_size_limit(1 << 20)


class AudienceError(ChairsideError):
    """A practice table that cannot be used at all."""


@dataclass
class Table:
    """An opened table: where its header is, how it is encoded and split, and its columns."""

    path: Path
    columns: Columns
    encoding: Encoding | None
    """None for spreadsheets."""
    delimiter: str = ""
    skip: int = 0
    """Physical lines (CSV) or sheet rows before the header row."""
    excel_sep: bool = False
    newline: str = "\n"
    sheet: str = ""

    @property
    def encoding_name(self) -> str:
        return self.encoding.name if self.encoding else f"spreadsheet, sheet {self.sheet!r}"

    @property
    def damaged(self) -> bool:
        return bool(self.encoding and self.encoding.damaged)

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """(line where the record starts, fields) for every non-blank row after the header.

        Fields of a damaged file may hold undecodable bytes; see encoding.undecodable.
        """
        if self.encoding is None:
            yield from _sheet_rows(self.path, self.sheet, self.skip + 1)
            return
        with self.path.open(
            encoding=self.encoding.codec, errors=self.encoding.errors, newline=""
        ) as handle:
            for _ in range(self.skip + 1):
                handle.readline()
            offset = self.skip + 1
            reader = csv.reader(handle, delimiter=self.delimiter)
            try:
                while True:
                    start = offset + reader.line_num + 1
                    try:
                        fields = next(reader)
                    except StopIteration:
                        return
                    if any(f.strip() for f in fields):
                        yield start, fields
            except csv.Error as exc:
                raise AudienceError(
                    f"{self.path}, line {offset + reader.line_num}: the file cannot be read as "
                    f'CSV ({exc}). Look for a quote (") that is opened but never closed, '
                    "or export the list again."
                ) from None
            except UnicodeDecodeError:
                raise _not_text(self.path, self.encoding) from None


def _not_text(path: Path, encoding: Encoding) -> AudienceError:
    line = first_bad_line(path, encoding.codec)
    return AudienceError(
        f"{path}, line {line}: bytes that are not {encoding.name} text (the file is damaged "
        "from here). Correct that line, or export the file again (as CSV UTF-8)."
    )


def _cell(value: object) -> str:
    """A spreadsheet cell as the text a CSV export of it would hold."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a phone number or a 1 for yes, not "1.0"
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    return "" if value is None else str(value)


def _open_book(path: Path):
    import python_calamine

    try:
        return python_calamine.CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises its own error kinds, all meaning "unreadable"
        raise AudienceError(
            f"{path}: cannot be read as a spreadsheet ({exc}). Open it in Excel or LibreOffice "
            "and save it again, or save it as CSV."
        ) from None


def _sheet_rows(path: Path, sheet: str, skip: int) -> Iterator[tuple[int, list[str]]]:
    book = _open_book(path)
    try:
        data = book.get_sheet_by_name(sheet)
        first_row = data.start[0] if data.start else 0
        for position, values in enumerate(data.iter_rows()):
            if position < skip:
                continue
            fields = [_cell(v) for v in values]
            if any(f.strip() for f in fields):
                yield first_row + position + 1, fields
    finally:
        book.close()


def is_spreadsheet(path: Path) -> bool:
    """By the bytes, not the name: some practice software saves CSV text as `.xls`, and a
    spreadsheet saved as `patients.csv` is still a spreadsheet."""
    with path.open("rb") as handle:
        return handle.read(8).startswith(_SPREADSHEET_MAGIC)


def _find_header(rows: list[list[str]], mapping: dict[str, str]) -> tuple[int, list[str]] | None:
    for position, cells in enumerate(rows):
        if names_email(cells, mapping):
            return position, cells
    return None


def _widest(rows: list[list[str]]) -> tuple[int, list[str]]:
    """The first row with the most filled cells: the header of a table whose header names no
    email column (a title above it fills one cell; the header fills one per column)."""
    best: tuple[int, list[str]] = (0, [])
    most = 0
    for position, cells in enumerate(rows):
        filled = sum(1 for c in cells if c.strip())
        if filled > most:
            best, most = (position, cells), filled
    return best


def _open_spreadsheet(path: Path, mapping: dict[str, str]) -> tuple[str, int, list[str]]:
    """(sheet, rows before the header, header) of the first sheet with an email column."""
    book = _open_book(path)
    try:
        fallback: tuple[str, int, list[str]] | None = None
        for meta in book.sheets_metadata:
            data = book.get_sheet_by_name(meta.name)
            rows: list[list[str]] = []
            for values in data.iter_rows():
                rows.append([_cell(v) for v in values])
                if len(rows) >= HEADER_SEARCH:
                    break
            found = _find_header(rows, mapping)
            if found:
                return meta.name, found[0], found[1]
            if fallback is None and any(any(c.strip() for c in r) for r in rows):
                fallback = (meta.name, *_widest(rows))
    finally:
        book.close()
    return fallback or ("", 0, [])


def _split(line: str, delimiter: str) -> list[str]:
    return next(csv.reader([line], delimiter=delimiter), [])


def _open_text(path: Path, encoding: Encoding, mapping: dict[str, str]):
    """(delimiter, physical lines before the header, header, excel_sep, newline)."""
    with path.open(encoding=encoding.codec, errors=encoding.errors, newline="") as handle:
        head = []
        for line in handle:
            head.append(line)
            if len(head) >= HEADER_SEARCH:
                break
    first = head[0] if head else ""
    newline = "\r\n" if first.endswith("\r\n") else "\r" if first.endswith("\r") else "\n"
    excel_sep = bool(head) and _EXCEL_SEP.fullmatch(head[0]) is not None
    start = 1 if excel_sep else 0
    delimiters = (_EXCEL_SEP.fullmatch(head[0]).group(1),) if excel_sep else DELIMITERS
    # The header row is the first line that names an email column, split by any delimiter
    # (a title line above it may hold commas of its own).
    for position in range(start, len(head)):
        for delimiter in sorted(delimiters, key=lambda d: -head[position].count(d)):
            cells = _split(head[position], delimiter)
            if names_email(cells, mapping):
                return delimiter, position, cells, excel_sep, newline
    # None names one: the widest row, split the way that makes it widest, is the header.
    best = (0, -1, delimiters[0], [])
    for delimiter in delimiters:
        position, cells = _widest([_split(line, delimiter) for line in head[start:]])
        width = sum(1 for c in cells if c.strip())
        if width > best[0] or (width == best[0] and position < best[1]):
            best = (width, position, delimiter, cells)
    _, position, delimiter, cells = best
    return delimiter, start + max(position, 0), cells, excel_sep, newline


def _locate(path: Path, mapping: dict[str, str]) -> tuple[Table, list[str]]:
    """The table without its columns yet, and its header row: the first row that names an
    email column, else the first row with anything in it."""
    if not path.is_file():
        raise AudienceError(
            f"{path}: file not found. Export your patient list to this file, "
            "or name another with --audience FILE."
        )
    if path.stat().st_size == 0:
        raise AudienceError(
            f"{path}: the file is empty. Export your patient list again, with its header row."
        )
    if is_spreadsheet(path):
        sheet, skip, headers = _open_spreadsheet(path, mapping)
        table = Table(path, Columns((), {}), None, skip=skip, sheet=sheet)
    else:
        encoding = detect_encoding(path)
        try:
            delimiter, skip, headers, excel_sep, newline = _open_text(path, encoding, mapping)
        except UnicodeDecodeError:
            raise _not_text(path, encoding) from None
        table = Table(path, Columns((), {}), encoding, delimiter, skip, excel_sep, newline)
    if not any(h.strip() for h in headers):
        raise AudienceError(
            f"{path}: the file is empty. Export your patient list again, with its header row."
        )
    return table, headers


def table_headers(path: Path, *, mapping: dict[str, str] | None = None) -> list[str]:
    """The column names of `path`'s header row, found as `open_table` finds it, but without
    requiring an email column: for choosing, from its own headers, which column is which.

    Raises AudienceError for a missing, empty or unreadable file.
    """
    _, headers = _locate(path, mapping or {})
    return [h.strip() for h in headers if h.strip()]


def open_table(
    path: Path, *, mapping: dict[str, str] | None = None, mapping_label: str = ""
) -> Table:
    """Open a practice table, or say why it cannot be used (no file, no email column...)."""
    mapping = mapping or {}
    table, headers = _locate(path, mapping)
    table.columns = find_columns(
        headers, mapping, label=str(path), mapping_label=mapping_label or str(path)
    )
    if table.columns.get("email") is None:
        raise AudienceError(
            f"{path}, line {table.skip + 1}: no email column among "
            f"{', '.join(h for h in headers if h.strip())}. Rename the column to Email, or say "
            'which it is in audiences/segments.toml:\n  [patients.columns]\n  email = "Your '
            'Column Name"'
        )
    return table


def text_of(rows: list[list[str]], delimiter: str, newline: str) -> str:
    """Rows as CSV text in a table's own dialect (for appends)."""
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator=newline).writerows(rows)
    return buffer.getvalue()


_ADDRESS = re.compile(r"[^\s@,;<>\"']+@[^\s@,;<>\"']+\.[A-Za-z]{2,}")


def has_addresses(path: Path, *, rows: int = 200) -> bool:
    """Whether any of the first `rows` rows of `path` holds something like an email address.
    A file without one is no patient list (a picture, another program's export, the wrong
    file), whatever its columns are called."""
    try:
        table, _ = _locate(path, {})
        for number, (_, cells) in enumerate(table.rows()):
            if any(_ADDRESS.search(cell) for cell in cells):
                return True
            if number >= rows:
                break
    except (ChairsideError, UnicodeDecodeError, csv.Error, OSError):
        return False
    return False
