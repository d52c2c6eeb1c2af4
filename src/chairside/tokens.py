"""Per-recipient unsubscribe tokens: opaque, unguessable, and resolvable only here.

A token is an HMAC of the patient's address under the practice's key, kept in
`unsubscribe-key.txt` in the practice folder (created on first use, readable by its owner
only). It names nobody to whoever sees the link, and `chairside unsubscribe --token T`
finds the patient again by recomputing tokens for the addresses it knows.

The key lives in a plain file of the practice folder, not in `.chairside/`, because the
codes in mail already sent must keep resolving wherever the folder goes, and copies often
skip hidden folders. A key kept in `.chairside/secret.key` (before) is moved forward, and
never dropped: a second key, from there or from a sync tool's conflicted copy of the file,
is kept as an older key that still resolves. A missing key file where the practice has
already sent something is an error, never a new key in silence.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sqlite3
import tempfile
from collections.abc import Iterable
from pathlib import Path

from chairside.errors import ChairsideError

KEY_FILE = "unsubscribe-key.txt"
OLD_KEY_FILE = "secret.key"
"""Where the key was kept before, in `.chairside/`."""
_HEAD = """\
# Chairside: the key behind the unsubscribe codes in this practice's emails.
# Keep this file with the practice folder (copy it, back it up) and keep it private.
# Without it, the codes in emails already sent can no longer be traced to a patient.
"""


def load_keys(root: Path) -> list[bytes]:
    """The practice's keys, the one to make codes with first, then older ones that still
    resolve; moved forward from `.chairside/secret.key`, or created if the practice never
    sent anything. Storage problems raise OSError."""
    return _load(root)[0]


def practice_id(root: Path) -> str:
    """The practice's id, the same in every copy of its folder (kept in its key file): what
    this computer's witness (`chairside.witness`) is kept under."""
    return _load(root)[1]


def _load(root: Path) -> tuple[list[bytes], str]:
    path = root / KEY_FILE
    old = _old_key(root / ".chairside" / OLD_KEY_FILE)
    if path.is_file():
        keys, known = _read(path)
        if not keys:  # emptied on purpose: the way to start again with a new key
            keys = [secrets.token_bytes(32)]
        wanted = keys + [k for k in [old] if k and k not in keys]
        ident = known or _id_of(wanted[0])
        if wanted != keys or not known:
            _write(path, wanted, ident)
            keys = wanted
    elif old is not None:
        keys, ident = [old], _id_of(old)
        _write(path, keys, ident)
    else:
        if has_sent(root):
            raise ChairsideError(
                f"{path} is missing, but this practice has sent emails: it is the key behind "
                "the unsubscribe codes in them. Put it back from the folder this one was "
                "copied from, or from a backup, and run the same command again. If it is "
                f"lost for good, create an empty file named {KEY_FILE} there: Chairside then "
                "makes a new key (codes in emails already sent stop working; those patients "
                "can still unsubscribe by replying)."
            )
        keys = [secrets.token_bytes(32)]
        ident = _id_of(keys[0])
        _write(path, keys, ident)
    for other in sorted(root.glob(KEY_FILE.replace(".txt", "*.txt"))):
        if other.name != KEY_FILE:  # a sync tool's conflicted copy: its codes still resolve
            keys += [k for k in _read(other)[0] if k not in keys]
    return keys, ident


def load_key(state_dir: Path) -> bytes:
    """The key new codes are made with, for a practice whose `.chairside` is `state_dir`."""
    return load_keys(state_dir.parent)[0]


def _id_of(key: bytes) -> str:
    return hashlib.sha256(b"chairside practice " + key).hexdigest()[:20]


def has_sent(root: Path) -> bool:
    """Whether anything in the practice folder says it has sent a campaign."""
    if any(p.stat().st_size for p in root.glob("campaigns/*/sent-log*")):
        return True
    if any(p.stat().st_size for p in root.glob(".chairside/journal/*.log")):
        return True
    db = root / ".chairside" / "state.db"
    if not db.is_file() or not db.stat().st_size:
        return False
    try:
        with sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True) as conn:
            return conn.execute("SELECT 1 FROM deliveries LIMIT 1").fetchone() is not None
    except sqlite3.Error:
        return True  # unreadable: not evidence of nothing


def _read(path: Path) -> tuple[list[bytes], str | None]:
    """The keys in a key file, and the practice id it names (if it does)."""
    keys, ident = [], None
    try:
        for line in path.read_text(encoding="ascii").splitlines():
            if not _is_key(line):
                continue
            label, _, value = line.strip().rpartition(" ")
            if label == "practice":
                ident = value
            else:
                keys.append(bytes.fromhex(value))
    except (UnicodeDecodeError, ValueError):
        raise ChairsideError(
            f"{path} is damaged. It is the key behind the unsubscribe codes in emails "
            "already sent: restore it from a backup (deleting it makes old codes unusable)."
        ) from None
    return keys, ident


def _is_key(line: str) -> bool:
    return bool(line.strip()) and not line.lstrip().startswith("#")


def _old_key(path: Path) -> bytes | None:
    if not path.is_file():
        return None
    keys = _read(path)[0]
    return keys[0] if keys else None


def _write(path: Path, keys: list[bytes], ident: str) -> None:
    """Atomically, fsync'd (mail carrying codes made with it may leave right after), 0600."""
    lines = [f"practice {ident}", f"current {keys[0].hex()}"]
    lines += [f"older {key.hex()}" for key in keys[1:]]
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(_HEAD + "\n".join(lines) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Tokens:
    """Makes the token of an address (any case gives the same token) with the first key;
    resolves tokens made with any of them."""

    def __init__(self, key: bytes, older: Iterable[bytes] = ()) -> None:
        self._macs = [hmac.new(k, digestmod=hashlib.sha256) for k in [key, *older]]

    def __call__(self, address: str) -> str:
        return self._token(self._macs[0], address)

    def every(self, address: str) -> list[str]:
        """The address's token under each key, the current one first."""
        return [self._token(mac, address) for mac in self._macs]

    @staticmethod
    def _token(mac, address: str) -> str:
        mac = mac.copy()
        mac.update(address.lower().encode("utf-8"))
        return mac.hexdigest()[:26]  # 104 bits: unguessable, URL-safe, cheap to make

    def resolve(self, token: str, addresses) -> str | None:
        """The address among `addresses` whose token (under any key) is `token`, if any."""
        wanted = token.strip().lower()
        addresses = list(addresses)
        for mac in self._macs:
            for address in addresses:
                if hmac.compare_digest(self._token(mac, address), wanted):
                    return address
        return None


def practice_tokens(root: Path) -> Tokens:
    """The tokens of the practice in `root`, resolving codes made with any of its keys."""
    keys = load_keys(root)
    return Tokens(keys[0], keys[1:])
