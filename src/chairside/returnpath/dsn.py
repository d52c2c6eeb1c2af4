"""Who a bounce is about, and what the receiving server said about each of them.

Three readers, each filling in what the others miss:

1. RFC 3464 delivery-status fields (`Final-Recipient`, `Action`, `Status`,
   `Diagnostic-Code`, `Remote-MTA`), also when a mail system sends them as plain text;
2. `flufl.bounce`, which knows the common non-standard formats (Exim, qmail, Exchange,
   Yahoo, Postfix prose, …);
3. the bounce's own text: an address on a line of its own, `<address>:`, "to address",
   "Recipient: address", each with the words that follow it as its diagnostic (Gmail,
   Office 365, Amazon SES, OpenSMTPD, Lotus Notes, Verizon write it that way).

Only the bounce's own words are read for addresses, never the message it returns (whose
From and To are the practice's and the patient's own, not a failure). The returned
message's To is used only when nothing else names anyone.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser
from email.utils import getaddresses

from flufl.bounce import all_failures

from chairside.returnpath.reasons import reason_in

# flufl.bounce logs a detector's exception before raising it; the caller handles it.
logging.getLogger("flufl.bounce").addHandler(logging.NullHandler())
logging.getLogger("flufl.bounce").propagate = False

MAX_TEXT = 200_000
"""Characters of a bounce's own text read at most: enough for any real bounce; a hostile
one of megabytes costs no more."""
# A quoted local part ("a..b"@example.org, RFC 5321) is kept whole, quotes and all.
_ADDRESS = re.compile(
    r"(\"[^\"\s\\]{1,62}\"|[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64})@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+"
)
_NOT_RECIPIENT = re.compile(
    r"^(mailer-daemon|postmaster|mail-daemon|mail-delivery-subsystem|noreply|no-reply|"
    r"abuse|bounce[s]?|double-bounce|root|daemon|nobody)@",
    re.IGNORECASE,
)
# Words before an address that make it the failed recipient in prose.
_LEADS = re.compile(
    r"(x?-?(final-|original-)?recipient(s)?( address)?:?\s*(rfc822;)?|"
    r"(delivery|message|mail) to:?|(message|mail) (to|for)|"
    r"(wasn't|was not|couldn't be|could not be|not) delivered to:?|"
    r"failed (to deliver )?(to|for|recipient):?|error for:?|"
    r"unable to deliver (your )?(message )?to( the following address(es)?)?[.:]?|"
    r"address(es)?( failed| rejected)?:|rcpt to:|(^|\n)\s*to:|"
    r"\buser|\bmailbox|\baddress)\s*['\"(<\[]?$",
    re.IGNORECASE,
)
_LINE_START = re.compile(r"^\s*([245]\d\d[ -]([245]\.\d+\.\d+ )?)?[\s<'\"*:>-]*$")
# Where one address's words end: another recipient's line, a separator, the returned message.
_NEXT = re.compile(
    r"\n\s*[\"'<(]?[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+[>\"')]?\s*[:.,]|"
    r"\n\s*(-{3,}|={3,}|\*{3,})|below (this line )?is a copy|original message|"
    # sendmail's transcript: a summary line about an address or a host, another session
    r"\n\s*[245]\d\d <[^>\s]+@|\n\s*[245]\d\d [\w.-]+ \(smtp\)\.\.\.|"
    r"\n\s*(\.\.\. )?while talking to|"
    r"returned message|message text follows|headers? of the (original|returned)",
    re.IGNORECASE,
)
# Where a bounce sent as plain text starts the message it returns: no address after it is
# a failed recipient (its From and To are the practice's and the patient's own).
_RETURNED = re.compile(
    r"^[\s-]*(returned|original|unsent|undelivered) message( follows)?[\s-]*$|"
    r"^[\s-]*original message follows|^[\s-]*below this line is a copy of the message",
    re.IGNORECASE | re.MULTILINE,
)
_REPLY_OR_COMMAND = re.compile(r"\s*([245]\d\d[ -]|>>> ?[a-z])", re.IGNORECASE)
_STATUS = re.compile(r"(?<![\d.])[245]\.\d{1,3}\.\d{1,3}(?![\d.])")
_MTA = re.compile(r"^\s*dns;\s*", re.IGNORECASE)


@dataclass
class Failure:
    email: str
    status: str
    diagnostic: str
    action: str
    permanent: bool
    remote: str
    """The receiving mail system's host, when the bounce names it."""
    category: str = ""
    """The sending mail system's own verdict, when it gives one (PowerMTA's
    X-PowerMTA-BounceCategory)."""


def _lower(value: object) -> str:
    return " ".join(str(value or "").split())


