"""Passwords and API keys: the environment variable first, then the computer's keychain.

Never a file of the practice: the folder gets copied, synced and backed up, and a key in it
travels with every copy. The keychain is the operating system's own (Windows Credential
Manager, macOS Keychain, the Secret Service on Linux) through `keyring`; a computer without
one says so, and both faces then name the environment variable instead.

Each secret is kept under the service ``chairside`` and an account that names what it opens
(``smtp:office@mail.example.com``), so a practice that changes its mail server is asked for
the new server's password instead of sending the old one to it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from chairside.errors import ChairsideError

SERVICE = "chairside"


@dataclass(frozen=True)
class Kind:
    name: str
    variable: str
    what: str
    """What the secret is, as a person says it: "the mail server's password"."""


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind("smtp", "CHAIRSIDE_SMTP_PASSWORD", "the mail server's password"),
        Kind("imap", "CHAIRSIDE_IMAP_PASSWORD", "the mailbox's password"),
        Kind("mailchimp", "MAILCHIMP_API_KEY", "the Mailchimp API key"),
        Kind("sendgrid", "SENDGRID_API_KEY", "the SendGrid API key"),
        Kind("mailgun", "MAILGUN_API_KEY", "the Mailgun API key"),
        Kind("dkim", "CHAIRSIDE_DKIM_KEY", "the DKIM signing key"),
    )
}


class NoKeychain(ChairsideError):
    """This computer has no keychain that `keyring` can use."""


def kind(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise ChairsideError(
            f"Unknown secret {name!r}: choose one of {', '.join(KINDS)}."
        ) from None


def account_for(name: str, workspace) -> str:
    """The account a secret of the practice in `workspace` is kept under: `user@host` of
    `[smtp]` or `[imap]` in practice.toml (as `send` and `inbox` look it up), where the DKIM
    key is published (`<selector>._domainkey.<domain>`), nothing for an API key."""
    if name == "dkim":
        from chairside.workspace import load_practice

        config = load_practice(workspace).dkim
        return config.record_name if config else ""
    kind(name)
    if name not in ("smtp", "imap"):
        return ""
    from chairside.tomlfile import load_toml

    table = load_toml(workspace.practice_file).get(name, {})
    if not isinstance(table, dict):
        return ""
    return f"{str(table.get('user', '')).strip()}@{str(table.get('host', '')).strip()}"


def _account(name: str, account: str) -> str:
    return f"{name}:{account}" if account else name


def _keyring():
    """The keychain backend, or None where the computer has none (a bare Linux server)."""
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:  # pragma: no cover - keyring is a dependency
        return None
    backend = keyring.get_keyring()
    if isinstance(backend, fail.Keyring) or backend.priority <= 0:
        return None
    # keyrings.alt's backends (a plain or weakly encrypted file) are no keychain: they come
    # with the test tools, and keyring would pick one by itself on a computer without a real
    # keychain. Only a deliberate PYTHON_KEYRING_BACKEND (the tests' own file) uses one.
    if type(backend).__module__.startswith("keyrings.alt") and not os.environ.get(
        "PYTHON_KEYRING_BACKEND"
    ):
        return None
    # keyring's "chainer" with nothing behind it is no keychain either.
    backends = getattr(backend, "backends", None)
    if backends is not None and not backends:
        return None
    return backend


def keychain_name() -> str | None:
    """A person's name for the keychain in use, or None when there is none."""
    backend = _keyring()
    return None if backend is None else getattr(backend, "name", type(backend).__name__)


def get(name: str, account: str = "") -> str:
    """The secret `name` for `account`: its environment variable, else the keychain, else ""."""
    from_env = os.environ.get(kind(name).variable, "").strip()
    if from_env:
        return from_env
    backend = _keyring()
    if backend is None:
        return ""
    try:
        return (backend.get_password(SERVICE, _account(name, account)) or "").strip()
    except Exception:  # a locked or broken keychain reads as "not set", never a traceback
        return ""


def where(name: str) -> str:
    """Where the secret comes from, for a message: "the environment variable X" or keychain."""
    the_kind = kind(name)
    if os.environ.get(the_kind.variable, "").strip():
        return f"the environment variable {the_kind.variable}"
    if _keyring() is None:
        return "nowhere yet"
    return "this computer's keychain"


def missing(name: str, account: str = "") -> str:
    """What to do when the secret is not set: the same words for the CLI and the studio."""
    the_kind = kind(name)
    if _keyring() is None:
        return (
            f"{the_kind.what[0].upper()}{the_kind.what[1:]} is not set. This computer has no "
            f"keychain, so set the environment variable {the_kind.variable} "
            "(passwords are never kept in files)."
        )
    return (
        f"{the_kind.what[0].upper()}{the_kind.what[1:]} is not set. Save it in this computer's "
        f"keychain with `chairside secrets set {name}` (or in the studio's Settings), or set "
        f"the environment variable {the_kind.variable}."
    )


def require(name: str, account: str = "") -> str:
    """The secret, or a ChairsideError that says where to put it."""
    value = get(name, account)
    if not value:
        raise ChairsideError(missing(name, account))
    return value


def store(name: str, value: str, account: str = "") -> None:
    """Save the secret in the keychain (NoKeychain where there is none)."""
    kind(name)
    value = value.strip()
    if not value:
        raise ChairsideError("Nothing to save: the secret is empty.")
    backend = _keyring()
    if backend is None:
        raise NoKeychain(_no_keychain(name))
    try:
        backend.set_password(SERVICE, _account(name, account), value)
    except Exception as exc:
        raise ChairsideError(f"The keychain refused to save {kind(name).what}: {exc}") from None


def forget(name: str, account: str = "") -> bool:
    """Remove the secret from the keychain; False when it was not there."""
    kind(name)
    backend = _keyring()
    if backend is None:
        raise NoKeychain(_no_keychain(name))
    try:
        from keyring.errors import PasswordDeleteError

        backend.delete_password(SERVICE, _account(name, account))
    except PasswordDeleteError:
        return False
    return True


def _no_keychain(name: str) -> str:
    return (
        "This computer has no keychain that Chairside can use (on Linux: the Secret Service, "
        "e.g. GNOME Keyring or KWallet). Set the environment variable "
        f"{kind(name).variable} instead."
    )
