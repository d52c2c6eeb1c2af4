"""SMTP: one connection reused across messages, each transaction's outcome made certain.

`smtplib.sendmail` cannot say whether a dropped connection lost a message before or after
the server took it. So the transaction is run stage by stage (MAIL, RCPT, DATA, the message
and its final "."): a failure before the final "." means the message was not delivered
(safe to retry); a failure while waiting for the reply to it means nobody knows (`Unknown`:
the ledger keeps the row as `sending`).

Every refusal carries its stage and its enhanced status code (RFC 3463/5248), because what
a 5xx means depends on both: `550 5.1.1` at RCPT is this patient's mailbox (suppress them);
`554 5.7.1` at RCPT is a relay refusing everyone, `530` at MAIL a missing login, `552` after
the message a size limit (stop, suppress nobody). `Refused.kind` makes that call.
"""

from __future__ import annotations

import contextlib
import re
import smtplib
import ssl
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email

from chairside.errors import ChairsideError
from chairside.providers.base import Provider

DEFAULT_PORTS = {"ssl": 465, "starttls": 587, "none": 25}
_LEADING_DOT = re.compile(rb"^\.", re.MULTILINE)
_ENHANCED = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})(?!\S)")
# Words that mark a plain (no enhanced code) refusal as the server's, not the mailbox's.
_SERVER_WORDS = re.compile(r"relay|authenticat|spam|block|listed", re.IGNORECASE)

MAIL, RCPT, DATA, END_OF_DATA = "MAIL", "RCPT", "DATA", "end of DATA"
TEMPORARY, RECIPIENT, UNCERTAIN, SERVER = "temporary", "recipient", "uncertain", "server"


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
    """The server answered `code` at `stage` for this message."""

    def __init__(self, stage: str, code: int, text: str) -> None:
        super().__init__(f"{code} {text}")
        self.stage = stage
        self.code = code
        self.reply = f"{code} {text}"
        found = _ENHANCED.match(text)
        self.enhanced = found.group(0) if found else None
        self.text = text

    @property
    def kind(self) -> str:
        """TEMPORARY (retry), RECIPIENT (this mailbox, for good), UNCERTAIN (this mailbox,
        maybe not for good: deferred, never suppressed) or SERVER (stop the run)."""
        return classify(self.stage, self.code, self.enhanced, self.text)

    @property
    def advice(self) -> str:
        """What the office should fix after a SERVER refusal."""
        _cls, subject, detail = _parts(self.enhanced)
        if self.code in (530, 535) or (subject, detail) in (("7", "0"), ("7", "8")):
            return (
                "It wants a login: set user under [smtp] in practice.toml (or --smtp-user) "
                "and the password in CHAIRSIDE_SMTP_PASSWORD, and check both are right."
            )
        if self.stage == MAIL:
            return (
                "It refused the sender: check that from under [sender] in practice.toml is "
                "an address this server lets you send from, and that you are logged in."
            )
        if self.code == 552 or (subject, detail) in (("3", "4"), ("2", "3")):
            return (
                "The message is larger than this server accepts: use fewer or smaller "
                "images, or ask your mail provider about its size limit."
            )
        if "relay" in self.text.lower() or (self.stage == RCPT and subject == "7"):
            return (
                "It will not pass mail on to other domains from this computer: log in "
                "(user under [smtp], CHAIRSIDE_SMTP_PASSWORD) or use your provider's "
                "submission server (usually port 587 with --starttls)."
            )
        if self.stage == END_OF_DATA:
            return (
                "It rejected the message itself (content or policy). Run `chairside check`, "
                "send one with --test, and ask your mail provider what it objects to."
            )
        return "Ask your mail provider what this reply means for your account."


def _parts(enhanced: str | None) -> tuple[str, str, str]:
    return tuple(enhanced.split(".")) if enhanced else ("", "", "")  # type: ignore[return-value]


