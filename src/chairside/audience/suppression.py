"""`audiences/suppressed.csv`: addresses that must never be emailed again (append-only).

The file only grows. Each row records an unsubscribe, a bounce or, with the reason
`resubscribed`, that a suppression was taken back; the latest row for an address is the
truth. Offices open the file in Excel, which may save it with semicolons, a `sep=;` line,
Windows-1252 or UTF-16: rows are appended in the file's own dialect and encoding, read back,
and an append that does not read back is an error that restores the file as it was.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from email.utils import parseaddr
from pathlib import Path

from chairside import clock
from chairside.audience.addresses import InvalidAddress, normalise_address
from chairside.audience.columns import normalise_header
from chairside.audience.table import AudienceError, Table, open_table, text_of
from chairside.csvsafe import safe_row
from chairside.errors import ChairsideError

HEADER = ("email", "reason", "date")
RESUBSCRIBED = "resubscribed"
_UNDO_WORDS = (RESUBSCRIBED, "undone")
_BLANK = b"\xef\xbb\xbf\xff\xfe\x00 \t\r\n"


class SuppressionError(ChairsideError):
    """suppressed.csv cannot be read or written as it is."""


@dataclass(frozen=True, slots=True)
class Entry:
    """The latest row for an address."""

    email: str
    reason: str
    line: int

    @property
    def active(self) -> bool:
        return not is_undo(self.reason)


def is_undo(reason: str) -> bool:
    """Whether a row's reason takes a suppression back (`resubscribed`, `resubscribed: ...`)."""
    return reason.strip().lower().startswith(_UNDO_WORDS)


def _is_blank(path: Path) -> bool:
    return not path.is_file() or not path.read_bytes().strip(_BLANK)


def _open(path: Path) -> Table:
    return open_table(path, mapping_label=str(path))


def read_entries(path: Path) -> dict[str, Entry]:
    """The latest row of each address (keyed by the address, any case)."""
    if _is_blank(path):
        return {}  # missing or emptied: nobody suppressed (appending recreates it)
    table = _open(path)
    email_col = table.columns.get("email")
    reason_col = table.columns.get("reason")
    latest: dict[str, Entry] = {}
    for line, fields in table.rows():
        width = len(fields)
        raw = fields[email_col] if email_col < width else ""
        raw = raw[1:] if raw.startswith("'") else raw  # written by safe_cell
        try:
            email = normalise_address(raw)
        except InvalidAddress:
            continue  # an unusable line cannot match a patient either
        reason = fields[reason_col] if reason_col is not None and reason_col < width else ""
        latest[email.lower()] = Entry(email, reason, line)
    return latest


def typed_address(text: str) -> str:
    """An address as typed or pasted: "Maria Lopez <maria@example.com>", as copied from a
    mail program, means maria@example.com; anything else is kept to be checked as it is."""
    return parseaddr(text)[1] or text


def typed_entries(texts: Iterable[str], reason: str) -> list[tuple[str, str, str]]:
    """(address, reason, where) for `add_suppressions`, from addresses typed by the office."""
    return [(typed_address(text), reason, repr(text)) for text in texts]


def read_suppressed(path: Path) -> frozenset[str]:
    """Every address suppressed now, lowercased; a missing file suppresses nobody."""
    return frozenset(key for key, entry in read_entries(path).items() if entry.active)


