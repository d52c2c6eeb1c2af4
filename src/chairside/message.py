"""RFC 5322 messages: the MIME skeleton built once per variant, filled once per recipient.

Building an `EmailMessage` costs milliseconds; a campaign to 100,000 patients cannot pay
that per recipient. So each variant's message is encoded once — headers, boundary, both
parts quoted-printable — with the recipient's fields left as placeholders, and filling it
joins pre-encoded bytes with each recipient's values, encoded for their context:

* HTML part: HTML-escaped, then quoted-printable;
* text part: as typed, then quoted-printable;
* headers: display name quoted or RFC 2047-encoded; CR/LF can never reach a header.

A soft line break (`=` CRLF) is placed on both sides of every value, so lines stay within
76 characters whatever the value, and decoding gives exactly the text the variant had.
Lines that begin "From " are encoded as "=46rom ", and lines that begin "." as "=2E", so
the bytes go into an mbox file or an SMTP DATA section as they are: no message needs
From-escaping or dot-stuffing.
"""

from __future__ import annotations

import copy
import hashlib
import html
import itertools
import os
import re
import textwrap
import time
from collections.abc import Sequence
from dataclasses import dataclass
from email import policy
from email.headerregistry import Address
from email.quoprimime import body_encode, header_encode
from email.utils import formatdate
from functools import lru_cache
from secrets import token_hex
from typing import Protocol

from chairside import placeholders
from chairside.errors import ChairsideError
from chairside.headers import header_problem
from chairside.workspace import Practice

CRLF = b"\r\n"
SOFT_BREAK = b"=\r\n"
# mboxrd escapes lines matching ^>*From  (and unescapes them when read), and SMTP doubles a
# line's leading "." (RFC 5321 4.5.2): encode their first character, so a message body never
# has such a line and needs neither, per message. (Header lines start with a name or a space.)
_UNSAFE_LINE_START = re.compile(rb"^(?:(>*)From |\.)", re.MULTILINE)
_ATEXT_WORDS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]+")


class _MessageIds:
    """Message-IDs nobody can work out from another one (a bounce that quotes one is proof
    it came back from that patient's mail, `chairside.returnpath.proof`): a BLAKE2b of a
    counter keyed with 32 random bytes drawn once. uuid4 would ask the operating system for
    random bytes per message, a system call that makes a sending thread give up the
    interpreter lock and wait behind the others to get it back."""

    def __init__(self) -> None:
        self._key = os.urandom(32)
        self._count = itertools.count()

    def __call__(self) -> str:
        number = next(self._count).to_bytes(8, "big")
        return hashlib.blake2b(number, key=self._key, digest_size=16).hexdigest()


new_message_id = _MessageIds()


def qp(text: str) -> bytes:
    """Quoted-printable of UTF-8 text: CRLF line ends, 76-character lines, no line starting
    with "From " or "." (their first character is encoded)."""
    encoded = body_encode(text.encode("utf-8").decode("latin-1"), 76, eol="\r\n")
    return _UNSAFE_LINE_START.sub(_escape_line_start, encoded.encode("ascii"))


def _escape_line_start(match: re.Match[bytes]) -> bytes:
    if match.group(0) == b".":
        return b"=2E"
    quotes = match.group(1)
    return b"=3E" + quotes[1:] + b"From " if quotes else b"=46rom "


_QP_PLAIN = re.compile(r"[!-<>-~][ -<>-~]*[!-<>-~]|[!-<>-~]")  # printable ASCII but "="


def _qp_value(value: str) -> bytes:
    """A one-line value for between two soft breaks (the common cases cost no encoder).

    Printable ASCII needs only its "=" escaped; it is cut into lines of at most 75
    characters (never inside an escape) with soft breaks. A value starting a line with
    "From " or "." (each of its lines starts one) goes through `qp`, which encodes them.
    """
    escaped = value.replace("=", "=3D")
    if not (value.isascii() and _QP_PLAIN.fullmatch(value.replace("=", "x"))):
        return qp(value)
    lines, rest = [], escaped
    while len(rest) > 75:
        cut = 75 - (2 if rest[73] == "=" else 1 if rest[74] == "=" else 0)
        lines.append(rest[:cut])
        rest = rest[cut:]
    encoded = "=\r\n".join([*lines, rest]).encode("ascii")
    return qp(value) if _UNSAFE_LINE_START.search(encoded) else encoded


