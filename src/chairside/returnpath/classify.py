"""What a message in the practice's mailbox is: a complaint, a bounce, an unsubscribe request,
or something for a person to read; whom it is about; and what it carries that could prove
it (`evidence`). Whether that proof holds is decided in `proof`, against the ledger.

* Complaints: ARF reports (RFC 5965). Only the feedback types that are a person's
  complaint (abuse, fraud, virus, other, opt-out) are complaints; `auth-failure`
  (RFC 6591, a DMARC/SPF failure report about mail claiming to be the practice's) and
  `not-spam` are reports, never about a patient.
* Bounces: `dsn` finds the failed recipients; `reasons` says whose problem each failure is
  (only the recipient's own permanent failure is `HARD`; a refusal of the practice's mail
  is `SENDER`; anything unsure is `SOFT`); a delay notice is `DELAYED`.
* Unsubscribe requests: mail whose subject or first line asks to unsubscribe (as the
  `mailto:` of List-Unsubscribe does, with the patient's code in its subject), or mail to
  the practice's unsubscribe address. Automatic replies (out of office) never are.

Everything else (replies, unknown mail) is left for a person.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser, HeaderParser
from email.utils import getaddresses, parseaddr
from urllib.parse import unquote

from chairside.returnpath import evidence
from chairside.returnpath.dsn import failures, own_text
from chairside.returnpath.reasons import DELAYED, HARD, SENDER, SOFT, judge

__all__ = ["DELAYED", "HARD", "SENDER", "SOFT", "Classified", "Found", "classify", "parse"]

FROM_LINK = "an unsubscribe request from the List-Unsubscribe link"
COMPLAINT_TYPES = ("abuse", "fraud", "virus", "other", "opt-out")
"""ARF feedback types that are a recipient's complaint (RFC 5965, RFC 6650)."""
TOKEN = evidence.TOKEN
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
    r"\bdelayed\b|\(delay\)|not yet been delivered|warning only|no action is required|"
    r"will (continue|retry|be retried|keep trying)|delivery attempts will continue",
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
    r"undeliver|delivery (status|failure|has failed|notification|problem|report)|"
    r"mail delivery failed|failure notice|returned mail|delivery failure|could not be "
    r"delivered|nondeliverable|non-delivery|not delivered|mail system error|"
    r"delivery error|failed delivery|message (not delivered|status|blocked)|"
    r"rejected:|warning: could not send|mail could not be delivered",
    re.IGNORECASE,
)


@dataclass
class Found:
    """One person a message is about: `email` as found (maybe not a patient's)."""

    email: str
    kind: str
    """"unsubscribe", "complaint", or a bounce's HARD, SOFT, SENDER or DELAYED."""
    detail: str
    original_token: str | None = None
    """For an unsubscribe request: the code it carries in its subject or first lines."""
    reason: str = ""
    status: str = ""
    remote: str = ""
    """The receiving mail system, for a bounce (its host, or the recipient's domain)."""


@dataclass
class Classified:
    kind: str
    """"unsubscribe", "bounce", "complaint", "report" (auth-failure, not-spam),
    "auto-reply" or "other"."""
    found: list[Found] = field(default_factory=list)
    original_message_id: str | None = None
    note: str = ""
    references: set[str] = field(default_factory=set)
    codes: set[str] = field(default_factory=set)
    return_code: str | None = None
    verified_by: str = ""
    """For an unsubscribe request: "dkim", "spf" or "dmarc" when the practice's server saw
    the sender's domain pass it."""


def parse(data: bytes) -> EmailMessage:
    return BytesParser(policy=policy.default).parsebytes(data)


def classify(
    message: EmailMessage,
    *,
    raw: bytes | None = None,
    unsubscribe_address: str = "",
    practice_addresses: frozenset[str] = frozenset(),
    authserv_id: str = "",
) -> Classified:
    """What `message` is, whom it is about (addresses as written, not yet resolved), and
    the evidence it carries.

    Mail to `unsubscribe_address` (when it is not the address patients reply to) is an
    unsubscribe request whatever it says. `practice_addresses` are never a bounce's
    recipient. `authserv_id` names the practice's mail server in Authentication-Results.
    """
    raw = raw if raw is not None else message.as_bytes()
    # The classic Message API reads damaged mail that the modern one may choke on.
    legacy = BytesParser().parsebytes(raw)
    found = _what(message, legacy, raw, unsubscribe_address, practice_addresses)
    found.references = evidence.references(raw, legacy)
    found.codes = evidence.codes(raw, own_text(legacy) if found.kind != "unsubscribe" else "")
    for part in legacy.walk():
        if part.get_content_type() in ("message/rfc822", "text/rfc822-headers"):
            inner = part.get_payload(decode=True) if not part.is_multipart() else None
            if inner:
                found.codes |= evidence.codes(b"", unquote(inner.decode("latin-1")))
    found.return_code = evidence.return_code(legacy)
    if found.kind == "unsubscribe":
        found.verified_by = evidence.verified_by(legacy, authserv_id=authserv_id)
    return found


