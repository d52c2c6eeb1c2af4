"""What in a message can tie it to mail Chairside sent, and what can vouch for its sender.

Nothing here decides: it gathers what `proof` checks against the ledger and the practice's
unsubscribe codes.

* `references`: every Message-ID the message names (In-Reply-To, References, the returned
  message or its headers, Original-Message-ID and X- fields, quoted headers in prose).
  Chairside's Message-IDs are random, so only someone who received the message knows one.
* `codes`: the 26-character unsubscribe codes anywhere in it (the returned List-Unsubscribe,
  a quoted footer); a code is an HMAC of one patient's address.
* `return_code`: the code of a per-recipient return address (`…+b-CODE@…`, VERP) the
  bounce was delivered to.
* `verified_by`: which of DKIM, SPF or DMARC the practice's own mail server saw pass for
  the domain of `From:` (RFC 8601 Authentication-Results, the topmost one, or the one of
  the named authserv-id: headers below it may have been written by anyone).
* `is_auto_reply`: RFC 3834 and the usual vacation markers and subjects.
"""

from __future__ import annotations

import re
from email.message import Message
from email.utils import parseaddr

import authres

TOKEN = re.compile(r"(?<![0-9a-f])[0-9a-f]{26}(?![0-9a-f])")
_IDS = re.compile(rb"<([^<>\s\"]{1,250}@[^<>\s\"]{1,250})>")
_BARE_ID = re.compile(
    rb"(?im)^[ \t>]*(?:x-)?(?:original-)?message-id:[ \t]*<?([^<>\s\"]{1,250}@[^<>\s\"]{1,250})>?"
)
_REPLY_PREFIX = re.compile(r"^((re|aw|sv|antw|fw|fwd|wg)\s*:\s*)+", re.IGNORECASE)
_RETURN = re.compile(r"\+b-([0-9a-f]{26})@", re.IGNORECASE)
MAX_SCAN = 4_000_000
"""Bytes of a message searched for references and codes: a hostile message of a gigabyte
costs no more than a real one."""

# RFC 3834 and what common vacation responders write instead.
_AUTO_SUBJECT = re.compile(
    r"^\s*(auto(matic)?[ _-]?(reply|response|antwort)|out of (the )?office|"
    r"autoreply|auto-reply|abwesenheit(snotiz)?|automatische antwort|"
    r"r[ée]ponse automatique|absence|respuesta autom[áa]tica|fuera de la oficina|"
    r"fuori sede|risposta automatica|afwezig|automatisch antwoord|"
    r"resposta autom[áa]tica|ausente|frånvaro|autosvar|poza biurem|"
    r"on (vacation|holiday|leave)|away from (the )?office|i am (away|out))",
    re.IGNORECASE,
)


def references(raw: bytes, message: Message) -> set[str]:
    """Message-IDs the message names, without its own; as `<id>` strings."""
    own = str(message.get("Message-ID", "")).strip().strip("<>")
    head = raw[:MAX_SCAN]
    found = {m.decode("ascii", "replace") for m in _IDS.findall(head)}
    found |= {m.decode("ascii", "replace") for m in _BARE_ID.findall(head)}
    found.discard(own)
    return {f"<{value}>" for value in found}


def codes(raw: bytes, decoded: str) -> set[str]:
    """Unsubscribe codes in the message, raw or decoded (quoted-printable, base64, %-escapes)."""
    text = raw[:MAX_SCAN].decode("ascii", "replace").lower() + "\n" + decoded.lower()
    return set(TOKEN.findall(text))


def return_code(message: Message) -> str | None:
    """The code of the per-recipient return address this bounce was delivered to."""
    for name in ("Delivered-To", "X-Original-To", "To", "Envelope-To", "X-Envelope-To"):
        for value in message.get_all(name, []) or []:
            match = _RETURN.search(str(value))
            if match:
                return match.group(1).lower()
    return None


def _domain(value: str) -> str:
    return value.rpartition("@")[2].strip().strip(">").lower()


def _aligned(domain: str, from_domain: str) -> bool:
    """The same domain, or one a subdomain of the other (DMARC's relaxed alignment)."""
    return bool(domain) and (
        domain == from_domain
        or from_domain.endswith("." + domain)
        or domain.endswith("." + from_domain)
    )


def verified_by(message: Message, *, authserv_id: str = "") -> str:
    """ "dkim", "spf" or "dmarc" when the practice's mail server saw that pass for the
    domain of `From:`; "" when it did not say so (or said it in a header it did not write)."""
    from_domain = _domain(parseaddr(str(message.get("From", "")))[1])
    if not from_domain:
        return ""
    headers = [str(v) for v in message.get_all("Authentication-Results", []) or []]
    chosen = None
    for value in headers:  # topmost first: the last server to receive it wrote it
        try:
            parsed = authres.AuthenticationResultsHeader.parse_value(" ".join(value.split()))
        except (authres.AuthResError, ValueError, IndexError, TypeError):
            if not authserv_id:
                return ""  # the topmost one cannot be read: nothing vouches
            continue
        if not authserv_id or str(parsed.authserv_id).lower() == authserv_id.lower():
            chosen = parsed
            break
    if chosen is None:
        return ""
    for result in chosen.results:
        if str(result.result).lower() != "pass":
            continue
        props = {f"{p.type}.{p.name}".lower(): str(p.value) for p in result.properties}
        method = str(result.method).lower()
        if method == "dmarc" and _domain(props.get("header.from", "")) == from_domain:
            return "dmarc"
        if method == "dkim" and _aligned(
            _domain(props.get("header.d", "") or props.get("header.i", "")), from_domain
        ):
            return "dkim"
        if method == "spf" and _aligned(_domain(props.get("smtp.mailfrom", "")), from_domain):
            return "spf"
    return ""


def is_auto_reply(message: Message) -> bool:
    """An automatic reply (vacation, out of office, a responder), RFC 3834 or otherwise.

    `Auto-Submitted: auto-generated` alone is not one: mailbox providers mark the
    List-Unsubscribe email they send for a patient that way.
    """
    auto = header_text(message, "Auto-Submitted", "no").lower()
    precedence = header_text(message, "Precedence").lower()
    subject = header_text(message, "Subject")
    return (
        auto.startswith("auto-replied")
        or precedence in ("auto_reply", "bulk", "junk")
        or any(h in message for h in ("X-Autoreply", "X-Autorespond", "X-Autorespond-Sent"))
        or bool(_AUTO_SUBJECT.search(_REPLY_PREFIX.sub("", subject)))
    )


def header_text(message: Message, name: str, default: str = "") -> str:
    """A header as text, "" (or `default`) when it is missing or cannot be decoded."""
    try:
        return " ".join(str(message.get(name, default)).split())
    except (ValueError, LookupError, TypeError, AttributeError, IndexError):
        return default


def is_automatic(message: Message) -> bool:
    """Sent by a machine (RFC 3834 Auto-Submitted other than "no")."""
    return str(message.get("Auto-Submitted", "no")).strip().lower() != "no"
