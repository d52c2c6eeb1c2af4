"""What a message in the practice's mailbox is: a complaint, a bounce, an unsubscribe request,
or something for a person to read.

* Complaints: ARF reports (RFC 5965, `multipart/report; report-type=feedback-report`). The
  patient is the report's Original-Rcpt-To, else the token in the reported message's
  List-Unsubscribe header (mailbox providers often redact its To), else its Message-ID in
  the ledger.
* Bounces: `flufl.bounce` finds the failed recipients in RFC 3464 DSNs and in the common
  non-standard formats (Exim, qmail, Exchange, Yahoo, …). Only the recipient's own permanent
  failure (RFC 3463 `5.1.x`, `5.2.1`) is a hard bounce; any other failure (mailbox full,
  policy, an expired 4xx) is a soft one; a delay warning is neither.
* Unsubscribe requests: mail whose subject or first line asks to unsubscribe (as the
  `mailto:` of List-Unsubscribe does, with the patient's token in its subject), or mail to
  the practice's unsubscribe address. The token names the patient; without one, the sender
  does, when the sender is a patient.

Everything else — replies, out-of-office notices, unknown addresses — is left for a person.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser, HeaderParser
from email.utils import getaddresses, parseaddr
from urllib.parse import unquote

from flufl.bounce import all_failures

# flufl.bounce logs a detector's exception before raising it; the caller handles it.
logging.getLogger("flufl.bounce").addHandler(logging.NullHandler())
logging.getLogger("flufl.bounce").propagate = False

HARD, SOFT, DELAYED = "hard", "soft", "delayed"
FROM_LINK = "an unsubscribe request from the List-Unsubscribe link"
# RFC 3463: 5.1.x is a bad address (5.1.10: Office 365's "recipient not found"), 5.2.1 a
# disabled mailbox. A full mailbox (5.2.2), a policy refusal (5.7.x) or a routing failure
# may pass; they count as soft bounces until they repeat.
_HARD_STATUS = re.compile(r"^5\.(1\.\d{1,3}|2\.1)$")
_STATUS = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
TOKEN = re.compile(r"(?<![0-9a-f])[0-9a-f]{26}(?![0-9a-f])")
_ASKS = re.compile(
    r"\b(unsubscribe|unsubscribed|opt[- ]?out|remove me|take me off|stop (emailing|sending)|"
    r"no more (e-?mails|newsletters)|cancel (my )?subscription|"
    r"d[ée]sabonn\w*|d[ée]sinscri\w*|darme de baja|dar de baja|abmelden|abbestellen)\b",
    re.IGNORECASE,
)
# A reply's first line asks to leave when it starts so ("Unsubscribe", "Please remove me",
# "STOP") — not "Stop by on Tuesday?" nor "Unsubscribe? Never!".
_FIRST_LINE_ASKS = re.compile(
    r"^\W*(please\s+)?(unsubscribe|opt[- ]?out|remove me|take me off|no more (e-?mails|"
    r"newsletters)|cancel (my )?subscription|"
    r"stop(\W*$|\s+(emailing|sending|these|the emails|the newsletter|all)))",
    re.IGNORECASE,
)
_NOT_ASKING = re.compile(r"\?|\b(don'?t|do not|not|never|no way|won'?t)\b", re.IGNORECASE)
_DELAY_NOTICE = re.compile(
    r"\bdelayed\b|\(delay\)|not yet been delivered|warning only|"
    r"will (continue|retry|be retried|keep trying)",
    re.IGNORECASE,
)
# Diagnostics quote the address; what is printed and kept says only what went wrong.
_ADDRESS = re.compile(r"<?[^\s<>@;:]+@[^\s<>;:]+>?")
_QUOTE_START = re.compile(
    r"^(>|-{2,}\s*original message|on .{4,200} wrote:|from:\s|sent from my|_{10,})",
    re.IGNORECASE,
)
_BOUNCE_SENDERS = ("mailer-daemon", "postmaster", "mail-daemon", "mail-delivery-subsystem")
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|delivery (status|failure|has failed|notification)|mail delivery failed|"
    r"failure notice|returned mail|delivery failure|could not be delivered|nondeliverable",
    re.IGNORECASE,
)


@dataclass
class Found:
    """One person a message is about: `email` as found (maybe not a patient's)."""

    email: str
    kind: str
    """"unsubscribe", "complaint", or a bounce's HARD, SOFT or DELAYED."""
    detail: str
    original_token: str | None = None


@dataclass
class Classified:
    kind: str
    """"unsubscribe", "bounce", "complaint", "auto-reply" or "other"."""
    found: list[Found] = field(default_factory=list)
    original_message_id: str | None = None
    note: str = ""


def parse(data: bytes) -> EmailMessage:
    return BytesParser(policy=policy.default).parsebytes(data)


def classify(
    message: EmailMessage, *, raw: bytes | None = None, unsubscribe_address: str = ""
) -> Classified:
    """What `message` is, and whom it is about (addresses as written, not yet resolved).

    Mail to `unsubscribe_address` (when it is not the address patients reply to) is an
    unsubscribe request whatever it says.
    """
    report_type = (message.get_param("report-type", "", header="content-type") or "").lower()
    if message.get_content_type() == "multipart/report" and report_type == "feedback-report":
        return _complaint(message)
    if _looks_like_bounce(message):
        bounce = _bounce(message, raw)
        if bounce.found:
            return bounce
    request = _unsubscribe(message, unsubscribe_address.lower())
    # The List-Unsubscribe mailto (its token in the subject) may be sent by a mailbox
    # provider's machinery, marked as automatic: it is still the patient's request.
    if request.note != FROM_LINK and _is_auto_reply(message):
        return Classified("auto-reply", note="an automatic reply")
    return request


# -- complaints ------------------------------------------------------------------------------
def _complaint(message: EmailMessage) -> Classified:
    fields: Message | None = None
    original: Message | None = None
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/feedback-report":
            payload = part.get_payload()
            fields = payload[0] if isinstance(payload, list) and payload else None
            if fields is None:  # some reporters send it as plain text
                raw = part.get_payload(decode=True) or b""
                fields = HeaderParser().parsestr(raw.decode("ascii", "replace"))
        elif kind in ("message/rfc822", "text/rfc822-headers") and original is None:
            original = _original(part)
    feedback = (fields.get("Feedback-Type", "abuse") if fields is not None else "abuse").strip()
    if feedback.lower() == "not-spam":
        return Classified("other", note="a not-spam report")
    candidates = []
    if fields is not None:
        candidates = [a for _n, a in getaddresses(fields.get_all("Original-Rcpt-To", [])) if a]
    token = _list_unsubscribe_token(original)
    if not candidates and original is not None:
        candidates = [a for _n, a in getaddresses(original.get_all("To", [])) if "@" in a]
    detail = f"ARF {feedback.lower()} report"
    found = [Found(a, "complaint", detail, token) for a in candidates] or [
        Found("", "complaint", detail, token)
    ]
    return Classified("complaint", found, original_message_id=_message_id(original), note=detail)


def _original(part: Message) -> Message | None:
    """The reported or bounced message's headers."""
    if part.get_content_type() == "text/rfc822-headers":
        raw = part.get_payload(decode=True) or b""
        return HeaderParser().parsestr(raw.decode("utf-8", "replace"))
    payload = part.get_payload()
    return payload[0] if isinstance(payload, list) and payload else None


def _list_unsubscribe_token(original: Message | None) -> str | None:
    if original is None:
        return None
    header = unquote(str(original.get("List-Unsubscribe", "")))
    match = TOKEN.search(header.lower())
    return match.group(0) if match else None


def _message_id(original: Message | None) -> str | None:
    if original is None:
        return None
    value = str(original.get("Message-ID", "")).strip()
    return value or None


# -- bounces ---------------------------------------------------------------------------------
def _looks_like_bounce(message: EmailMessage) -> bool:
    """Only likely bounces go to the bounce detectors: their heuristics are for bounces."""
    sender = parseaddr(str(message.get("From", "")))[1].lower()
    report_type = (message.get_param("report-type", "", header="content-type") or "").lower()
    return (
        report_type == "delivery-status"
        or sender.split("@")[0] in _BOUNCE_SENDERS
        or str(message.get("Return-Path", "")).strip() == "<>"
        or bool(_BOUNCE_SUBJECT.search(str(message.get("Subject", ""))))
    )


def _dsn_fields(message: Message) -> dict[str, tuple[str, str, str]]:
    """Recipient (lowercased) → (action, status, diagnostic) from RFC 3464 parts."""
    found = {}
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status" or not part.is_multipart():
            continue
        for block in part.get_payload()[1:]:  # the first block is about the message
            action = str(block.get("Action", "")).strip().lower()
            status = str(block.get("Status", "")).strip().split(" ")[0]
            diagnostic = " ".join(str(block.get("Diagnostic-Code", "")).split())
            for header in ("Original-Recipient", "Final-Recipient"):
                value = str(block.get(header, ""))
                address = value.partition(";")[2].strip().strip("<>").lower()
                if address:
                    found.setdefault(address, (action, status, diagnostic))
    return found


def _bounce(message: EmailMessage, raw: bytes | None) -> Classified:
    # flufl.bounce reads the classic Message API (get_params and friends); it is parsed
    # from the bytes as received, since re-encoding a damaged message can fail.
    legacy = BytesParser().parsebytes(raw if raw is not None else message.as_bytes())
    dsn = _dsn_fields(legacy)
    try:
        temporary, permanent = all_failures(legacy)
    except (AttributeError, TypeError, ValueError, LookupError):
        # Some of its detectors fail on undecodable headers (a `Header` where they expect
        # text); the standard DSN fields, read above, still say who failed.
        permanent = frozenset(a.encode() for a, f in dsn.items() if f[0].startswith("fail"))
        temporary = frozenset(a.encode() for a, f in dsn.items() if f[0].startswith("delay"))
    original = next(
        (
            _original(p)
            for p in legacy.walk()
            if p.get_content_type() in ("message/rfc822", "text/rfc822-headers")
        ),
        None,
    )
    token = _list_unsubscribe_token(original)
    body = _text(message)
    found = []
    # A warning that delivery is still being tried, in prose (no DSN Action field): the
    # heuristic detectors may read its address as failed.
    delay_notice = bool(_DELAY_NOTICE.search(str(message.get("Subject", "")) + "\n" + body))
    for raw, failed in [(a, True) for a in permanent] + [(a, False) for a in temporary]:
        address = raw.decode("ascii", "replace")
        action, status, diagnostic = dsn.get(address.lower(), ("", "", ""))
        if not status:
            match = _STATUS.search(body)
            status = match.group(1) if match else ""
        if (
            action.startswith("delayed")
            or (not failed and not action.startswith("fail"))
            or (not action and delay_notice)
        ):
            kind = DELAYED
        elif status and not _HARD_STATUS.match(status):
            kind = SOFT
        else:
            kind = HARD
        diagnostic = _ADDRESS.sub("(address)", diagnostic)
        detail = " ".join(filter(None, [status, diagnostic[:120]])) or "bounced"
        found.append(Found(address, kind, detail, token))
    if not found:
        return Classified("other")
    return Classified("bounce", found, original_message_id=_message_id(original), note="a bounce")


# -- automatic replies -----------------------------------------------------------------------
def _is_auto_reply(message: EmailMessage) -> bool:
    auto = str(message.get("Auto-Submitted", "no")).strip().lower()
    precedence = str(message.get("Precedence", "")).strip().lower()
    return (
        auto != "no"
        or precedence in ("auto_reply", "bulk", "junk", "list")
        or any(h in message for h in ("X-Autoreply", "X-Autorespond"))
    )


# -- unsubscribe requests --------------------------------------------------------------------
def _text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, AssertionError):
        return ""
    if part.get_content_subtype() == "html":
        content = re.sub(r"<[^>]*>", " ", content)
    return content if isinstance(content, str) else ""