def _what(message, legacy, raw, unsubscribe_address, practice_addresses) -> Classified:
    report_type = (legacy.get_param("report-type", "", header="content-type") or "").lower()
    if legacy.get_content_type() == "multipart/report" and report_type == "feedback-report":
        return _complaint(legacy)
    if _looks_like_bounce(legacy):
        bounce = _bounce(legacy, raw, practice_addresses | {unsubscribe_address})
        if bounce.found:
            return bounce
    if evidence.is_auto_reply(message):
        sender = parseaddr(str(legacy.get("From", "")))[1]
        note = "an automatic reply (out of office)"
        return Classified("auto-reply", [Found(sender, "auto-reply", note)], note=note)
    request = _unsubscribe(message, unsubscribe_address.lower())
    # The List-Unsubscribe mailto (its code in the subject) may be sent by a mailbox
    # provider's machinery, marked as automatic: it is still the patient's request.
    automatic = request.note != FROM_LINK and evidence.is_automatic(legacy)
    if request.kind == "unsubscribe" and automatic:
        return Classified("auto-reply", note="an automatic message")
    return request


# -- complaints ------------------------------------------------------------------------------
def _complaint(message: Message) -> Classified:
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
    feedback = str(fields.get("Feedback-Type", "") if fields is not None else "").strip().lower()
    feedback = feedback.split()[0] if feedback else "abuse"
    what = ""
    if feedback not in COMPLAINT_TYPES:
        what = {
            "auth-failure": "a report that mail claiming to be the practice's failed "
            "authentication (DMARC/SPF, RFC 6591): about the practice's mail, not a patient",
            "not-spam": "a not-spam report",
        }.get(feedback, f"a {feedback} feedback report, not a complaint")
    candidates = []
    if fields is not None:
        candidates = [a for _n, a in getaddresses(fields.get_all("Original-Rcpt-To", [])) if a]
    if not candidates and original is not None:
        candidates = [a for _n, a in getaddresses(original.get_all("To", [])) if "@" in a]
    if feedback not in COMPLAINT_TYPES:
        return Classified("report", [Found(a, "report", what) for a in candidates], note=what)
    detail = f"ARF {feedback} report"
    found = [Found(a, "complaint", detail) for a in candidates] or [Found("", "complaint", detail)]
    return Classified("complaint", found, original_message_id=_message_id(original), note=detail)


def _original(part: Message) -> Message | None:
    """The reported or bounced message's headers."""
    if part.get_content_type() == "text/rfc822-headers":
        raw = part.get_payload(decode=True) or b""
        return HeaderParser().parsestr(raw.decode("utf-8", "replace"))
    payload = part.get_payload()
    return payload[0] if isinstance(payload, list) and payload else None


def _message_id(original: Message | None) -> str | None:
    if original is None:
        return None
    value = str(original.get("Message-ID", "")).strip()
    return value or None


# -- bounces ---------------------------------------------------------------------------------
def _looks_like_bounce(message: Message) -> bool:
    """Only likely bounces go to the bounce readers: their heuristics are for bounces."""
    sender = parseaddr(str(message.get("From", "")))[1].lower()
    report_type = (message.get_param("report-type", "", header="content-type") or "").lower()
    return (
        report_type == "delivery-status"
        or sender.split("@")[0] in _BOUNCE_SENDERS
        or str(message.get("Return-Path", "")).strip() == "<>"
        or bool(_BOUNCE_SUBJECT.search(str(message.get("Subject", ""))))
        or any(p.get_content_type() == "message/delivery-status" for p in message.walk())
        or sender.endswith(("@sns.amazonaws.com", "@amazonses.com"))
    )


def _bounce(message: Message, raw: bytes, practice: set[str]) -> Classified:
    original = next(
        (
            _original(p)
            for p in message.walk()
            if p.get_content_type() in ("message/rfc822", "text/rfc822-headers")
        ),
        None,
    )
    text = str(message.get("Subject", "")) + "\n" + own_text(message)[:5000]
    # A warning that delivery is still being tried, in prose (no DSN Action field).
    delay_notice = bool(_DELAY_NOTICE.search(text))
    found = []
    named = failures(message, practice={a for a in practice if a}, original=original)
    writer = "\n".join(
        f"{name.lower()}: {' '.join(str(value).split())}"
        for name in ("From", "X-Mailer", "X-NAI-Header", "Received")
        for value in message.get_all(name, [])
    )
    for failure in named:
        action = failure.action
        if not action and delay_notice and not failure.status.startswith("5"):
            action = "delayed"  # a prose warning, no DSN Action field
        verdict = judge(
            failure.status,
            failure.diagnostic,
            action=action,
            permanent=failure.permanent,
            context=text,
            alone=len(named) == 1,
            writer=f"{writer}\nremote: {failure.remote.lower()}",
            category=failure.category,
        )
        diagnostic = _ADDRESS.sub("(address)", failure.diagnostic)
        detail = " ".join(filter(None, [verdict.status, verdict.reason + ":", diagnostic[:120]]))
        remote = failure.remote or failure.email.rpartition("@")[2]
        found.append(
            Found(
                failure.email,
                verdict.side,
                detail.rstrip(":"),
                reason=verdict.reason,
                status=verdict.status,
                remote=remote.lower(),
            )
        )
    if not found:
        return Classified("other")
    return Classified("bounce", found, original_message_id=_message_id(original), note="a bounce")


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
