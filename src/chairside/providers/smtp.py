"""SMTP: one connection reused across messages, each transaction's outcome made certain.

`smtplib.sendmail` cannot say whether a dropped connection lost a message before or after
the server took it. So the transaction is run stage by stage (MAIL, RCPT, DATA, the message
and its final "."): a failure before the final "." means the message was not delivered
(safe to retry); a failure while waiting for the reply to it means nobody knows (`Unknown`:
the ledger keeps the row as `sending`).

When the server offers PIPELINING (RFC 2920), `exchange` hides the round trips: the end of
one message and the MAIL, RCPT and DATA of the next leave together, and the replies are read
back in order, each judged by its own stage as above. The caller records the next message
as `sending` between the 354 to its DATA and its final ".", so a crash meanwhile leaves
it pending (nothing of it was transmitted), never unknown.

Every refusal carries its stage and its enhanced status code (RFC 3463/5248), because what
a 5xx means depends on both: `550 5.1.1` at RCPT is this patient's mailbox (suppress them);
`554 5.7.1` at RCPT is a relay refusing everyone, `530` at MAIL a missing login, `552` after
the message a size limit (stop, suppress nobody). `Refused.kind` makes that call.
"""

from __future__ import annotations

import contextlib
import re
import smtplib
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

from email_validator import EmailNotValidError, validate_email

from chairside import secrets
from chairside.errors import ChairsideError
from chairside.providers.base import Provider

DEFAULT_PORTS = {"ssl": 465, "starttls": 587, "none": 25}
_LINE_END = re.compile(rb"\r\n|\r|\n")
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
    ca_file: Path | None = None

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    def tls(self) -> ssl.SSLContext:
        return tls_context(self.ca_file, "[smtp]")


def tls_context(ca_file: Path | None, section: str) -> ssl.SSLContext:
    """Checks a server's certificate and name against this computer's trusted authorities
    and, when the practice names one (`ca_file` under `section`), that authority too."""
    context = ssl.create_default_context()
    if ca_file is not None:
        try:
            context.load_verify_locations(cafile=ca_file)
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            raise ChairsideError(
                f"{section} ca_file: {ca_file} is not a certificate in PEM format ({exc}). "
                "Ask whoever runs the mail server for its CA certificate as a .pem file "
                "(text starting with -----BEGIN CERTIFICATE-----)."
            ) from None
    return context


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
                "It refused the sender: check that from under [email] in practice.toml (and "
                "bounce_address, if set: each message's return address is made from it) is "
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


_OK = ((250,), (250, 251), (354,))
NOT_STARTED = NotDelivered("not started")
"""`Exchange.envelope` when no envelope went out (none given, or the connection broke)."""


@dataclass(frozen=True)
class Exchange:
    """What one `SmtpConnection.exchange` did: `result` for the message in hand (the reply,
    Refused, Unknown or NotDelivered; None without one), `envelope` for the next (None:
    accepted, its data awaited; else Refused, NotDelivered, or NOT_STARTED)."""

    result: str | Exception | None
    envelope: Exception | None