@dataclass
class SuppressionResult:
    added: list[str] = field(default_factory=list)
    already: int = 0
    invalid: list[tuple[str, str]] = field(default_factory=list)
    """(where, reason) for addresses that could not be read."""


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One writer at a time (a bounce during `send` and an `unsubscribe` at once)."""
    lock = path.with_name(f".{path.name}.lock")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = lock.open("a+")
    except OSError as exc:
        raise SuppressionError(f"Cannot write beside {path} ({exc.strerror or exc}).") from None
    try:
        if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
            import msvcrt

            msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        yield
    finally:
        handle.close()


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise SuppressionError(
            f"Cannot write {path} ({exc.strerror or exc}); nothing was changed in it. Free some "
            "disk space or check the folder can be written to, then run the command again."
        ) from None


def _encoded_rows(path: Path, table: Table | None, rows: list[tuple[str, str, str]]) -> bytes:
    """The new rows as bytes in the dialect and encoding of the file (UTF-8 CSV when new)."""
    if table is None:
        return text_of([list(HEADER), *(safe_row(r) for r in rows)], ",", "\n").encode()
    if table.encoding is None:
        raise SuppressionError(
            f"{path} is a spreadsheet, so nothing can be added to it safely. Open it in Excel "
            "and save it as CSV under the same name, then run the command again."
        )
    headers = [normalise_header(h) for h in table.columns.headers]
    places = [
        table.columns.get("email"),
        table.columns.get("reason"),
        next((i for i, h in enumerate(headers) if h in ("date", "added", "created")), None),
    ]
    width = max(len(headers), 1)
    cells = []
    for row in rows:
        line = [""] * width
        for place, value in zip(places, safe_row(row), strict=True):
            if place is not None:
                line[place] = value
        cells.append(line)
    codec = _codec(table)
    text = text_of(cells, table.delimiter, table.newline)
    try:
        data = text.encode(codec)
    except UnicodeEncodeError as exc:
        raise SuppressionError(
            f"{path} is saved as {table.encoding.name}, which cannot hold "
            f"{exc.object[exc.start : exc.end]!r}. Open it in Excel and save it as "
            "'CSV UTF-8', then run the command again."
        ) from None
    with path.open("rb") as handle:  # only the end: a long file is not read for this
        size = handle.seek(0, os.SEEK_END)
        handle.seek(max(0, size - 4))
        before = handle.read()
    ending = table.newline.encode(codec)
    ended = before.endswith(("\n".encode(codec), "\r".encode(codec)))
    return data if not before or ended else ending + data


def _codec(table: Table) -> str:
    """The codec rows are appended in: the file's own, without a second BOM."""
    codec = table.encoding.codec
    return {"utf-8-sig": "utf-8", "utf-16": _utf16_order(table.path)}.get(codec, codec)


def _utf16_order(path: Path) -> str:
    """An append continues a UTF-16 file in the byte order its BOM names, without a 2nd BOM."""
    with path.open("rb") as handle:
        return "utf-16-le" if handle.read(2) == b"\xff\xfe" else "utf-16-be"


def _append(path: Path, rows: list[tuple[str, str, str]], expect: dict[str, bool]) -> None:
    """Append `rows`, then read the file back: each address in `expect` must read as
    suppressed (True) or not (False), else the file is restored and the error says so."""
    before = None if _is_blank(path) else path.read_bytes()
    table = None if before is None else _open(path)
    new = _encoded_rows(path, table, rows)
    _write_atomic(path, (before or b"") + new)
    try:
        now = read_suppressed(path)
        wrong = [email for email, active in expect.items() if (email.lower() in now) != active]
    except AudienceError as exc:
        wrong, reason = list(expect), str(exc)
    else:
        reason = "they do not read back"
    if wrong:
        if before is None:
            path.unlink(missing_ok=True)
        else:
            _write_atomic(path, before)
        raise SuppressionError(
            f"{path}: could not record {len(wrong)} change(s) ({reason}); the file is back as "
            "it was. Open it in Excel, save it as 'CSV UTF-8', and run the command again."
        )


def add_suppressions(
    path: Path, entries: list[tuple[str, str, str]], *, today: date | None = None
) -> SuppressionResult:
    """Append (address, reason, where-from) entries not suppressed now; idempotent.

    Every appended row is read back; one that does not is a SuppressionError, never a loss.
    A reason that would read as an undo is recorded as `unsubscribed: <reason>`.
    """
    return Appender(path).add(entries, today=today)


