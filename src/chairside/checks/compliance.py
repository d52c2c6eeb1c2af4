"""Rules the law and the mailbox providers set: who sends, from where, how to opt out,
and nothing half-rendered."""

from __future__ import annotations

import re
from collections.abc import Iterator

from chairside import placeholders
from chairside.checks.base import ERROR, WARNING, CheckContext, Finding, VariantView, rule

_KNOWN_TOKEN = re.compile(f"{placeholders.FIRST_NAME}|{placeholders.UNSUBSCRIBE_URL}")
_LEFTOVER = re.compile(r"\{\{|\{%|</?mj-[a-z-]+|" + placeholders.TOKEN_PATTERN.pattern)


def _visible_text(view: VariantView) -> str:
    return " ".join(view.doc.text_content().split())


@rule
def leftover_template(context: CheckContext) -> Iterator[Finding]:
    """`leftover-template`: Jinja, MJML or Chairside placeholders that reached the email.

    Looks at the variant as rendered, before any patient's name is filled in: a patient
    named "{{ Max }}" is data, not a template the practice left unfinished.
    """
    for view in context.variants:
        parts = {
            "subject": view.variant.subject,
            "preheader": view.variant.preheader,
            "HTML": _KNOWN_TOKEN.sub("", view.rendered.html),
            "text part": _KNOWN_TOKEN.sub("", view.rendered.text),
        }
        for part, text in parts.items():
            found = sorted(set(_LEFTOVER.findall(text)))
            if found:
                yield Finding(
                    "leftover-template",
                    ERROR,
                    view.name,
                    part,
                    f"{', '.join(found[:5])} left in the {part}: a template or post uses "
                    "syntax Chairside did not fill. Check templates/ and the posts for "
                    "{{ }}, {% %} or mj- tags written as text.",
                )


@rule
def postal_address(context: CheckContext) -> Iterator[Finding]:
    """`postal-address`: every message must show the practice's postal address."""
    address = " ".join(context.practice.address.split())
    for view in context.variants:
        missing = [
            p
            for p, text in (("HTML", _visible_text(view)), ("text part", view.text))
            if not address or address not in " ".join(text.split())
        ]
        if missing or address.startswith("TODO"):
            yield Finding(
                "postal-address",
                ERROR,
                view.name,
                " and ".join(missing) or "practice.toml",
                "The practice's postal address is missing (the law on commercial email asks "
                "for it). Set address in practice.toml, and keep {{ practice.address }} in "
                "your templates/ footer.",
            )


@rule
def unsubscribe_link(context: CheckContext) -> Iterator[Finding]:
    """`unsubscribe-link`: a visible unsubscribe link, in both parts."""
    for view in context.variants:
        links = [a for a in view.doc.iter("a") if "unsubscribe" in a.text_content().lower()]
        if not links or not all(a.get("href") for a in links):
            yield Finding(
                "unsubscribe-link",
                ERROR,
                view.name,
                "HTML footer",
                'No visible unsubscribe link. Keep <a href="{{ unsubscribe_url }}">Unsubscribe'
                "</a> in your templates/ footer.",
            )
        if "unsubscribe" not in view.text.lower():
            yield Finding(
                "unsubscribe-link",
                ERROR,
                view.name,
                "text part",
                "The plain-text part has no unsubscribe link. Keep {{ unsubscribe_url }} in "
                "templates/newsletter.txt.",
            )


@rule
def list_unsubscribe(context: CheckContext) -> Iterator[Finding]:
    """`list-unsubscribe`: the header, and One-Click whenever it has an https URL."""
    for view in context.variants:
        header = str(view.message.get("List-Unsubscribe", ""))
        post = str(view.message.get("List-Unsubscribe-Post", ""))
        if "<mailto:" not in header:
            yield Finding(
                "list-unsubscribe",
                ERROR,
                view.name,
                "List-Unsubscribe header",
                "Messages lack a List-Unsubscribe mailto: set unsubscribe_email or reply_to "
                "under [email] in practice.toml.",
            )
        if "<https://" in header and post != "List-Unsubscribe=One-Click":
            yield Finding(
                "list-unsubscribe",
                ERROR,
                view.name,
                "List-Unsubscribe-Post header",
                "An https List-Unsubscribe needs List-Unsubscribe-Post: "
                "List-Unsubscribe=One-Click (RFC 8058); Gmail and Yahoo require it.",
            )


@rule
def from_address(context: CheckContext) -> Iterator[Finding]:
    """`from-address`: a real From address on every message."""
    sender = context.practice.from_email
    for view in context.variants:
        header = view.message.get("From")
        addresses = getattr(header, "addresses", ()) if header is not None else ()
        if not addresses or not sender or sender.startswith("TODO"):
            yield Finding(
                "from-address",
                ERROR,
                view.name,
                "From header",
                "No From address: set from under [email] in practice.toml to an address "
                "the practice owns.",
            )


@rule
def placeholders_left(context: CheckContext) -> Iterator[Finding]:
    """`practice-todo`: settings `chairside init` left as TODO must not reach patients."""
    for key in context.practice.todo:
        yield Finding(
            "practice-todo",
            ERROR,
            "campaign",
            f"practice.toml {key}",
            f"{key} still holds the placeholder chairside init wrote. Fill it in: it "
            "appears in every email.",
        )
    for view in context.variants:
        if "TODO" in view.variant.subject or "TODO" in view.variant.preheader:
            yield Finding(
                "practice-todo",
                ERROR,
                view.name,
                "subject or preheader in campaign.toml",
                "The subject or preheader still says TODO (campaigns made before practice.toml "
                "was filled in keep the placeholder). Write them in campaign.toml.",
            )


@rule
def general_fallback(context: CheckContext) -> Iterator[Finding]:
    """`general-fallback`: a concern with no post this month; its patients get the general
    version rather than an empty newsletter."""
    overridden = set(context.campaign.settings.segment_subjects)
    overridden |= set(context.campaign.settings.segment_intros)
    for segment in context.campaign.fallbacks:
        unused = (
            f" Its [segments.{segment.id}] subject and intro in campaign.toml are not used."
            if segment.id in overridden
            else ""
        )
        yield Finding(
            "general-fallback",
            WARNING,
            segment.id,
            "campaign.toml [[posts]]",
            f"{segment.id}: no post this month → its patients get the general version.{unused} "
            f"Tag a post for {segment.name} to give them their own.",
        )