class SmtpConnection:
    """A connection that opens on first use and reopens when the server drops it.

    Each transaction is run as separate stages (MAIL, RCPT, DATA, end of DATA) so that each
    refusal is known by its stage; with PIPELINING the stages share round trips.
    """

    def __init__(self, settings: SmtpSettings, *, pipelining: bool = True) -> None:
        self.settings = settings
        self.allow_pipelining = pipelining
        self.pipelining = False
        self.in_data = False
        self.client: smtplib.SMTP | None = None

    def open(self) -> None:
        """Connect and log in; an error here stops the run (nothing was sent)."""
        s = self.settings
        try:
            if s.security == "ssl":
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.host, s.port, timeout=s.timeout, context=s.tls()
                )
            else:
                client = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            client.ehlo()
            if s.security == "starttls":
                client.starttls(context=s.tls())
                client.ehlo()
            if s.user:
                client.login(s.user, s.password)
            # Small commands right after a large message: without this, Nagle's algorithm
            # holds them until the server acknowledges, a delay per message.
            client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
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
        self.pipelining = self.allow_pipelining and client.has_extn("pipelining")
        self.in_data = False

    def close(self) -> None:
        if self.in_data:
            self._drop()
        if self.client is not None:
            try:
                self.client.quit()
            except (OSError, smtplib.SMTPException):
                self.client.close()
            self.client = None

    def envelope(self, sender: str, recipient: str) -> list[bytes]:
        """MAIL, RCPT and DATA for one message, as they go on the wire (SMTPUTF8 when an
        address needs it). CannotCarry for a mailbox this server cannot take; ChairsideError
        for a sender it never can. Opens the connection first if needed."""
        if self.client is None:
            self.open()
        client = self.client
        assert client is not None
        sender, recipient = envelope_address(sender), envelope_address(recipient)
        if any(c in address for address in (sender, recipient) for c in "\r\n<>"):
            raise CannotCarry(f"{recipient!r} cannot be written in an SMTP command")
        options, encoding = "", "ascii"
        if not (sender.isascii() and recipient.isascii()):
            if not client.has_extn("smtputf8") and not sender.isascii():
                raise ChairsideError(
                    f"The sender address {sender} has non-ASCII letters before the @, and the "
                    f"mail server {self.settings.where} cannot carry them (no SMTPUTF8). Use "
                    "an address without them as from under [email] in practice.toml."
                )
            if not client.has_extn("smtputf8"):
                raise CannotCarry(
                    f"{recipient} has non-ASCII letters before the @, and "
                    f"{self.settings.where} cannot carry them (no SMTPUTF8)"
                )
            options, encoding = " SMTPUTF8 BODY=8BITMIME", "utf-8"
        return [
            f"MAIL FROM:<{sender}>{options}\r\n".encode(encoding),
            f"RCPT TO:<{recipient}>\r\n".encode(encoding),
            b"DATA\r\n",
        ]

    def exchange(
        self,
        data: bytes | None,
        envelope: list[bytes] | None,
        *,
        as_carried: bool = False,
    ) -> Exchange:
        """Finish the message in hand (`data`: its envelope was accepted, and it is recorded
        as `sending`) and start the next (`envelope`, from `envelope()`), the two together
        when the server offers PIPELINING. Never raises for the server's answers: each side's
        outcome is in the result. Opening a connection that fails raises ChairsideError.

        `as_carried`: `data` is already as DATA carries it (a `MessageTemplate`'s, whose
        bytes are built that way: see `Filled`), so it is not looked over again (~50 µs)."""
        if self.client is None:
            assert data is None, "a message in hand needs the connection its envelope used"
            self.open()
        client = self.client
        assert client is not None and client.sock is not None
        result: str | Exception | None = None
        sent_envelope = False
        if data is not None:
            # The message's end and the next envelope in one write when pipelining (each
            # system call costs a sending thread the interpreter lock), sent by hand so it
            # is known whether the final "." left.
            out = (data if as_carried else stuffed(data)) + b".\r\n"
            dot = len(out)
            if envelope is not None and self.pipelining:
                out += b"".join(envelope)
            view, sent = memoryview(out), 0
            try:
                while sent < len(out):
                    sent += client.sock.send(view[sent:])
            except OSError as exc:
                if sent < dot:  # the final "." was not handed to the network
                    self._drop()
                    return Exchange(NotDelivered(str(exc) or type(exc).__name__), NOT_STARTED)
            self.in_data = False
            sent_envelope = sent == len(out) > dot  # if not, the reply read below tells
            try:
                code, reply = client.getreply()
            except (OSError, smtplib.SMTPException) as exc:
                self._drop()
                return Exchange(Unknown(str(exc) or type(exc).__name__), NOT_STARTED)
            if code == -1:  # an answer that is not SMTP: it may have taken the message
                self._drop()
                return Exchange(Unknown(f"unreadable reply {_reply_text(reply)!r}"), NOT_STARTED)
            if code == 421:
                self._drop()  # "closing": it refused this message, and the next needs a new link
            if code == 250:
                result = f"{code} {_reply_text(reply)}"
            else:
                result = Refused(END_OF_DATA, code, _reply_text(reply))
            unsent = envelope is not None and self.pipelining and not sent_envelope
            if self.client is None or unsent:
                self._drop()
                return Exchange(result, NOT_STARTED)
        if envelope is None:
            return Exchange(result, NOT_STARTED)
        return Exchange(result, self._start(envelope, already_sent=sent_envelope))

    def _start(self, envelope: list[bytes], *, already_sent: bool) -> Exception | None:
        """Send (unless `already_sent`) and check MAIL, RCPT and DATA: None once the server
        answered 354, else the refusal of the first stage that failed (RFC 2920: later
        replies are that failure's consequences) or NotDelivered. After a refusal the
        connection is left ready for the next transaction (RSET, or dropped)."""
        client = self.client
        assert client is not None and client.sock is not None
        pipelined = self.pipelining
        codes: list[int] = []
        refused: Refused | None = None
        try:
            if pipelined and not already_sent:
                client.sock.sendall(b"".join(envelope))
            for stage, command, ok in zip((MAIL, RCPT, DATA), envelope, _OK, strict=True):
                if not pipelined:
                    if refused is not None:
                        break  # one at a time: nothing more after a refusal
                    client.sock.sendall(command)
                code, reply = client.getreply()
                codes.append(code)
                if refused is None and code not in ok:
                    refused = Refused(stage, code, _reply_text(reply))
        except (OSError, smtplib.SMTPException) as exc:
            self._drop()
            return refused or NotDelivered(str(exc) or type(exc).__name__)
        if refused is None:
            self.in_data = True
            return None
        if 421 in codes or -1 in codes or 354 in codes:
            self._drop()  # closing, garbled, or waiting for a message that will never come
        else:
            self._reset()
        return refused

    def send(self, sender: str, recipient: str, data: bytes) -> str:
        """Deliver one message; the server's reply, or Refused / CannotCarry /
        NotDelivered / Unknown. A reconnect that fails raises ChairsideError (not sent)."""
        started = self.exchange(None, self.envelope(sender, recipient))
        if started.envelope is not None:
            raise started.envelope
        result = self.exchange(data, None).result
        if isinstance(result, Exception):
            raise result
        assert result is not None
        return result

    def _reset(self) -> None:
        try:
            assert self.client is not None
            self.client.rset()
        except (OSError, smtplib.SMTPException):
            self._drop()

    def _drop(self) -> None:
        """Close without QUIT: a server waiting for a message's data takes a QUIT for more
        of it, and a transaction cut off before its final "." is never delivered."""
        if self.client is not None:
            with contextlib.suppress(OSError):
                self.client.close()
        self.client = None
        self.in_data = False