class Appender:
    """`add_suppressions` many times over one run (a sync's pages, an inbox's batches),
    reading the file once.

    The addresses suppressed now and the file's dialect and encoding are read when the
    first batch comes, which is appended and read back with the whole file; each later
    batch appends only its own rows (the file opened for appending, flushed to disk) and
    reads back only those, so a run costs two reads of the file plus what it adds (reading
    and rewriting the whole file for every page made 100k take fifty times 10k). Another
    writer meanwhile (an `unsubscribe`, a bounce at send time) changes the file's size;
    the next batch notices and reads it again.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._known: set[str] = set()
        self._table: Table | None = None
        self._size: int | None = None
        """The file's size after this appender last read or wrote it (None: not read)."""
        self._ours_at_end = False
        """Whether the file ends with rows this appender wrote and read back."""

    def _load(self) -> None:
        self._known = set(read_suppressed(self.path))
        self._table = None if _is_blank(self.path) else _open(self.path)
        self._size = self.path.stat().st_size if self.path.exists() else 0
        self._ours_at_end = False

    def add(
        self, entries: list[tuple[str, str, str]], *, today: date | None = None
    ) -> SuppressionResult:
        result = SuppressionResult()
        when = (today or clock.now().date()).isoformat()
        with _locked(self.path):
            size = self.path.stat().st_size if self.path.exists() else 0
            if size != self._size:
                self._load()
            rows: list[tuple[str, str, str]] = []
            for raw, reason, where in entries:
                try:
                    email = normalise_address(raw)
                except InvalidAddress as exc:
                    result.invalid.append((where, str(exc)))
                    continue
                if email.lower() in self._known:
                    result.already += 1
                    continue
                self._known.add(email.lower())
                undo = is_undo(reason)
                rows.append((email, f"unsubscribed: {reason}" if undo else reason, when))
                result.added.append(email)
            if rows:
                try:
                    self._write(rows, result.added)
                except SuppressionError:
                    self._size = None  # read it all again next time
                    raise
        return result

    def _write(self, rows: list[tuple[str, str, str]], added: list[str]) -> None:
        if self._ours_at_end:
            _append_only(self.path, self._table, rows, added)
        else:
            # The file as someone else left it (an unclosed quote on its last line would
            # swallow what follows): the first batch is read back with the whole file.
            _append(self.path, rows, dict.fromkeys(added, True))
            self._table = self._table or _open(self.path)
            self._ours_at_end = True
        self._size = self.path.stat().st_size


def _append_only(path: Path, table: Table, rows: list[tuple[str, str, str]], added: list[str]):
    """Append `rows` after rows of our own and read back just them (what precedes them was
    read back before); a tail that does not read back is cut off again and the error says
    what to do."""
    data = _encoded_rows(path, table, rows)
    # Appended in one write and flushed to disk. A power cut in the middle can leave part
    # of the last line: the next append starts on a line of its own (_encoded_rows), and a
    # cut-off address suppresses nobody Chairside sends to.
    with path.open("r+b") as handle:
        before = handle.seek(0, os.SEEK_END)
        try:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        except OSError as exc:
            handle.truncate(before)
            raise SuppressionError(
                f"Cannot write {path} ({exc.strerror or exc}); nothing was changed in it. Free "
                "some disk space or check the folder can be written to, then run the command "
                "again."
            ) from None
        handle.seek(before)
        written = handle.read()
        read = _read_rows(written, table)
        if [email.lower() for email in read] != [email.lower() for email in added]:
            handle.truncate(before)
            handle.flush()
            os.fsync(handle.fileno())
            raise SuppressionError(
                f"{path}: could not record {len(added)} change(s) (they do not read back); the "
                "file is back as it was. Open it in Excel, save it as 'CSV UTF-8', and run the "
                "command again."
            )


def _read_rows(data: bytes, table: Table) -> list[str]:
    """The addresses in rows appended as `data`, read in the table's dialect and encoding."""
    import csv

    codec = _codec(table)
    try:
        text = data.decode(codec)
    except UnicodeDecodeError:
        return []
    column = table.columns.get("email")
    found = []
    for fields in csv.reader(io.StringIO(text, newline=""), delimiter=table.delimiter):
        if not any(f.strip() for f in fields):
            continue
        raw = fields[column] if column < len(fields) else ""
        raw = raw[1:] if raw.startswith("'") else raw
        try:
            found.append(normalise_address(raw))
        except InvalidAddress:
            found.append("")
    return found


