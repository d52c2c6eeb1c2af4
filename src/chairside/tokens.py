"""Per-recipient unsubscribe tokens: opaque, unguessable, and resolvable only here.

A token is an HMAC of the patient's address under a secret kept in `.chairside/secret.key`
(created on first use, never committed). It names nobody to whoever sees the link, and
`chairside unsubscribe --token T` finds the patient again by recomputing tokens for the
addresses it knows. Keep `.chairside/`: without the key, old links cannot be resolved.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from chairside.errors import ChairsideError

KEY_FILE = "secret.key"


def load_key(state_dir: Path) -> bytes:
    """The workspace's token key, created (readable by its owner only) if missing."""
    path = state_dir / KEY_FILE
    if path.is_file():
        try:
            return bytes.fromhex(path.read_text(encoding="ascii").strip())
        except (UnicodeDecodeError, ValueError):
            raise ChairsideError(
                f"{path} is damaged. It is the key behind the unsubscribe codes in emails "
                "already sent: restore it from a backup (deleting it makes old codes unusable)."
            ) from None
    state_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key.hex() + "\n")
    return key


class Tokens:
    """Makes the token of an address (any case gives the same token)."""

    def __init__(self, key: bytes) -> None:
        self._mac = hmac.new(key, digestmod=hashlib.sha256)

    def __call__(self, address: str) -> str:
        mac = self._mac.copy()
        mac.update(address.lower().encode("utf-8"))
        return mac.hexdigest()[:26]  # 104 bits: unguessable, URL-safe, cheap to make

    def resolve(self, token: str, addresses) -> str | None:
        """The address among `addresses` whose token is `token`, if any."""
        wanted = token.strip().lower()
        return next((a for a in addresses if hmac.compare_digest(self(a), wanted)), None)
