"""Reading a practice-software export: encoding, delimiter and columns found, rows streamed.

Exports differ by vendor and by the office's Excel habits: UTF-8 with or without a BOM,
Windows-1252, UTF-16 ("Unicode text"); commas, semicolons (European Excel), tabs or pipes;
headers named `E-mail Address`, `FNAME` or `Patient First Name`. This module finds all that
from the file itself and yields rows with their line numbers, one at a time, so a list of a
million patients is read in constant memory.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from chairside.errors import ChairsideError

DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
# The fields Chairside uses, and the header names exports give them (compared without case,
# spaces or punctuation).
ALIASES: dict[str, tuple[str, ...]] = {
    "email": (
        "email",
        "emailaddress",
        "mail",
        "patientemail",
        "primaryemail",
        "emailaddr",
        "personalemail",
        "homeemail",
    ),
    "first_name": (
        "firstname",
        "fname",
        "first",
        "givenname",
        "patientfirstname",
        "forename",
        "preferredname",
        "nickname",
    ),
    "name": ("name", "fullname", "patientname", "patient"),
    "concerns": (
        "concerns",
        "concern",
        "conditions",
        "condition",
        "tags",
        "tag",
        "diagnosis",
        "diagnoses",
        "chiefcomplaint",
        "complaints",
        "interests",
        "categories",
    ),
    "consent": (
        "consent",
        "emailoptin",
        "optin",
        "emailconsent",
        "marketingconsent",
        "subscribed",
        "allowemail",
        "emailok",
        "oktoemail",
        "newsletter",
        "acceptsemail",
        "emailpermission",
        "newsletteroptin",
        "emailallowed",
    ),
    "opt_out": ("emailoptout", "optout", "donotemail", "noemail", "unsubscribed", "dne"),
    "reason": ("reason", "unsubreason", "unsubscribereason", "error", "type", "bouncetype"),
}
FIELDS = tuple(ALIASES)
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")
# A broken quote can swallow the rest of a file into one field; stop well before memory does.
csv.field_size_limit(1 << 20)


class AudienceError(ChairsideError):
    """A patient list that cannot be used at all."""


def normalise_header(name: str) -> str:
    """`E-mail Address` → `emailaddress`: how headers are compared with the aliases."""
    return _NOT_ALNUM.sub("", name.strip().lower())


def detect_encoding(path: Path, chunk_size: int = 1 << 20) -> str:
    """`utf-8-sig`, `utf-16` or `utf-8` when the bytes are valid UTF-8, else `windows-1252`.

    Checks the whole file in chunks (a stray é on line 90,000 must not break the read)
    without holding it in memory.
    """
    with path.open("rb") as handle:
        start = handle.read(4)
        if start.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        handle.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            while chunk := handle.read(chunk_size):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "windows-1252"
    return "utf-8"


def detect_delimiter(header_line: str) -> str:
    """The candidate that splits the header line most often (commas on a tie)."""
    counts = {d: header_line.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


@dataclass(frozen=True)
class Columns:
    """Which column index holds each field Chairside uses (None when absent)."""

    headers: tuple[str, ...]
    index: dict[str, int]

    def get(self, field: str) -> int | None:
        return self.index.get(field)


def find_columns(
    headers: list[str], mapping: dict[str, str], *, label: str, mapping_label: str
) -> Columns:
    """Match headers to fields: the explicit mapping first, then the aliases."""
    normalised = [normalise_header(h) for h in headers]
    index: dict[str, int] = {}
    for field, header in mapping.items():
        wanted = normalise_header(header)
        if wanted not in normalised:
            raise AudienceError(
                f"{mapping_label}: [patients.columns] {field} = {header!r}, but {label} has no "
                f"such column. Its columns are: {', '.join(h for h in headers if h.strip())}."
            )
        index[field] = normalised.index(wanted)
    for field in FIELDS:
        if field in index:
            continue
        for alias in ALIASES[field]:
            if alias in normalised and normalised.index(alias) not in index.values():
                index[field] = normalised.index(alias)
                break
    return Columns(tuple(headers), index)


@dataclass
class CsvSource:
    """An opened export: how it is encoded and split, and its columns."""

    path: Path
    encoding: str
    delimiter: str
    columns: Columns
    skip: int = 0
    """Lines before the header (Excel's "sep=;" line)."""

    @property
    def encoding_name(self) -> str:
        return {
            "utf-8-sig": "UTF-8 with BOM",
            "utf-8": "UTF-8",
            "utf-16": "UTF-16",
            "windows-1252": "Windows-1252",
        }[self.encoding]

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """(line where the record starts, fields) for every non-blank data row."""
        errors = "replace" if self.encoding == "windows-1252" else "strict"
        with self.path.open(encoding=self.encoding, errors=errors, newline="") as handle:
            reader = csv.reader(handle, delimiter=self.delimiter)
            try:
                for _ in range(self.skip + 1):  # the header, already read by open_csv
                    next(reader)
                while True:
                    start = reader.line_num + 1
                    try:
                        fields = next(reader)
                    except StopIteration:
                        return
                    if any(f.strip() for f in fields):
                        yield start, fields
            except csv.Error as exc:
                raise AudienceError(
                    f"{self.path}, line {reader.line_num}: the file cannot be read as CSV "
                    f'({exc}). Look for a quote (") that is opened but never closed, '
                    "or export the list again."
                ) from None


def open_csv(path: Path, *, mapping: dict[str, str], mapping_label: str) -> CsvSource:
    """Open a patient export, or say why it cannot be used."""
    if not path.is_file():
        raise AudienceError(
            f"{path}: file not found. Export your patient list to this file, "
            "or name another with --audience FILE."
        )
    encoding = detect_encoding(path)
    errors = "replace" if encoding == "windows-1252" else "strict"
    with path.open(encoding=encoding, errors=errors, newline="") as handle:
        header_line = handle.readline()
        # Excel's "sep=;" first line names the delimiter; the column names follow it.
        excel_sep = re.fullmatch(r"sep=(.)\s*", header_line, re.IGNORECASE)
        if excel_sep:
            delimiter = excel_sep.group(1)
            header_line = handle.readline()
        else:
            delimiter = detect_delimiter(header_line)
        headers = next(csv.reader([header_line], delimiter=delimiter), [])
    if not any(h.strip() for h in headers):
        raise AudienceError(
            f"{path}: the file is empty. Export your patient list again, with its header row."
        )
    columns = find_columns(headers, mapping, label=str(path), mapping_label=mapping_label)
    if columns.get("email") is None:
        raise AudienceError(
            f"{path}, line 1: no email column among {', '.join(h for h in headers if h.strip())}. "
            "Rename the column to Email, or say which it is in audiences/segments.toml:\n"
            '  [patients.columns]\n  email = "Your Column Name"'
        )
    return CsvSource(path, encoding, delimiter, columns, skip=1 if excel_sep else 0)
