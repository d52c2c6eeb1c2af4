"""What comes back: unsubscribes read, one-click unsubscribe for bulk senders, a From
address whose domain lets the mail pass DMARC."""

from __future__ import annotations

from collections.abc import Iterator

from chairside.checks.base import WARNING, CheckContext, Finding, rule
from chairside.returnpath.freshness import unsynced_warnings

# Gmail's bulk-sender rules (2024) apply from 5,000 messages a day to Gmail addresses.
BULK_SENDER = 5000
# Mailbox providers whose domains publish a DMARC policy: their addresses work only when
# sent through their own servers.
FREE_MAIL = frozenset(
    [
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "yahoo.co.uk",
        "yahoo.ca",
        "ymail.com",
        "rocketmail.com",
        "outlook.com",
        "hotmail.com",
        "hotmail.co.uk",
        "live.com",
        "msn.com",
        "aol.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "comcast.net",
        "verizon.net",
        "att.net",
        "sbcglobal.net",
        "gmx.com",
        "gmx.net",
        "web.de",
        "mail.com",
        "yandex.com",
        "proton.me",
        "protonmail.com",
        "zoho.com",
    ]
)


def _list_size(context: CheckContext) -> int:
    """About how many patients the list holds: its rows (a cheap upper bound, no parsing)."""
    path = context.workspace.patients_file
    try:
        with path.open("rb") as handle:
            return max(
                0, sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b"")) - 1
            )
    except OSError:
        return 0


def _refusals(context: CheckContext) -> Iterator[Finding]:
    """Mail providers that refused the practice's mail (spam-like, blocked, policy…)."""
    from chairside.delivery import state_dir
    from chairside.returnpath.report import refusal_alarms

    for alarm in refusal_alarms(state_dir(context.workspace)):
        yield Finding("mail-refused", WARNING, "campaign", "practice.toml [email] from", alarm)


@rule
def return_path_rules(context: CheckContext) -> Iterator[Finding]:
    """`return-path-synced`, `mail-refused`, `one-click-unsubscribe`, `from-free-mail`."""
    yield from _refusals(context)
    for message in unsynced_warnings(context.workspace, campaign=context.campaign.name):
        yield Finding(
            "return-path-synced", WARNING, "campaign", "audiences/suppressed.csv", message
        )
    practice = context.practice
    size = _list_size(context)
    if not practice.unsubscribe_url and size >= BULK_SENDER:
        yield Finding(
            "one-click-unsubscribe",
            WARNING,
            "campaign",
            "practice.toml [email] unsubscribe_url",
            f"The patient list has about {size:,} rows. Gmail and Yahoo require bulk senders "
            f"(from {BULK_SENDER:,} messages a day) to offer one-click unsubscribe (RFC 8058), "
            "which needs an unsubscribe page: set unsubscribe_url (see the README, "
            "'One-click unsubscribe').",
        )
    domain = practice.from_email.rpartition("@")[2].lower()
    if domain in FREE_MAIL:
        yield Finding(
            "from-free-mail",
            WARNING,
            "campaign",
            "practice.toml [email] from",
            f"The newsletter comes from an address at {domain}. {domain} publishes a DMARC "
            "policy, so its mail sent through any other server (yours, or a provider) fails "
            "DMARC and is rejected or put in spam. Send from an address at the practice's "
            "own domain.",
        )