def own_text(message: Message) -> str:
    """The bounce's own words: its text parts outside any returned message."""
    out: list[str] = []

    def walk(part: Message) -> None:
        kind = part.get_content_type()
        if kind in ("message/rfc822", "text/rfc822-headers", "message/partial"):
            return
        if part.is_multipart():
            for sub in part.get_payload() or []:
                if isinstance(sub, Message):
                    walk(sub)
            return
        readable = part.get_content_maintype() in ("text", "multipart")  # a broken multipart
        if not readable and kind != "message/delivery-status":
            return
        payload = part.get_payload(decode=True) or b""
        charset = part.get_content_charset() or "utf-8"
        try:
            text = payload[:MAX_TEXT].decode(charset, "replace")
        except LookupError:
            text = payload[:MAX_TEXT].decode("utf-8", "replace")
        if part.get_content_subtype() == "html":
            text = re.sub(r"<br\s*/?>|</(p|div|tr|li)>", "\n", text, flags=re.IGNORECASE)
            text = re.sub(r"<[^>]*>", " ", text).replace("&lt;", "<").replace("&gt;", ">")
            text = text.replace("&nbsp;", " ").replace("&#39;", "'").replace("&amp;", "&")
        out.append(text)

    walk(message)
    return "\n".join(out)[:MAX_TEXT]


def _dsn_blocks(message: Message, text: str) -> list[Message]:
    """The per-recipient field blocks of RFC 3464 parts, however they were sent."""
    blocks: list[Message] = []
    for part in message.walk():
        if part.get_content_type() == "message/delivery-status" and part.is_multipart():
            blocks += [b for b in (part.get_payload() or [])[1:] if isinstance(b, Message)]
    if blocks:
        return blocks
    # Sent as text (or undecodable as MIME): read the fields from the words.
    for chunk in re.split(r"\n\s*\n", text.replace("\r\n", "\n")):
        if re.search(r"^(final|original)-recipient:", chunk, re.IGNORECASE | re.MULTILINE):
            blocks.append(HeaderParser().parsestr(chunk.strip() + "\n"))
    return blocks


def _from_fields(message: Message, text: str) -> dict[str, Failure]:
    found: dict[str, Failure] = {}
    reporting = ""
    for part in message.walk():
        if part.get_content_type() == "message/delivery-status" and part.is_multipart():
            first = (part.get_payload() or [None])[0]
            if isinstance(first, Message):
                reporting = _MTA.sub("", _lower(first.get("Reporting-MTA")))
    for block in _dsn_blocks(message, text):
        action = _lower(block.get("Action")).lower()
        status = _lower(block.get("Status")).split(" ")[0]
        diagnostic = _lower(block.get("Diagnostic-Code"))
        diagnostic = re.sub(r"^smtp;\s*", "", diagnostic, flags=re.IGNORECASE)
        remote = _MTA.sub("", _lower(block.get("Remote-MTA"))) or reporting
        for header in ("Final-Recipient", "Original-Recipient"):
            value = _lower(block.get(header))
            address = value.partition(";")[2].strip().strip("<>") if ";" in value else value
            match = _ADDRESS.search(address)
            if match and match.group(0).lower() not in found:
                permanent = not action.startswith("delay") and not status.startswith("4")
                found[match.group(0).lower()] = Failure(
                    match.group(0),
                    status,
                    diagnostic,
                    action,
                    permanent,
                    remote,
                    _lower(block.get("X-PowerMTA-BounceCategory")),
                )
                break
    return found


def _context(text: str, at: int) -> str:
    """The words that follow an address (its diagnostic, in prose bounces), up to the next
    recipient's line or the returned message."""
    tail = text[at : at + 600]
    stop = _NEXT.search(tail, 1)
    return " ".join((tail[: stop.start()] if stop else tail).split())


def _contexts(text: str, address: str) -> str:
    """The words after every mention of `address` (a bounce may name it more than once)."""
    low = text.lower()
    found, start = [], low.find(address)
    while start >= 0 and len(found) < 4:
        # A line that opens with a reply ("550 5.1.1 <address>: …") or a command (">>> RCPT
        # To:<address>") says what it is about before the address: keep it.
        line = text[text.rfind("\n", 0, start) + 1 : start]
        lead = line if _REPLY_OR_COMMAND.match(line) else ""
        found.append(" ".join((lead + " " + _context(text, start + len(address))).split()))
        start = low.find(address, start + len(address))
    return " ".join(found)[:1500]


