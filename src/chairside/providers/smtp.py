"""SMTP: one connection reused across messages, each transaction's outcome made certain.

`smtplib.sendmail` cannot say whether a dropped connection lost a message before or after
the server took it. So the transaction is run step by step: a failure before the final
"." means the message was not delivered (safe to retry); a failure while waiting for the
reply to it means nobody knows (`Unknown`: the ledger keeps the row as `sending`).
"""

from __future__ import annotations

import contextlib
import re
import smtplib
import ssl
from dataclasses import dataclass

from chairside.errors import ChairsideError
from chairside.providers.base import Provider

DEFAULT_PORTS = {"ssl": 465, "starttls": 587, "none": 25}
_LEADING_DOT = re.compile(rb"^\.", re.MULTILINE)


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: str
    user: str = ""
    password: str = ""
    timeout: float = 60.0

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


class Refused(Exception):
    """The server answered with an error code for this message."""

    def __init__(self, code: int, reply: str) -> None:
        super().__init__(f"{code} {reply}")
        self.code = code
        self.reply = f"{code} {reply}"

    @property
    def permanent(self) -> bool:
        return self.code >= 500


class NotDelivered(Exception):
    """The connection failed before the server could have accepted the message."""


class Unknown(Exception):
    """The connection failed after the message was sent, before the server answered."""


def _reply_text(message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
    return " ".join(text.split())


class SmtpConnection:
    """A connection that opens on first use and reopens when the server drops it."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self.client: smtplib.SMTP | None = None

    def open(self) -> None:
        """Connect and log in; an error here stops the run (nothing was sent)."""
        s = self.settings
        try:
            if s.security == "ssl":
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.host, s.port, timeout=s.timeout, context=ssl.create_default_context()
                )
            else:
                client = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            client.ehlo()
            if s.security == "starttls":
                client.starttls(context=ssl.create_default_context())
                client.ehlo()
            if s.user:
                client.login(s.user, s.password)
        except smtplib.SMTPAuthenticationError as exc:
            raise ChairsideError(
                f"The mail server {s.where} refused the login for {s.user!r} "
                f"({exc.smtp_code} {_reply_text(exc.smtp_error)}). Check [smtp] user in "
                "practice.toml and the password in CHAIRSIDE_SMTP_PASSWORD."
            ) from None
        except smtplib.SMTPNotSupportedError:
            raise ChairsideError(
                f"The mail server {s.where} does not offer STARTTLS or login. Check [smtp] "
                'security in practice.toml ("ssl" for port 465).'
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise ChairsideError(
                f"Cannot connect to the mail server {s.where} ({exc}). Check [smtp] host, "
                "port and security in practice.toml, and your internet connection."
            ) from None
        self.client = client

    def close(self) -> None:
        if self.client is not None:
            try:
                self.client.quit()
            except (OSError, smtplib.SMTPException):
                self.client.close()
            self.client = None

    def send(self, sender: str, recipient: str, data: bytes, *, smtputf8: bool) -> str:
        """Deliver one message; the server's reply, or Refused / NotDelivered / Unknown."""
        if self.client is None:
            self.open()
        client = self.client
        assert client is not None
        try:
            options = []
            if smtputf8:
                if not client.has_extn("smtputf8"):
                    raise Refused(553, "the server cannot take a non-ASCII address (no SMTPUTF8)")
                options = ["SMTPUTF8", "BODY=8BITMIME"]
            code, reply = client.mail(sender, options)
            if code != 250:
                self._reset()
                raise Refused(code, _reply_text(reply))
            code, reply = client.rcpt(recipient)
            if code not in (250, 251):
                self._reset()
                raise Refused(code, _reply_text(reply))
            code, reply = client.docmd("DATA")
            if code != 354:
                self._reset()
                raise Refused(code, _reply_text(reply))
            client.send(_LEADING_DOT.sub(b"..", data) + b".\r\n")
        except (OSError, smtplib.SMTPServerDisconnected) as exc:
            self._drop()
            raise NotDelivered(str(exc) or type(exc).__name__) from None
        try:
            code, reply = client.getreply()
        except (OSError, smtplib.SMTPServerDisconnected) as exc:
            self._drop()
            raise Unknown(str(exc) or type(exc).__name__) from None
        if code != 250:
            raise Refused(code, _reply_text(reply))
        return f"{code} {_reply_text(reply)}"

    def _reset(self) -> None:
        try:
            assert self.client is not None
            self.client.rset()
        except (OSError, smtplib.SMTPException):
            self._drop()

    def _drop(self) -> None:
        if self.client is not None:
            with contextlib.suppress(OSError):
                self.client.close()
        self.client = None


def resolve(
    *,
    host: str | None,
    port: int | None,
    user: str | None,
    security: str | None,
    practice_smtp,
    password: str,
) -> SmtpSettings:
    """Options first, then `[smtp]` in practice.toml; an error that says where to set each."""
    chosen_host = host or practice_smtp.host
    if not chosen_host:
        raise ChairsideError(
            "No mail server to send through: set host under [smtp] in practice.toml, "
            "or pass --smtp-host."
        )
    chosen_security = security or practice_smtp.security
    chosen_port = port or practice_smtp.port or DEFAULT_PORTS[chosen_security]
    chosen_user = practice_smtp.user if user is None else user
    if chosen_user and not password:
        raise ChairsideError(
            f"[smtp] user is {chosen_user!r} but no password is set. Set the environment "
            "variable CHAIRSIDE_SMTP_PASSWORD (passwords are never kept in files)."
        )
    return SmtpSettings(chosen_host, chosen_port, chosen_security, chosen_user, password)


class SmtpServer(Provider):
    """Listed with the others; `chairside send` drives it (see `chairside.sending`)."""

    name = "smtp"
    title = "SMTP server"

    @classmethod
    def features(cls) -> list[str]:
        return [
            "chairside send: your own mail server",
            "resumable, one message per patient",
            "retries, bounces suppressed",
        ]
