"""What this computer has sent, kept outside the practice folder: the witness that tells a
restored older copy of the folder (last week's backup) from the latest one.

For each campaign of each practice (known by `tokens.practice_id`, stored in the folder),
the witness keeps the number and fingerprint (`journal.record_hash`) of the last record of
the campaign's sent log written on this computer, when, and from which folder. A sent log
that ends before that number is an older copy; one whose record at that number differs is
another history (another computer sent from another copy). No witness for a campaign whose
sent log shows a send means the folder came from elsewhere (a new computer, a wiped user
folder): the send waits for a person to confirm that this is the latest copy.

The witness lives in `$CHAIRSIDE_STATE_HOME` if set (tests point it at a temporary folder),
else the user's own state folder: `%LOCALAPPDATA%\\Chairside` on Windows,
`~/Library/Application Support/Chairside` on macOS, `$XDG_STATE_HOME/chairside` (by
default `~/.local/state/chairside`) elsewhere.

It is written after each journal record (in place, without an fsync, two slots in turn so a
torn write never spoils the last good one: it may lag the sent log after a power cut, which
only makes it less strict, never wrong), and fsync'd when trusted and when the ledger
closes.
"""

from __future__ import annotations

import json
import os
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

ENV = "CHAIRSIDE_STATE_HOME"


def home() -> Path:
    """The folder of this computer's witness (see the module docstring)."""
    given = os.environ.get(ENV)
    if given:
        return Path(given)
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "Chairside"
    if sys.platform == "darwin":  # pragma: no cover - exercised on macOS only
        return Path.home() / "Library" / "Application Support" / "Chairside"
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "chairside"


@dataclass(frozen=True)
class Seen:
    """The last record of a campaign's sent log that this computer wrote."""

    seq: int
    hash: str
    at: str
    """When that record was written (ISO 8601, UTC)."""
    folder: str
    """The practice folder it was written in."""


SLOT = 1024
"""Bytes per record in a witness file: two slots, written in turn, so that a write cut
short by a crash spoils at most the one being written, never the last complete one."""


class Witness:
    """This computer's witness for one practice. Storage problems raise OSError (the
    ledger names the file for the user)."""

    def __init__(self, practice_id: str) -> None:
        self.dir = home() / "sent" / practice_id
        self._files: dict[str, int] = {}

    def path(self, campaign: str) -> Path:
        return self.dir / f"{campaign}.witness"

    def get(self, campaign: str) -> Seen | None:
        """What this computer last wrote of `campaign`; None if nothing, or if its record
        cannot be read (then the folder cannot be vouched for: the caller asks a person)."""
        try:
            data = self.path(campaign).read_bytes()
        except FileNotFoundError:
            return None
        found = [_parse(data[n : n + SLOT]) for n in (0, SLOT)]
        return max((s for s in found if s), key=lambda s: s.seq, default=None)

    def put(self, campaign: str, seen: Seen, *, durable: bool = False) -> None:
        """Record `seen`: one write into the slot of its number's parity, the other slot
        keeping the one before (see SLOT). Costs microseconds: it follows every record.

        `durable`: fsync'd, and written to both slots, so that it replaces whatever was
        there, even a later number (a person confirmed that this copy is the one to follow)."""
        fd = self._files.get(campaign)
        if fd is None:
            self.dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path(campaign), os.O_RDWR | os.O_CREAT | _BINARY, 0o600)
            self._files[campaign] = fd
        slot = _slot(seen)
        os.lseek(fd, 0 if durable else (seen.seq % 2) * SLOT, os.SEEK_SET)
        os.write(fd, slot * 2 if durable else slot)
        if durable:
            os.fsync(fd)

    def close(self) -> None:
        """Make what `put` wrote durable, and let go of the files."""
        files, self._files = self._files, {}
        for fd in files.values():
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


_BINARY = getattr(os, "O_BINARY", 0)


def _slot(seen: Seen) -> bytes:
    text = json.dumps({**seen.__dict__, "folder": seen.folder[-700:]}, ensure_ascii=True)
    line = f"{zlib.crc32(text.encode()):08x} {text}"
    return line.ljust(SLOT - 1).encode("ascii") + b"\n"


def _parse(slot: bytes) -> Seen | None:
    try:
        crc, _, text = slot.decode("ascii").strip().partition(" ")
        if int(crc, 16) != zlib.crc32(text.encode()):
            return None
        data = json.loads(text)
        return Seen(int(data["seq"]), str(data["hash"]), str(data["at"]), str(data["folder"]))
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return None
