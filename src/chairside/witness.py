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

It is written after each journal record (atomically, without an fsync: it may lag the sent
log after a power cut, which only makes it less strict, never wrong) and fsync'd when the
ledger closes.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
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


class Witness:
    """This computer's witness for one practice. Storage problems raise OSError (the
    ledger names the file for the user)."""

    def __init__(self, practice_id: str) -> None:
        self.dir = home() / "sent" / practice_id
        self._written: set[Path] = set()

    def path(self, campaign: str) -> Path:
        return self.dir / f"{campaign}.json"

    def get(self, campaign: str) -> Seen | None:
        """What this computer last wrote of `campaign`; None if nothing, or if its record
        cannot be read (then the folder cannot be vouched for: the caller asks a person)."""
        path = self.path(campaign)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return Seen(int(data["seq"]), str(data["hash"]), str(data["at"]), str(data["folder"]))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            return None

    def put(self, campaign: str, seen: Seen, *, durable: bool = False) -> None:
        """Record `seen` (atomically: a reader sees the old or the new, never half)."""
        path = self.path(campaign)
        self.dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=f".{campaign}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(seen.__dict__, handle)
                if durable:
                    handle.flush()
                    os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        if not durable:
            self._written.add(path)

    def sync(self) -> None:
        """Make what `put` wrote since the last sync durable."""
        for path in self._written:
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        self._written.clear()
