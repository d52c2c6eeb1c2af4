"""Testing a mail server's or a mailbox's settings: connect, encrypt as configured, log in,
and change nothing (no message sent, no mail marked or moved).

Each answer names the setting at fault (`CheckResult.field`), so the studio shows it beside
that field and `chairside doctor` can say which setting to fix; the words name no file.
"""

from __future__ import annotations

import contextlib
import imaplib
import smtplib
import ssl
from dataclasses import dataclass

from chairside.providers.smtp import SmtpSettings

ENCRYPTION = {
    "ssl": "encrypted from the start",
    "starttls": "encrypted after the greeting",
    "none": "not encrypted",
}


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    message: str
    field: str = ""
    """The setting to look at: host, port, security, user, password or folder ("" = none)."""


def _reply(value: object) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, Exception) and value.args:
        return _reply(
            value.args[-1] if isinstance(value, smtplib.SMTPResponseException) else value.args[0]
        )
    return " ".join(str(value).split())


def _unreachable(where: str, exc: Exception) -> CheckResult:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return CheckResult(
            False,
            f"{where} showed a certificate this computer does not trust "
            f"({exc.verify_message}), so no password was sent. Check the server name: it "
            "must be the one your mail provider gives (the certificate is made for it).",
            "host",
        )
    if isinstance(exc, ssl.SSLError):
        return CheckResult(
            False,
            f"{where} did not answer with encryption ({exc.reason or exc}). Check the "
            "security choice and the port: encrypted from the start is usually port 465, "
            "encrypted after the greeting usually 587.",
            "security",
        )
    if isinstance(exc, TimeoutError):
        return CheckResult(
            False,
            f"{where} did not answer in time. Check the server name and port, and this "
            "computer's internet connection.",
            "port",
        )
    return CheckResult(
        False,
        f"Cannot reach {where} ({_reply(exc) or type(exc).__name__}). Check the server name "
        "and port, and this computer's internet connection.",
        "host",
    )


def check_smtp_login(settings: SmtpSettings, *, timeout: float = 20.0) -> CheckResult:
    """Connect to the mail server, encrypt as `settings.security` says, log in when a user
    is set, and quit: nothing is sent. The certificate is verified as `chairside send` does."""
    where = f"The mail server {settings.host}:{settings.port}"
    if not settings.host:
        return CheckResult(False, "Type the mail server's name first.", "host")
    if settings.user and not settings.password:
        return CheckResult(False, "Type the password for this login first.", "password")
    client: smtplib.SMTP | None = None
    try:
        try:
            if settings.security == "ssl":
                client = smtplib.SMTP_SSL(
                    settings.host,
                    settings.port,
                    timeout=timeout,
                    context=ssl.create_default_context(),
                )
            else:
                client = smtplib.SMTP(settings.host, settings.port, timeout=timeout)
            client.ehlo()
            if settings.security == "starttls":
                if not client.has_extn("starttls"):
                    return CheckResult(
                        False,
                        f"{where} does not offer to switch to encryption after the greeting "
                        "(STARTTLS), so no password was sent. Choose 'encrypted from the "
                        "start' (usually port 465), or ask your mail provider for its "
                        "encrypted settings.",
                        "security",
                    )
                client.starttls(context=ssl.create_default_context())
                client.ehlo()
        except (OSError, smtplib.SMTPException) as exc:
            return _unreachable(where, exc)
        if settings.user:
            if not client.has_extn("auth"):
                return CheckResult(
                    False,
                    f"{where} offers no login here. Leave the login empty if it takes mail "
                    "from this computer without one, or check the security choice (many "
                    "servers offer a login only once the connection is encrypted).",
                    "user",
                )
            try:
                client.login(settings.user, settings.password)
            except smtplib.SMTPAuthenticationError as exc:
                return CheckResult(
                    False,
                    f"{where} refused the login for {settings.user} ({exc.smtp_code} "
                    f"{_reply(exc.smtp_error)}). Check the login and the password.",
                    "password",
                )
            except (OSError, smtplib.SMTPException) as exc:
                return CheckResult(
                    False, f"{where} failed during the login ({_reply(exc)}).", "user"
                )
        login = f", logged in as {settings.user}" if settings.user else ", no login needed"
        return CheckResult(
            True,
            f"Connected to {settings.host}:{settings.port}, "
            f"{ENCRYPTION.get(settings.security, settings.security)}{login}. Nothing was sent.",
        )
    finally:
        if client is not None:
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                client.close()


def check_imap_login(config, password: str, *, timeout: float = 20.0) -> CheckResult:
    """Connect to the mailbox (`chairside.returnpath.inbox.ImapConfig`), encrypt as
    `config.tls` says, log in and open `config.folder` read-only: nothing is changed."""
    from chairside.errors import ChairsideError
    from chairside.providers.smtp import tls_context

    where = f"The mailbox server {config.host}:{config.port}"
    if not config.host:
        return CheckResult(False, "Type the mailbox server's name first.", "host")
    if not password:
        return CheckResult(False, "Type the mailbox's password first.", "password")
    try:
        context = tls_context(config.ca_file, "[imap]") if config.tls != "none" else None
    except ChairsideError as exc:
        return CheckResult(False, exc.format_message(), "security")
    imap: imaplib.IMAP4 | None = None
    try:
        try:
            if config.tls == "ssl":
                imap = imaplib.IMAP4_SSL(
                    config.host, config.port, ssl_context=context, timeout=timeout
                )
            else:
                imap = imaplib.IMAP4(config.host, config.port, timeout=timeout)
                if config.tls == "starttls":
                    if "STARTTLS" not in imap.capabilities:
                        return CheckResult(
                            False,
                            f"{where} does not offer to switch to encryption after the "
                            "greeting (STARTTLS), so no password was sent. Choose 'encrypted "
                            "from the start' (usually port 993).",
                            "security",
                        )
                    imap.starttls(context)
        except (OSError, imaplib.IMAP4.error) as exc:
            return _unreachable(where, exc)
        try:
            imap.login(config.user, password)
        except imaplib.IMAP4.error as exc:
            return CheckResult(
                False,
                f"{where} refused the login for {config.user} ({_reply(exc)}). Check the "
                "login and the password.",
                "password",
            )
        typ, data = imap.select('"' + config.folder + '"', readonly=True)
        if typ != "OK":
            return CheckResult(
                False,
                f"The mailbox has no folder {config.folder!r} ({_reply(data[0])}). Type the "
                "folder's name as your mail program shows it (usually INBOX).",
                "folder",
            )
        return CheckResult(
            True,
            f"Connected to {config.host}:{config.port}, "
            f"{ENCRYPTION.get(config.tls, config.tls)}, logged in as {config.user}, and "
            f"opened {config.folder}. Nothing was changed.",
        )
    except (OSError, imaplib.IMAP4.error) as exc:
        return CheckResult(False, f"{where} broke off the connection ({_reply(exc)}).", "host")
    finally:
        if imap is not None:
            with contextlib.suppress(OSError, imaplib.IMAP4.error):
                imap.logout()
