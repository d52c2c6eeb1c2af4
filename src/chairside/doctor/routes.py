"""The ways the practice's mail leaves: its SMTP relay and each configured provider.

Each route says what the From domain's DNS must hold for receivers to believe the mail: the
SPF include that authorises it (or, for a hosting company's relay, its address), the DKIM
selectors it signs with, and whether its envelope sender is the From address (then SPF can
align with From; otherwise only DKIM can).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from chairside.workspace import Practice


@dataclass(frozen=True)
class Route:
    name: str
    spf_include: str | None
    """The include: that authorises it; None for a relay checked by its address."""
    selectors: tuple[str, ...]
    """Its DKIM selectors at the From domain: any one published is enough."""
    dkim_where: str
    """Where the practice gets the DKIM record it publishes."""
    envelope_is_from: bool
    """The envelope sender (bounce address) is the From address, so SPF can align."""
    relay_host: str = ""
    """A hosting company's relay, authorised by its address (ip4/a/mx)."""
    dkim_type: str = "TXT"
    local: bool = False
    """A test server on this computer: nothing in DNS applies to it."""


MICROSOFT = Route(
    "Microsoft 365",
    "spf.protection.outlook.com",
    ("selector1", "selector2"),
    "the Microsoft Defender portal (Email & collaboration → Policies → Email authentication "
    "settings → DKIM): it shows the two CNAME records for your domain",
    True,
    dkim_type="CNAME",
)
GOOGLE = Route(
    "Google Workspace",
    "_spf.google.com",
    ("google",),
    "the Google Admin console (Apps → Google Workspace → Gmail → Authenticate email): "
    "generate the record there, publish it, then press Start authentication",
    True,
)
AMAZON = Route(
    "Amazon SES",
    "amazonses.com",
    (),
    "the Amazon SES console (Verified identities → your domain → DomainKeys Identified Mail): "
    "it shows the three CNAME records to publish",
    False,
    dkim_type="CNAME",
)
SENDGRID = Route(
    "SendGrid",
    "sendgrid.net",
    ("s1", "s2"),
    "SendGrid (Settings → Sender Authentication → Authenticate your domain): it shows the "
    "CNAME records s1._domainkey and s2._domainkey",
    False,
    dkim_type="CNAME",
)
MAILGUN = Route(
    "Mailgun",
    "mailgun.org",
    ("smtp", "mx", "k1", "pic", "krs", "mailo"),
    "Mailgun (Sending → Domains → your domain → DNS records): it shows the DKIM TXT record",
    False,
)
MAILCHIMP = Route(
    "Mailchimp",
    "servers.mcsv.net",
    ("k1", "k2", "k3"),
    "Mailchimp (Website → Domains → Authenticate): it shows the CNAME records k2._domainkey "
    "and k3._domainkey",
    False,
    dkim_type="CNAME",
)
PROVIDERS = {"sendgrid": SENDGRID, "mailgun": MAILGUN, "mailchimp": MAILCHIMP}


def _relay(host: str) -> Route | None:
    host = host.lower().rstrip(".")
    ends = host.endswith
    if ends((".office365.com", ".outlook.com")) or host in ("office365.com", "outlook.com"):
        return MICROSOFT
    if host in ("smtp.gmail.com", "smtp-relay.gmail.com", "smtp.googlemail.com") or ends(
        (".google.com", ".googlemail.com")
    ):
        return GOOGLE
    if ends(".amazonaws.com") and "email-smtp" in host:
        return AMAZON
    if host == "smtp.sendgrid.net":
        return SENDGRID
    if host.endswith("mailgun.org"):
        return MAILGUN
    return None


def _is_local(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def smtp_route(practice: Practice) -> Route | None:
    """The route `send` takes, or None when practice.toml names no mail server."""
    host = practice.smtp.host
    if not host:
        return None
    if _is_local(host):
        return Route("a test server on this computer", None, (), "", True, local=True)
    known = _relay(host)
    if known is not None:
        return known
    return Route(f"the mail server {host}", None, (), "", True, relay_host=host)


def provider_routes(practice: Practice) -> list[Route]:
    """A route for each provider practice.toml has a `[providers.NAME]` section for."""
    return [PROVIDERS[name] for name in practice.providers if name in PROVIDERS]