def own_words(message: EmailMessage) -> list[str]:
    """The body's lines before the quoted message a reply carries (which may hold a
    newsletter's unsubscribe link, not a request)."""
    lines = []
    for line in _text(message).splitlines():
        if _QUOTE_START.match(line.strip()):
            break
        if line.strip():
            lines.append(line.strip())
    return lines


def _unsubscribe(message: EmailMessage, unsubscribe_address: str) -> Classified:
    subject = unquote(" ".join(str(message.get("Subject", "")).split()))
    lines = own_words(message)
    first = lines[0] if lines else ""
    asks = bool(_ASKS.search(subject)) or bool(
        _FIRST_LINE_ASKS.match(first) and not _NOT_ASKING.search(first)
    )
    recipients = [
        a.lower()
        for _n, a in getaddresses(
            message.get_all("To", [])
            + message.get_all("Delivered-To", [])
            + message.get_all("X-Original-To", [])
        )
    ]
    asks = asks or bool(unsubscribe_address and unsubscribe_address in recipients)
    in_subject = TOKEN.search(subject.lower())
    token_match = in_subject or (
        TOKEN.search(unquote(" ".join(lines[:5])).lower()) if asks else None
    )
    token = token_match.group(0) if token_match else None
    sender = parseaddr(str(message.get("From", "")))[1]
    if not asks and token is None:
        return Classified("other", note="not an unsubscribe request")
    return Classified(
        "unsubscribe",
        [Found(sender, "unsubscribe", "unsubscribe email", token)],
        note=FROM_LINK if in_subject else "an unsubscribe request",
    )
