"""Where each campaign stands: draft, checked, tested, approved, scheduled, sending, sent.

Sending and pushing are read from the ledger (the CLI's and the studio's alike); tests,
approvals and schedules from the campaign's status.toml (`chairside.autopilot.status`).
Checks leave nothing in the practice's files, so the studio remembers them in
`.chairside/studio.json`, keyed by the same fingerprint of everything that shapes the email:
an edit made anywhere (studio, editor, CLI) after a check makes the campaign a draft again.

What pages read from large files (the patient list, the send record) is kept in `CACHE`,
keyed by the (path, inode, mtime_ns, size) of every file it came from: a page costs
milliseconds at 100,000 patients, and a change made anywhere (the studio, an editor, the
CLI) is read again on the next request. The small results (what the list counts, what the
ledger says) are also kept across restarts in `.chairside/cache/`, keyed by those stats and
a hash of each file's content (stats alone could lie across restarts), written atomically
and ignored when damaged. A page that would wait longer than `WAIT` for a heavy part
shows the rest at once and loads that part as a fragment (the `*_ready` functions); the
heavy reads are done in a child process (`read_ahead`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

from chairside.audience.addresses import mask
from chairside.audience.patients import Audience, load_audience
from chairside.audience.segments import load_segments
from chairside.autopilot.month import stage
from chairside.autopilot.status import fingerprint
from chairside.campaign import CAMPAIGN_FILE
from chairside.delivery import state_dir
from chairside.errors import ChairsideError
from chairside.fsutil import write_text_atomic
from chairside.journal import Journal
from chairside.ledger import SENT, LedgerError, is_locked, open_ledger, peek_counts
from chairside.status import Status, campaign_status
from chairside.workspace import Practice, Workspace, load_practice

log = logging.getLogger("chairside.studio")
RECORD_FILE = "studio.json"
SHOW_AT_MOST = 1000
"""Rows of the list shown on a page at most (rows that can't be used, addresses)."""
CACHE_DIR = "cache"
WAIT = 0.05
"""Seconds a page waits for a part it must compute before it shows that part as a
fragment ("Reading the send record…") loaded once it is ready."""
AHEAD = True
"""Whether what pages wait for is read ahead in a child process (`read_ahead`). Python
runs one thread of a process at a time: a read of 100,000 patients in the studio's own
process would slow every page meanwhile. Tests read in their own process."""
_ahead_lock = threading.Lock()
_ahead_runs: dict[str, tuple[float, frozenset[str]]] = {}
"""Practice folder → when its last child ended and what it read."""
_record_lock = threading.Lock()
T = TypeVar("T")


def signature(paths: Iterable[Path]) -> tuple:
    """What identifies the contents of `paths` without reading them: an atomic replace
    changes the inode, an edit the mtime or size; a missing file is part of it too."""
    found = []
    for path in paths:
        try:
            info = path.stat()
        except OSError:
            info = None
        if info is None or (info.st_size == 0 and path.name.endswith("-wal")):
            # An empty write-ahead log holds nothing: the same as none (a reader of the
            # ledger leaves one behind, the next writer removes it).
            found.append((str(path), None))
        else:
            found.append((str(path), info.st_ino, info.st_mtime_ns, info.st_size))
    return tuple(found)


_digests: dict[tuple, str | None] = {}


def _digest(stats: tuple) -> str | None:
    """A hash of the content of the file `stats` (an entry of `signature`) describes,
    computed once per process for those stats (which this process trusts, as `FileCache`
    does): the ledger is hashed once, not once per campaign."""
    if stats[1] is None:
        return None
    found = _digests.get(stats)
    if found is None:
        try:
            with open(stats[0], "rb") as handle:
                found = hashlib.file_digest(handle, "blake2b").hexdigest()[:32]
        except OSError:
            return None
        if len(_digests) > 1000:
            _digests.clear()
        _digests[stats] = found
    return found


@dataclass(frozen=True)
class Kept:
    """How a value is kept across restarts: as JSON in `folder`, `encode`d and `decode`d
    (a value that does not decode is computed again)."""

    folder: Path
    encode: Callable[[Any], Any]
    decode: Callable[[Any], Any]

    def file(self, key: tuple) -> Path:
        return self.folder / (hashlib.sha256(repr(key).encode()).hexdigest()[:24] + ".json")

    def load(self, key: tuple, paths: tuple[Path, ...]) -> tuple[bool, Any]:
        """(True, value) when kept for `paths` exactly as they are now, else (False, None)."""
        try:
            kept = json.loads(self.file(key).read_text(encoding="utf-8"))
            if kept["key"] != repr(key) or kept["files"] != _contents(paths):
                return False, None
            return True, self.decode(kept["value"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return False, None  # missing or damaged: computed again and replaced

    def save(self, key: tuple, paths: tuple[Path, ...], value: Any) -> None:
        kept = {"key": repr(key), "files": _contents(paths), "value": self.encode(value)}
        with contextlib.suppress(OSError):  # a read-only folder: kept in memory only
            write_text_atomic(self.file(key), json.dumps(kept))


def _contents(paths: Iterable[Path]) -> list:
    """`signature` with a hash of each file's content, as JSON keeps it."""
    return [[*entry, _digest(entry)] for entry in signature(paths)]


class FileCache:
    """Values computed from files, kept until one of those files changes.

    A value is kept only when its files did not change while it was computed (else the
    next request computes it again). A user error (ChairsideError) is kept like a value:
    a list that does not read is not read again until it changes.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple, tuple[tuple, bool, object]] = {}
        self._computing: dict[tuple, threading.Lock] = {}

    def get(
        self,
        key: tuple,
        paths: Iterable[Path],
        compute: Callable[[], T],
        kept: Kept | None = None,
    ) -> T:
        paths = tuple(paths)
        hit = self._hit(key, paths)
        if hit is None:
            with self._computing_lock(key):  # two at once: one reads, the other waits
                hit = self._hit(key, paths)
                if hit is None:
                    hit = self._compute(key, paths, compute, kept)
        value, failed = hit
        if failed:
            raise value  # type: ignore[misc]
        return value  # type: ignore[return-value]

    def _compute(
        self, key: tuple, paths: tuple[Path, ...], compute: Callable[[], T], kept: Kept | None
    ) -> tuple[object, bool]:
        before = signature(paths)
        found, value = kept.load(key, paths) if kept else (False, None)
        if found:
            hit = (value, False)
        else:
            try:
                hit = (compute(), False)
            except ChairsideError as exc:
                hit = (exc, True)
        if signature(paths) == before:
            with self._lock:
                self._entries[key] = (before, hit[1], hit[0])
            if kept and not found and not hit[1]:
                kept.save(key, paths, hit[0])
        return hit

    def _computing_lock(self, key: tuple) -> threading.Lock:
        with self._lock:
            return self._computing.setdefault(key, threading.Lock())

    def within(
        self,
        seconds: float,
        key: tuple,
        paths: Iterable[Path],
        compute: Callable[[], T],
        kept: Kept | None = None,
        ahead: Callable[[], object] | None = None,
    ) -> bool:
        """Whether `get` answers within `seconds`: if not, it goes on in the background
        (a fragment's request then waits for it rather than computing it twice), after
        `ahead()`, which may keep the value on disk from another process."""
        paths = tuple(paths)
        if self._hit(key, paths) is not None:
            return True

        def work() -> None:
            with self._computing_lock(key):
                if self._hit(key, paths) is not None:
                    return
                try:
                    if ahead is not None and kept is not None and not kept.load(key, paths)[0]:
                        ahead()  # reads in another process; does not take this key
                    self._compute(key, paths, compute, kept)  # loads what it kept
                except Exception:  # a bug: logged, and the page that asks for it shows it
                    log.exception("Reading ahead failed")

        worker = threading.Thread(target=work, daemon=True)
        worker.start()
        worker.join(seconds)
        return not worker.is_alive()

    def _hit(self, key: tuple, paths: tuple[Path, ...]) -> tuple[object, bool] | None:
        with self._lock:
            entry = self._entries.get(key)
        if entry is None or entry[0] != signature(paths):
            return None
        return entry[2], entry[1]

    def clear(self) -> None:
        """Forget everything read (as a new process starts), the hashes of files too."""
        with self._lock:
            self._entries.clear()
            _digests.clear()


CACHE = FileCache()


def audience_files(workspace: Workspace) -> list[Path]:
    return [workspace.patients_file, workspace.segments_file, workspace.suppressed_file]


def kept(workspace: Workspace, encode, decode) -> Kept:
    """Values kept across restarts in the practice's `.chairside/cache/`."""
    return Kept(state_dir(workspace) / CACHE_DIR, encode, decode)


def _shaped(value: Any, like: type, size: int) -> Any:
    """`value` if JSON gave it the shape it was written in, else ValueError (damaged)."""
    if not isinstance(value, like) or len(value) != size:
        raise ValueError("damaged")
    return value


def audience(workspace: Workspace) -> Audience:
    """The patient list as `load_audience` reads it, read again only when one of its files
    changed. Pages only read it (a send prepares its own, fresh)."""
    return CACHE.get(*_audience_args(workspace))


def list_summary(workspace: Workspace) -> dict:
    """What pages show of the patient list without its addresses: its counts (rows, can be
    emailed, each concern's, duplicates, suppressed, no consent), notes, and the first
    `SHOW_AT_MOST` rows that can't be used (values masked); kept across restarts."""
    return CACHE.get(*_summary_args(workspace))


def summary_ready(workspace: Workspace, wait: float) -> bool:
    """Whether `list_summary` answers within `wait` seconds (else it goes on in the
    background)."""
    return CACHE.within(wait, *_summary_args(workspace), _ahead(workspace, "summary"))


def _summary_args(workspace: Workspace) -> tuple:
    return (
        ("summary", str(workspace.root)),
        audience_files(workspace),
        lambda: _summary(workspace),
        kept(workspace, dict, lambda d: _shaped(d, dict, 11)),
    )


def _summary(workspace: Workspace) -> dict:
    found = audience(workspace)
    rejected = found.rejected[:SHOW_AT_MOST]
    return {
        "rows": found.rows,
        "encoding": found.encoding,
        "delimiter": found.delimiter,
        "sendable": found.sendable,
        "duplicates": found.duplicates,
        "suppressed": found.suppressed,
        "no_consent": found.no_consent,
        "notes": list(found.notes),
        "counts": found.segment_counts(load_segments(workspace.segments_file)),
        "rejected": [[r.line, r.reason, mask(r.value)] for r in rejected],
        "rejected_count": len(found.rejected),
    }


def audience_ready(workspace: Workspace, wait: float) -> bool:
    """Whether `audience` answers within `wait` seconds (else it goes on in the
    background)."""
    return CACHE.within(wait, *_audience_args(workspace))


def _audience_args(workspace: Workspace) -> tuple:
    return (
        ("audience", str(workspace.root)),
        audience_files(workspace),
        lambda: load_audience(workspace),
    )


def practice(workspace: Workspace) -> Practice:
    return CACHE.get(
        ("practice", str(workspace.root)),
        [workspace.practice_file],
        lambda: load_practice(workspace),
    )


def ledger_files(workspace: Workspace, name: str) -> list[Path]:
    """The files a campaign's send record is read from: the ledger (with its write-ahead
    log) and the campaign's journal."""
    state = state_dir(workspace)
    return [state / "state.db", state / "state.db-wal", Journal(state, name).path]


def status(workspace: Workspace, name: str, *, show: bool = False) -> Status:
    """`chairside status NAME` (LedgerError when the record cannot be trusted), read again
    only when the ledger, the journal or the patient list changed."""
    return CACHE.get(*_status_args(workspace, name, show))


def status_ready(workspace: Workspace, name: str, wait: float, *, show: bool = False) -> bool:
    """Whether `status` answers within `wait` seconds (else it goes on in the background)."""
    return CACHE.within(
        wait, *_status_args(workspace, name, show), _ahead(workspace, f"status:{name}")
    )


def _status_args(workspace: Workspace, name: str, show: bool) -> tuple:
    # Kept across restarts masked only: the addresses shown on request are read again.
    keep = None if show else kept(workspace, Status.as_dict, _status_from)
    return (
        ("status", str(workspace.root), name, show),
        ledger_files(workspace, name) + audience_files(workspace),
        lambda: _status(workspace, name, show),
        keep,
    )


def _status_from(kept: dict) -> Status:
    return Status(**_shaped(kept, dict, len(fields(Status))))


def _status(workspace: Workspace, name: str, show: bool) -> Status:
    state = state_dir(workspace)
    if not (state / "state.db").exists() and not Journal(state, name).path.exists():
        # Never sent from anywhere: looking must not create the ledger (a page read while
        # the CLI creates it would find it empty).
        return Status(name, is_locked(state, name), pending=len(audience(workspace).patients))
    return campaign_status(name, audience(workspace), state=state, show=show)


def _record_path(workspace: Workspace) -> Path:
    return state_dir(workspace) / RECORD_FILE


def read_records(workspace: Workspace) -> dict:
    try:
        data = json.loads(_record_path(workspace).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # missing or damaged: it only remembers checks; they can be run again
    return data if isinstance(data, dict) else {}


def remember(workspace: Workspace, name: str, **values) -> None:
    """Store `values` for campaign `name` (e.g. its check results, a test send)."""
    with _record_lock:
        records = read_records(workspace)
        entry = records.get(name) if isinstance(records.get(name), dict) else {}
        entry.update(values)
        records[name] = entry
        write_text_atomic(_record_path(workspace), json.dumps(records, indent=2) + "\n")


def record(workspace: Workspace, name: str) -> dict:
    found = read_records(workspace).get(name)
    return found if isinstance(found, dict) else {}


@dataclass(frozen=True)
class Delivery:
    """What the ledger says about a campaign."""

    sent: int
    other: int
    """Rows not (yet) sent: in flight, failed, deferred."""
    pushed: bool
    running: bool
    problem: str | None = None
    """Why the ledger cannot be trusted for this campaign (lost, older than its journal,
    damaged): then nothing is known to be sent, which is not the same as nothing sent."""


def delivery(workspace: Workspace, name: str) -> Delivery:
    state = state_dir(workspace)
    if is_locked(state, name):
        # A send runs (here or in another window) and changes the ledger all the time:
        # counts read-only, without the journal check, which would take the ledger's write
        # lock from the send on every page view.
        counts = peek_counts(state, name)
        sent = counts.get(SENT, 0)
        return Delivery(sent, sum(counts.values()) - sent, False, True)
    sent, other, pushed, problem = CACHE.get(*_delivery_args(workspace, name))
    return Delivery(sent, other, pushed, False, problem)


def delivery_ready(workspace: Workspace, name: str, wait: float) -> bool:
    """Whether `delivery` answers within `wait` seconds (else it goes on in the
    background); a running send is read at once."""
    return deliveries_ready(workspace, [name], wait)


def deliveries_ready(workspace: Workspace, names: list[str], wait: float) -> bool:
    """Whether `delivery` answers for every campaign in `names` within `wait` seconds in
    all; those not kept are read ahead by one child."""
    parts = [f"delivery:{name}" for name in names]
    ahead = (lambda: _child(workspace, parts)) if AHEAD else None
    deadline = time.monotonic() + wait
    return all(
        is_locked(state_dir(workspace), name)
        or CACHE.within(
            max(deadline - time.monotonic(), 0), *_delivery_args(workspace, name), ahead
        )
        for name in names
    )


def _delivery_args(workspace: Workspace, name: str) -> tuple:
    # The check against the journal costs a read of both: done once per change of either.
    return (
        ("delivery", str(workspace.root), name),
        ledger_files(workspace, name),
        lambda: _delivered(state_dir(workspace), name),
        kept(workspace, list, lambda v: tuple(_shaped(v, list, 4))),
    )


def _delivered(state: Path, name: str) -> tuple[int, int, bool, str | None]:
    if not (state / "state.db").exists() and not Journal(state, name).path.exists():
        return 0, 0, False, None  # never sent, from here or the CLI
    try:
        with open_ledger(state) as ledger:
            ledger.check(name)  # a deleted or older ledger must not read as "nothing sent"
            counts = ledger.counts(name)
            pushed = bool(ledger.routes(name) - {"smtp"})
    except LedgerError as exc:
        return 0, 0, False, exc.format_message()
    sent = counts.get(SENT, 0)
    return sent, sum(counts.values()) - sent, pushed, None


@dataclass(frozen=True)
class CampaignState:
    name: str
    state: str
    """draft, needs fixes, checked, tested, approved, scheduled, held, sending, partly sent,
    sent, pushed, or ledger lost (its `next_step` is then the ledger's own message)."""
    next_step: str
    errors: int | None
    warnings: int | None
    sent: int

    @property
    def next_url(self) -> str:
        """Where the next step is done: the Edit page to fix or check, else the Send page."""
        page = "edit" if self.state in ("draft", "needs fixes") else "send"
        return f"/c/{self.name}/{page}"

    @property
    def deletable(self) -> bool:
        """Offered for deletion: a draft nothing of which was sent (the library checks
        again, with the ledger and the journal, before it deletes)."""
        return self.state in ("draft", "needs fixes", "checked", "tested") and not self.sent


def campaign_state(workspace: Workspace, name: str) -> CampaignState:
    remembered = record(workspace, name)
    printed = fingerprint(workspace, name)
    current = remembered.get("fingerprint") == printed
    errors = remembered.get("errors") if current else None
    warnings = remembered.get("warnings") if current else None
    sent = delivery(workspace, name)
    if sent.problem:
        state, step = "ledger lost", sent.problem
    elif sent.running:
        state, step = "sending", "Watch its progress"
    elif sent.pushed:
        state, step = "pushed", "See its status"
    elif sent.sent and sent.other:
        state, step = "partly sent", "Resume the send, or see its status"
    elif sent.sent:
        month = stage(workspace, name, printed)  # sent, or closed once read back and reported on
        state, step = (
            (month.word, month.detail) if month.word == "closed" else ("sent", "See its status")
        )
    elif errors:
        state, step = "needs fixes", f"Fix {errors} error{'s' * (errors != 1)}"
    elif (month := stage(workspace, name, printed)).word in ("approved", "scheduled", "held"):
        state, step = month.word, month.detail
    elif month.word == "tested":
        state, step = "tested", "Approve it, then send it or schedule it"
    elif errors is None:
        state, step = "draft", "Edit it and check it"
    else:
        state, step = "checked", "Send yourself a test"
    return CampaignState(name, state, step, errors, warnings, sent.sent)


def campaign_names(workspace: Workspace) -> list[str]:
    """Every campaign in the practice, newest name first (2026-12 before 2026-11)."""
    found = [p.parent.name for p in workspace.campaigns_dir.glob(f"*/{CAMPAIGN_FILE}")]
    return sorted(found, reverse=True)


def warm(workspace: Workspace, names: list[str] | None = None) -> None:
    """Read into the cache what the pages will ask for (the practice, the patient list, each
    campaign's send record), so the first page after the studio starts, or after a send
    ends, answers at once. Meant for a background thread: a problem is left for the page
    that shows it."""
    for part in _parts(workspace, names):
        _read(workspace, part)


def read_ahead(workspace: Workspace, names: list[str] | None = None) -> None:
    """`warm` in a child process (`AHEAD`), which keeps what it reads in .chairside/cache/
    for the pages to load; in this process if the child cannot run."""
    parts = _parts(workspace, names)
    if not (AHEAD and _child(workspace, parts)):
        warm(workspace, names)


def _parts(workspace: Workspace, names: list[str] | None) -> list[str]:
    parts = ["practice", "summary"]
    for name in campaign_names(workspace) if names is None else names:
        parts += [f"delivery:{name}", f"status:{name}"]
    return parts


def _child(workspace: Workspace, parts: list[str]) -> bool:
    """`parts` (see `_read`) read in a child process; whether it ran. One child at a time:
    a second waits, then finds what the first kept."""
    command = [sys.executable, "-m", "chairside.studio.state", str(workspace.root), *parts]
    asked = time.monotonic()
    with _ahead_lock:
        last = _ahead_runs.get(str(workspace.root))
        if last and last[0] >= asked and set(parts) <= last[1]:
            # One that ended since this was asked read these: what it kept is loaded if
            # it is current (`FileCache` compares it with the files), else read here.
            return True
        try:
            subprocess.run(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                check=True,
                timeout=600,
            )
        except (OSError, subprocess.SubprocessError):
            return False
        _ahead_runs[str(workspace.root)] = (time.monotonic(), frozenset(parts))
    return True


def _ahead(workspace: Workspace, part: str) -> Callable[[], object] | None:
    """What a page's wait for `part` reads ahead with, if anything (never in this process:
    the waiting thread holds what that would take)."""
    return (lambda: _child(workspace, [part])) if AHEAD else None


def _read(workspace: Workspace, part: str) -> None:
    """One part of what pages read: practice, summary, delivery:NAME or status:NAME."""
    kind, _, name = part.partition(":")
    reads = {
        "practice": lambda: practice(workspace),
        "summary": lambda: list_summary(workspace),
        "delivery": lambda: delivery(workspace, name),
        "status": lambda: status(workspace, name),
    }
    if kind == "status" and is_locked(state_dir(workspace), name):
        return  # a send runs: its page shows live counts, and the check would slow it
    try:
        reads[kind]()
    except ChairsideError:
        return  # left for the page that shows it
    except Exception:  # a bug: logged, and the page will show it
        log.exception("Reading %s ahead failed", part)


if __name__ == "__main__":  # _child's process: ROOT PART...
    for part in sys.argv[2:]:
        _read(Workspace(Path(sys.argv[1])), part)