def _from_text(text: str, skip: set[str], whole: bool = True) -> dict[str, tuple[str, str]]:
    """Address → (diagnostic, status) for addresses the prose names as failed."""
    returned = _RETURNED.search(text) if whole else None
    if returned:
        # The bounce's own words first; the whole only when they name nobody.
        return _from_text(text[: returned.start()], skip, False) or _from_text(text, skip, False)
    found: dict[str, tuple[str, str]] = {}
    for match in _ADDRESS.finditer(text):
        address = match.group(0).strip(".")
        low = address.lower()
        if low in skip or low in found or _NOT_RECIPIENT.match(low):
            continue
        before = text[max(0, match.start() - 80) : match.start()]
        line_start = text.rfind("\n", 0, match.start()) + 1
        alone = bool(_LINE_START.match(text[line_start : match.start()]))
        if not (alone or _LEADS.search(before)):
            continue
        diagnostic = _contexts(text, low)
        status = _STATUS.search(diagnostic)
        found[low] = (diagnostic, status.group(0) if status else "")
    return found


def _from_ses(text: str) -> dict[str, Failure]:
    """Amazon SES bounce notifications (JSON, often through SNS to a mailbox)."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or '"notificationType"' not in text[start : start + 200]:
        return {}
    body = text[start : end + 1]
    try:
        data = json.loads(body)
    except ValueError:
        try:  # mail systems wrap long lines: undo it
            data = json.loads(re.sub(r"!?\r?\n ?", "", body))
        except ValueError:
            return {}
    if isinstance(data, dict) and isinstance(data.get("Message"), str):
        try:
            data = json.loads(data["Message"])  # the SNS envelope around it
        except ValueError:
            return {}
    bounce = data.get("bounce") if isinstance(data, dict) else None
    if not isinstance(bounce, dict):
        return {}
    permanent = str(bounce.get("bounceType", "")).lower() == "permanent"
    reporting = _MTA.sub("", str(bounce.get("reportingMTA", "")))
    found = {}
    for item in bounce.get("bouncedRecipients") or []:
        address = str(item.get("emailAddress", "")) if isinstance(item, dict) else ""
        match = _ADDRESS.search(address)
        if match:
            diagnostic = re.sub(r"^smtp;\s*", "", str(item.get("diagnosticCode", "")), flags=2)
            found[match.group(0).lower()] = Failure(
                match.group(0),
                str(item.get("status", "")),
                diagnostic,
                str(item.get("action", "")).lower() or ("failed" if permanent else "delayed"),
                permanent,
                reporting,
            )
    return found


def failures(message: Message, *, practice: set[str], original: Message | None) -> list[Failure]:
    """The recipients this bounce reports, with what went wrong for each.

    `practice` holds addresses that are the practice's own (its From, the mailbox):
    never a failed recipient. `message` is parsed with the classic (compat32) policy.
    """
    text = own_text(message)
    fields = _from_fields(message, text) or _from_ses(text)
    try:
        temporary, permanent = all_failures(message)
    except (AttributeError, TypeError, ValueError, LookupError, IndexError, KeyError):
        # Some of its detectors fail on damaged or undecodable messages; the others say.
        temporary, permanent = frozenset(), frozenset()
    skip = {a.lower() for a in practice}
    if original is not None:
        skip |= {a.lower() for _n, a in getaddresses(original.get_all("From", []) or [])}
    prose = _from_text(text, skip)
    out: dict[str, Failure] = dict(fields)
    heuristic = [(a, True) for a in permanent] + [(a, False) for a in temporary]
    for raw, is_permanent in heuristic:
        address = raw.decode("ascii", "replace") if isinstance(raw, bytes) else str(raw)
        match = _ADDRESS.search(address)
        if not match or match.group(0).lower() in skip or match.group(0).lower() in out:
            continue
        diagnostic, status = prose.get(match.group(0).lower(), ("", ""))
        out[match.group(0).lower()] = Failure(
            match.group(0), status, diagnostic, "", is_permanent, ""
        )
    if not out:
        for low, (diagnostic, status) in prose.items():
            out[low] = Failure(low, status, diagnostic, "", True, "")
    if not out and original is not None:
        # Nothing names the recipient but the message it returns.
        for _n, address in getaddresses(original.get_all("To", []) or []):
            if _ADDRESS.fullmatch(address or "") and address.lower() not in skip:
                out[address.lower()] = Failure(address, "", "", "", True, "")
    for failure in out.values():
        if len(out) == 1 and failure.diagnostic and not reason_in(failure.diagnostic):
            # One recipient, and its own words say nothing: the bounce's words are about it
            # ("Could not be delivered because of 550 5.1.1 User unknown. Recipients: …").
            failure.diagnostic += " " + " ".join(text[:1500].split())
        if not failure.diagnostic:
            # A field-less bounce: its own words (minus the boilerplate) are the diagnostic.
            failure.diagnostic = (
                prose.get(failure.email.lower(), ("", ""))[0]
                or _contexts(text, failure.email.lower())
                or " ".join(text[:1500].split())
            )
        if not failure.status:
            found = _STATUS.search(failure.diagnostic)
            failure.status = found.group(0) if found else ""
    return list(out.values())