@lru_cache(maxsize=8192)
def _html_name(value: str) -> bytes:
    return _qp_value(html.escape(value, quote=True))


@lru_cache(maxsize=8192)
def _text_name(value: str) -> bytes:
    return _qp_value(value)


class _Part:
    """One body part's pre-encoded pieces, with the placeholder tokens between them."""

    def __init__(self, source: str) -> None:
        source = source.replace("\r\n", "\n")
        if not source.endswith("\n"):
            source += "\n"
        pieces = placeholders.TOKEN_PATTERN.split(source)
        found = placeholders.TOKEN_PATTERN.findall(source)
        self.tokens = tuple(found)
        self.static: list[bytes] = []
        for index, piece in enumerate(pieces):
            encoded = qp(piece) if piece else b""
            if piece.endswith("\n"):
                encoded = encoded if encoded.endswith(CRLF) else encoded + CRLF
            elif index < len(found):
                encoded += SOFT_BREAK  # the value that follows continues this line
            if index > 0:
                encoded = SOFT_BREAK + encoded  # … and the piece continues the value's line
            self.static.append(encoded)

    def with_line_ends(self, eol: bytes) -> _Part:
        """The same part with `eol` instead of CRLF (made once per variant, not per message)."""
        converted = copy.copy(self)
        converted.static = [piece.replace(CRLF, eol) for piece in self.static]
        return converted

    def fill(self, out: list[bytes], values: dict[str, bytes]) -> None:
        static = self.static
        out.append(static[0])
        for index, token in enumerate(self.tokens, 1):
            out.append(values[token])
            out.append(static[index])


def list_id_header(name: str, domain: str) -> str:
    """The List-Id value (RFC 2919): the practice's name as the phrase, then the id,
    `campaigns.` and the sender's domain. The phrase is optional: a name that is not plain
    ASCII is left out rather than encoded, so the id can never be mistaken or split."""
    try:  # an id is ASCII: a non-ASCII domain in its IDNA (xn--) spelling
        domain = domain.lower().rstrip(".").encode("idna").decode("ascii")
    except UnicodeError:
        domain = "localhost"
    ident = f"<campaigns.{domain}>"
    name = " ".join(name.split())
    if not name or not name.isascii() or not name.isprintable():
        return ident
    if not _ATEXT_WORDS.fullmatch(name):  # "Smith & Jones, DDS": a quoted-string
        name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name} {ident}"


def _header(name: str, value: str) -> bytes:
    """A header folded and encoded by the stdlib (used once per variant, not per message)."""
    return policy.SMTP.header_factory(name, value).fold(policy=policy.SMTP).encode("ascii")


@lru_cache(maxsize=8192)
def _to_line(name: str) -> tuple[bytes, bytes]:
    """The To header around the address: (what comes before it, what comes after it).

    A short plain-ASCII name is written bare or quoted; anything else — non-ASCII, long,
    or looking like an RFC 2047 encoded word — is encoded and folded, so it decodes back to
    the name as typed and no line breaks the length limits.
    """
    if not name:
        return b"To: <", b">\r\n"
    if name.isascii() and "=?" not in name:
        if _ATEXT_WORDS.fullmatch(name) and max(map(len, name.split(" "))) <= 60:
            folded = textwrap.wrap(name, 70, break_on_hyphens=False)
            return b"To: " + "\r\n ".join(folded).encode("ascii") + b" <", b">\r\n"
        if len(name) <= 64:
            quoted = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
            return b"To: " + quoted.encode("ascii") + b" <", b">\r\n"
    # RFC 2047 encoded words, one per folded line. Readers drop the fold between adjacent
    # encoded words, so each word carries its own trailing space. (The stdlib writes an
    # ASCII name bare even when it looks like an encoded word, which readers then decode.)
    chunks = [""]
    for char in name:
        # RFC 2047: an encoded word is at most 75 characters; start a new one before that.
        if len(header_encode((chunks[-1] + char).encode("utf-8"), "utf-8")) > 75:
            chunks.append("")
        chunks[-1] += char
    words = [header_encode(chunk.encode("utf-8"), "utf-8") for chunk in chunks]
    return b"To: " + "\r\n ".join(words).encode("ascii") + b"\r\n <", b">\r\n"


