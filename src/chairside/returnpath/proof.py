"""Whether a message that came back is tied to mail Chairside sent that very person.

A bounce or a complaint about `email` is proven when

* a Message-ID it carries (the returned message, its headers, In-Reply-To, …) is one the
  ledger recorded for a message sent to `email`; or
* it carries `email`'s unsubscribe code (an HMAC under the practice's key), e.g. in the
  returned List-Unsubscribe header; or
* it came back to a return address minted for `email` (`…+b-CODE@…`).

An unsubscribe request is proven by the patient's code in it, or, without one, when the
practice's own mail server saw the sender's domain pass DKIM, SPF or DMARC for its From.

None of these can be made up by a stranger: the Message-IDs are random, the codes need the
practice's key, and the server's verdict is in the topmost Authentication-Results. What is
not proven is held for a person, with the reason (`why_not`).
"""

from __future__ import annotations

from collections.abc import Callable

from chairside.returnpath.classify import Classified
from chairside.returnpath.state import LedgerView


def prove(
    email: str, found: Classified, ledger: LedgerView, token_of: Callable[[str], str]
) -> str | None:
    """The evidence tying `found` to mail sent to `email`, in words; None when there is none."""
    low = email.lower()
    for reference in sorted(found.references):
        delivery = ledger.by_message_id(reference)
        if delivery is not None and delivery.email.lower() == low:
            return f"it returns the message of {delivery.campaign} sent to them"
    code = token_of(email)
    if code in found.codes:
        return "it carries their unsubscribe code"
    if found.return_code and found.return_code == code:
        return "it came back to the return address made for them"
    return None


def named_deliveries(found: Classified, ledger: LedgerView) -> list[str]:
    """The addresses of the messages Chairside sent that `found` returns (by Message-ID)."""
    emails = []
    for reference in sorted(found.references):
        delivery = ledger.by_message_id(reference)
        if delivery is not None and delivery.email.lower() not in {e.lower() for e in emails}:
            emails.append(delivery.email)
    return emails


def why_not(found: Classified) -> str:
    """Why a message about a patient was held, in the office's words."""
    if found.kind == "unsubscribe":
        return (
            "an unsubscribe request without the patient's code, and the practice's mail "
            "server did not confirm it came from their mail provider (it may be forged)"
        )
    what = {"bounce": "a bounce", "complaint": "a complaint"}.get(found.kind, "a message")
    return (
        f"{what} that does not return any message Chairside sent to this patient (it "
        "carries neither that email's own identifier nor the patient's unsubscribe code): "
        "it may be forged"
    )


def evidence_of(message_from: str, subject: str, found: Classified) -> str:
    """What the message says of itself, for the person who reviews it."""
    parts = [f"from {message_from or 'nobody named'}", f'subject "{subject[:80]}"']
    if found.kind in ("bounce", "complaint"):
        parts.append("it returns no message of the send record, nor their code")
    if found.kind == "unsubscribe":
        parts.append("no DKIM/SPF/DMARC pass recorded for the sender's domain")
    return "; ".join(parts)