@dataclass
class UndoResult:
    resubscribed: list[str] = field(default_factory=list)
    not_suppressed: list[str] = field(default_factory=list)


def undo_suppressions(
    path: Path, addresses: list[str], *, why: str = "", today: date | None = None
) -> UndoResult:
    """Take suppressions back by appending a `resubscribed` row for each (recorded, undoable
    again by a new unsubscribe). Addresses not suppressed now are listed, not written."""
    result = UndoResult()
    when = (today or clock.now().date()).isoformat()
    reason = f"{RESUBSCRIBED}: {why}" if why else RESUBSCRIBED
    with _locked(path):
        current = read_entries(path)
        rows = []
        for address in addresses:
            entry = current.get(address.lower())
            if entry is None or not entry.active:
                result.not_suppressed.append(address)
                continue
            rows.append((entry.email, reason, when))
            result.resubscribed.append(entry.email)
            current.pop(address.lower())
        if rows:
            if _open(path).columns.get("reason") is None:
                raise SuppressionError(
                    f"{path} has no reason column, where an undo is written. Add a column "
                    "named reason to it (in Excel), save it, and run the command again."
                )
            _append(path, rows, dict.fromkeys(result.resubscribed, False))
    return result


_IMPORTED = "imported from "


def imported_from(path: Path, name: str) -> list[str]:
    """The addresses whose suppression now stands because a file called `name` was imported."""
    marker = f"{_IMPORTED}{name}".lower()
    return [
        e.email
        for e in read_entries(path).values()
        if e.active and (e.reason.lower() == marker or e.reason.lower().startswith(marker + ":"))
    ]


def standing_imports(path: Path) -> dict[str, int]:
    """Name of each imported file → how many of its suppressions stand now (the files an
    `--undo-import` can take back), in the order first met."""
    found: dict[str, int] = {}
    for entry in read_entries(path).values():
        if entry.active and entry.reason.lower().startswith(_IMPORTED):
            name = entry.reason[len(_IMPORTED) :].split(": ", 1)[0].strip()
            if name:
                found[name] = found.get(name, 0) + 1
    return found


# Columns that only a patient list has; a provider's export may carry tags and notes.
_PATIENT_ONLY = ("consent", "opt_out")
_PROVIDER_CONCERNS = frozenset({"tags", "tag", "notes", "categories", "interests"})


def patient_list_signs(table: Table, patients_file: Path) -> str:
    """Why `table` looks like the practice's patient list rather than a list of unsubscribes
    ("" when it does not): it is the patients file, or has a consent or concerns column."""
    if table.path.resolve() == patients_file.resolve():
        return f"it is the practice's patient list ({patients_file.name})"
    headers = table.columns.headers
    for wanted in _PATIENT_ONLY:
        if (column := table.columns.get(wanted)) is not None:
            return f"it has a consent column ({headers[column]!r})"
    for column in table.columns.concerns:
        if normalise_header(headers[column]) not in _PROVIDER_CONCERNS:
            return f"it has a concerns column ({headers[column]!r})"
    return ""


def entries_from_export(table: Table) -> list[tuple[str, str, str]]:
    """(address, reason, line) from a provider's unsubscribe or bounce export.

    The reason says which file the row came from, so `unsubscribe --undo-import` can find it.
    """
    name = table.path.name
    email_col = table.columns.get("email")
    reason_col = table.columns.get("reason")
    entries = []
    for line, fields in table.rows():
        raw = fields[email_col] if email_col < len(fields) else ""
        given = ""
        if reason_col is not None and reason_col < len(fields):
            given = fields[reason_col].strip()
        reason = f"{_IMPORTED}{name}" + (f": {given}" if given else "")
        entries.append((raw, reason, f"{name}, line {line}"))
    return entries


def open_export(path: Path) -> Table:
    """A provider's export; Mailgun's bounce list calls its email column `address` (which in
    a patient list is the postal address, so only here is it taken for email)."""
    try:
        return _open(path)
    except AudienceError as no_email_column:
        try:
            return open_table(path, mapping={"email": "address"}, mapping_label=str(path))
        except AudienceError:
            raise no_email_column from None