class Signing(Protocol):
    """What `chairside.dkim` attaches to a template when the practice signs: the
    DKIM-Signature of a message from its per-patient header fields and the values between
    the version's `body_pieces`, its costly part left for later (`Pending`)."""

    def __call__(self, header_block: bytes, values: Sequence[bytes]) -> Pending: ...


class Pending(Protocol):
    def header(self) -> bytes:
        """The header line (its costly part done now: `Filled.sign` asks once)."""
        ...


class Filled:
    """One recipient's message. Its `data` is as SMTP DATA carries it (RFC 5321 4.5.2):
    CRLF line ends and no other CR or LF, no line starting with ".", ending in CRLF — the
    variant's pieces are encoded so, and each value is made so as it is filled in."""

    __slots__ = ("_data", "_signature", "message_id", "smtputf8")

    def __init__(
        self, data: bytes, message_id: str, smtputf8: bool, signature: Pending | None = None
    ) -> None:
        self._data = data
        self._signature = signature
        self.message_id = message_id
        self.smtputf8 = smtputf8
        """The address is not ASCII: the server must support SMTPUTF8 (RFC 6531)."""

    def sign(self) -> None:
        """Make its DKIM signature now, if it has one still to make."""
        if self._signature is not None:
            self._data = self._signature.header() + self._data
            self._signature = None

    @property
    def data(self) -> bytes:
        """The message's bytes (signed first, if it is still to be)."""
        self.sign()
        return self._data


@dataclass(frozen=True)
class Person:
    """Who a message is for: `token` is their unsubscribe token."""

    email: str
    first_name: str
    token: str


@dataclass(frozen=True)
class _Form:
    """A variant's pre-encoded pieces with one kind of line end."""

    head: bytes
    text_head: bytes
    html_head: bytes
    tail: bytes
    text: _Part
    html: _Part