def stuffed(data: bytes) -> bytes:
    """`data` as DATA carries it (RFC 5321 4.5.2): CRLF line ends, a dot doubled at the start
    of every line, ending in CRLF. One `replace`, not a regex per message (117 µs → ~30 µs).

    message.py writes CRLF only and strips CR and LF from every value it fills in, so the
    check is two single-byte counts (~9 µs each on 36 KB); a message where they differ has
    its line ends rewritten, so no bare LF or CR reaches a server that might end DATA on it.
    """
    if data.count(b"\n") != data.count(b"\r"):
        data = _LINE_END.sub(b"\r\n", data)
    data = data.replace(b"\r\n.", b"\r\n..")
    if data.startswith(b"."):
        data = b"." + data
    return data if data.endswith(b"\r\n") or not data else data + b"\r\n"


def resolve(
    practice_smtp,
    *,
    host: str | None = None,
    port: int | None = None,
    user: str | None = None,
    security: str | None = None,
) -> SmtpSettings:
    """Options first, then `[smtp]` in practice.toml; the password from the environment
    variable CHAIRSIDE_SMTP_PASSWORD or the keychain (`chairside.secrets`), never a file.
    An error says where to set each."""
    chosen_host = host or practice_smtp.host
    if not chosen_host:
        raise ChairsideError(
            "No mail server to send through: set host under [smtp] in practice.toml, "
            "or pass --smtp-host."
        )
    chosen_security = security or practice_smtp.security
    chosen_port = port or practice_smtp.port or DEFAULT_PORTS[chosen_security]
    chosen_user = practice_smtp.user if user is None else user
    password = secrets.get("smtp", f"{chosen_user}@{chosen_host}") if chosen_user else ""
    if chosen_user and not password:
        raise ChairsideError(f"[smtp] user is {chosen_user!r}. " + secrets.missing("smtp"))
    return SmtpSettings(
        chosen_host,
        chosen_port,
        chosen_security,
        chosen_user,
        password,
        ca_file=practice_smtp.ca_file,
    )


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