def classify(stage: str, code: int, enhanced: str | None, text: str = "") -> str:
    """What a refusal means for this patient and for the run (see `Refused.kind`).

    Only a recipient's own permanent failure marks them failed: 5.1.x (bad mailbox, bad
    domain, null MX; not 5.1.7/5.1.8, the sender's) and 5.2.1 (disabled), or a plain
    550/551/553 at RCPT with no enhanced code saying otherwise. Anything at MAIL or DATA,
    and auth, relay, policy, content and size codes, refuse the sender or the server: SERVER.
    """
    if code < 500:
        return TEMPORARY
    cls, subject, detail = _parts(enhanced)
    if stage not in (RCPT, END_OF_DATA):
        return SERVER
    if cls == "5" and (subject, detail) != ("0", "0"):
        if subject == "1" and detail not in ("7", "8"):
            return RECIPIENT
        if (subject, detail) == ("2", "1"):
            return RECIPIENT
        if subject in ("2", "4") and (subject, detail) != ("2", "3"):
            return UNCERTAIN  # mailbox full, routing trouble: maybe passing, never suppressed
        return SERVER
    if stage == RCPT and not _SERVER_WORDS.search(text):
        if code in (550, 551, 553):
            return RECIPIENT
        if code == 552:
            return UNCERTAIN  # at RCPT a plain 552 is usually a full mailbox
    return SERVER


class NotDelivered(Exception):
    """The connection failed before the server could have accepted the message."""


class Unknown(Exception):
    """The connection failed after the message was sent, before the server answered."""


class CannotCarry(Exception):
    """This address cannot go through this server (non-ASCII mailbox, no SMTPUTF8):
    nothing was sent and nothing is wrong with the address; tried again next run."""


def envelope_address(address: str) -> str:
    """The address as MAIL/RCPT carry it: a non-ASCII domain in its IDNA (xn--) form,
    so `ana@bücher.example` needs no SMTPUTF8; a non-ASCII mailbox name stays as it is."""
    if address.isascii():
        return address
    try:
        checked = validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        return address
    return checked.ascii_email or f"{checked.local_part}@{checked.ascii_domain}"


def _reply_text(message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
    return " ".join(text.split())


class SmtpConnection:
    """A connection that opens on first use and reopens when the server drops it.

    `send` runs one transaction as separate stages (`_command` per stage) so that each
    refusal is known by its stage.
    """

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

    def send(self, sender: str, recipient: str, data: bytes) -> str:
        """Deliver one message; the server's reply, or Refused / CannotCarry /
        NotDelivered / Unknown. A reconnect that fails raises ChairsideError (not sent)."""
        if self.client is None:
            self.open()
        client = self.client
        assert client is not None
        sender, recipient = envelope_address(sender), envelope_address(recipient)
        options = []
        if not (sender.isascii() and recipient.isascii()):
            if not client.has_extn("smtputf8") and not sender.isascii():
                raise ChairsideError(
                    f"The sender address {sender} has non-ASCII letters before the @, and the "
                    f"mail server {self.settings.where} cannot carry them (no SMTPUTF8). Use "
                    "an address without them as from under [sender] in practice.toml."
                )
            if not client.has_extn("smtputf8"):
                raise CannotCarry(
                    f"{recipient} has non-ASCII letters before the @, and "
                    f"{self.settings.where} cannot carry them (no SMTPUTF8)"
                )
            options = ["SMTPUTF8", "BODY=8BITMIME"]
        try:
            self._command(MAIL, client.mail(sender, options), 250)
            self._command(RCPT, client.rcpt(recipient), 250, 251)
            self._command(DATA, client.docmd("DATA"), 354)
            client.send(_LEADING_DOT.sub(b"..", data) + b".\r\n")
        except (OSError, smtplib.SMTPServerDisconnected) as exc:
            self._drop()
            raise NotDelivered(str(exc) or type(exc).__name__) from None
        try:
            code, reply = client.getreply()
        except (OSError, smtplib.SMTPException) as exc:
            self._drop()
            raise Unknown(str(exc) or type(exc).__name__) from None
        if code == 421:
            self._drop()  # "closing": it refused this message, and the next needs a new link
        if code != 250:
            raise Refused(END_OF_DATA, code, _reply_text(reply))
        return f"{code} {_reply_text(reply)}"

    def _command(self, stage: str, answer: tuple[int, bytes], *ok: int) -> None:
        """Check the reply to one stage; on a refusal, leave the connection ready for the
        next transaction (RSET, or a new connection after 421) and raise Refused."""
        code, reply = answer
        if code in ok:
            return
        if code == 421 or code == -1:
            self._drop()
        else:
            self._reset()
        raise Refused(stage, code, _reply_text(reply))

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
            "retries; only a mailbox's own permanent refusal suppresses it",
        ]