class MessageTemplate:
    """A variant's message, encoded once; `fill` makes one recipient's bytes."""

    signing: Signing | None = None
    """Set by `chairside.dkim` when the practice signs: what goes over SMTP is signed."""

    def __init__(self, *, practice: Practice, subject: str, html_body: str, text_body: str) -> None:
        for header, value in (
            ("Subject", subject),
            ("From", practice.from_name),
            ("From", practice.from_email),
            ("Reply-To", practice.reply_to),
        ):
            # The settings were checked when read; this is the last gate before bytes.
            if problem := header_problem(value):
                raise ChairsideError(f"The {header} header {problem}: {value!r}")
        self.practice = practice
        self.domain = practice.from_email.rpartition("@")[2] or "localhost"
        boundary = f"=_chairside_{token_hex(12)}"  # "=_" never occurs in quoted-printable
        sender = Address(display_name=practice.from_name, addr_spec=practice.from_email)
        head = b"".join(
            [
                _header("From", str(sender)),
                _header("Reply-To", practice.reply_to),
                _header("Subject", subject),
                # RFC 2919: one id for every campaign and variant of the practice's
                # newsletter (mail apps file and filter by it; SpamAssassin and rspamd score
                # it as list mail), named by the practice, never by a concern.
                _header("List-Id", list_id_header(practice.name, self.domain)),
                # Not a standard (RFC 2076), but what vacation and out-of-office responders
                # look for (RFC 3834 section 2): the office is spared hundreds of auto-replies.
                b"Precedence: bulk\r\n",
                b"MIME-Version: 1.0\r\n",
                f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"\r\n'.encode(),
            ]
        )
        part_head = (
            'Content-Type: text/{}; charset="utf-8"\r\n'
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        )
        self._forms = {
            CRLF: _Form(
                head=head,
                text_head=f"--{boundary}\r\n{part_head.format('plain')}".encode(),
                html_head=f"\r\n--{boundary}\r\n{part_head.format('html')}".encode(),
                tail=f"\r\n--{boundary}--\r\n".encode(),
                text=_Part(text_body),
                html=_Part(html_body),
            )
        }
        self._date_second = -1
        self._date = b""

    @property
    def head(self) -> bytes:
        """The version's own header fields, the same in every message (CRLF line ends)."""
        return self._forms[CRLF].head

    def body_pieces(self) -> list[bytes]:
        """The body's fixed pieces (CRLF line ends), in order: a message's body is these
        with its values between them, the text part's in its order, then the HTML part's."""
        form = self._forms[CRLF]
        pieces = [form.text_head]
        for part, after in ((form.text, form.html_head), (form.html, form.tail)):
            pieces[-1] += part.static[0]
            for piece in part.static[1:]:
                pieces.append(piece)  # a value comes before each of these
            pieces[-1] += after
        return pieces

    def _form(self, eol: bytes) -> _Form:
        """The pieces with `eol` line ends, converted on first use (once per variant)."""
        form = self._forms.get(eol)
        if form is None:
            crlf = self._forms[CRLF]
            form = self._forms[eol] = _Form(
                head=crlf.head.replace(CRLF, eol),
                text_head=crlf.text_head.replace(CRLF, eol),
                html_head=crlf.html_head.replace(CRLF, eol),
                tail=crlf.tail.replace(CRLF, eol),
                text=crlf.text.with_line_ends(eol),
                html=crlf.html.with_line_ends(eol),
            )
        return form

    def _date_header(self) -> bytes:
        now = int(time.time())
        if now != self._date_second:  # formatdate costs more than a whole message fill
            self._date_second = now
            self._date = f"Date: {formatdate(now, localtime=True)}\r\n".encode("ascii")
        return self._date

    def fill(self, person: Person, *, eol: bytes = CRLF) -> Filled:
        """`person`'s message. Lines end in CRLF, as RFC 5322 and SMTP want; `eol=b"\\n"`
        gives the same bytes with LF line ends (for mbox files) — converted once per variant,
        so a message costs no more than with CRLF. Messages hold no other CR."""
        practice = self.practice
        form = self._form(eol)
        mailto, https = placeholders.unsubscribe_links(
            person.token,
            unsubscribe_url=practice.unsubscribe_url,
            unsubscribe_email=practice.unsubscribe_email,
        )
        name = placeholders.clean_name(person.first_name)
        greeting = name or practice.greeting_fallback
        link = https or mailto  # unique per patient: encoded directly, never cached
        message_id = f"<{new_message_id()}@{self.domain}>"
        to_before, to_after = _to_line(name)
        email = person.email
        smtputf8 = not email.isascii()
        headers = [
            to_before,
            email.encode("utf-8"),
            to_after,
            self._date_header(),
            b"Message-ID: ",
            message_id.encode("ascii"),
            CRLF,
        ]
        if https:
            headers += [
                b"List-Unsubscribe: <",
                mailto.encode(),
                b">,\r\n <",
                https.encode(),
                b">\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
            ]
        else:
            headers += [b"List-Unsubscribe:\r\n <", mailto.encode(), b">\r\n"]
        headers.append(CRLF)
        # What differs per recipient is a few hundred bytes: its line ends are converted
        # here; the variant's tens of kilobytes were converted once, in `_form`.
        values = [
            b"".join(headers),
            _text_name(greeting),
            _qp_value(link),
            _html_name(greeting),
            _qp_value(html.escape(link, quote=True)),
        ]
        if eol != CRLF:
            values = [value.replace(CRLF, eol) for value in values]
        header_block, text_name, text_link, html_name, html_link = values
        text_values = {placeholders.FIRST_NAME: text_name, placeholders.UNSUBSCRIBE_URL: text_link}
        html_values = {placeholders.FIRST_NAME: html_name, placeholders.UNSUBSCRIBE_URL: html_link}
        out = [form.head, header_block, form.text_head]
        form.text.fill(out, text_values)
        out.append(form.html_head)
        form.html.fill(out, html_values)
        out.append(form.tail)
        data = b"".join(out)
        if self.signing is not None and eol == CRLF:  # what goes over SMTP is signed, not mbox
            filled = [text_values[token] for token in form.text.tokens]
            filled += [html_values[token] for token in form.html.tokens]
            return Filled(data, message_id, smtputf8, self.signing(header_block, filled))
        return Filled(data, message_id, smtputf8)
