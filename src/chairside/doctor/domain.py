"""The From domain's DNS: MX, SPF, DKIM, DMARC, and whether SPF or DKIM aligns with From.

Since 2024 Gmail and Yahoo (and Microsoft since 2025) refuse or junk mail whose From domain
neither SPF nor DKIM vouches for; bulk senders also need DMARC. Each check says what it
found, and a problem carries the DNS record that fixes it, as a DNS host's page asks for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chairside.doctor import spf
from chairside.doctor.dkimcheck import Own, own_dkim, route_dkim
from chairside.doctor.dmarc import check_dmarc, org_domain
from chairside.doctor.dns import Dns, DnsFailure
from chairside.doctor.results import Record, Report, ok, problem, warning
from chairside.doctor.routes import (
    AMAZON,
    GOOGLE,
    MICROSOFT,
    PROVIDERS,
    Route,
    provider_routes,
    smtp_route,
)
from chairside.workspace import Practice

AREA = "Domain"
FREE_MAIL = frozenset(
    (
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "ymail.com",
        "rocketmail.com",
        "aol.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "gmx.com",
        "gmx.net",
        "gmx.de",
        "web.de",
        "proton.me",
        "protonmail.com",
        "zoho.com",
        "yandex.com",
        "yandex.ru",
        "mail.com",
        "comcast.net",
        "verizon.net",
        "att.net",
        "sbcglobal.net",
        "btinternet.com",
        "yahoo.co.uk",
        "hotmail.co.uk",
    )
)
TRUSTED_INCLUDES = frozenset(
    r.spf_include for r in (MICROSOFT, GOOGLE, AMAZON, *PROVIDERS.values()) if r.spf_include
)
"""Their own SPF is the providers' business: a test zone without them is no error."""


@dataclass
class Facts:
    """What the bulk rules and the alignment need from the DNS checks."""

    domain: str
    dmarc: str | None = None
    """The DMARC policy (none / quarantine / reject), or None when there is no usable record."""
    aligned: dict[str, bool] = field(default_factory=dict)
    """Route name → SPF or DKIM aligns with From."""
    spf_passes: dict[str, bool] = field(default_factory=dict)
    dkim_signs: dict[str, bool] = field(default_factory=dict)
    checked: bool = False
    """The DNS could be read (False: offline, or a free-mail From)."""


def check_domain(practice: Practice, dns: Dns, report: Report) -> Facts:
    """Add the Domain checks to `report`. DnsUnreachable passes through (nothing was
    concluded from the DNS server that went silent; the caller says so).

    A broken SPF or DKIM record is a problem, but whether the mail gets through is the
    Alignment line's to say (DMARC passes on either): only it stops delivery."""
    domain = practice.from_email.rpartition("@")[2].lower()
    facts = Facts(domain)
    if "[email] from" in practice.todo:
        report.add(
            problem(
                AREA,
                "From address",
                f"The From address is still a placeholder ({practice.from_email}), so there "
                "is no domain to check yet.",
                "Set the address the newsletter comes from, at the practice's own domain.",
            )
        )
        return facts
    if domain in FREE_MAIL:
        report.add(
            problem(
                AREA,
                "From address",
                f"{practice.from_email} is a free-mail address: {domain} tells receivers to "
                "refuse mail from it sent through anyone but itself, so a newsletter from it is "
                "refused or junked.",
                "Send from an address at the practice's own domain (the website's, e.g. "
                "news@your-practice.com) and set it as the From address.",
                stops=True,
            )
        )
        return facts
    routes = [r for r in [smtp_route(practice), *provider_routes(practice)] if r is not None]
    _mx(practice, dns, report, domain, routes)
    walk = _spf(dns, report, domain, routes)
    own = own_dkim(practice, dns, report)
    keys = route_dkim(dns, report, domain, routes, own)
    dmarc = check_dmarc(dns, report, domain)
    facts.dmarc = dmarc.get("p") if dmarc else None
    facts.checked = True
    _alignment(practice, report, facts, routes, walk, keys, own, dmarc or {})
    return facts


# MX


def _mx(practice: Practice, dns: Dns, report: Report, domain: str, routes: list[Route]) -> None:
    domains = [domain]
    for address in (practice.reply_to, practice.unsubscribe_email):
        other = address.rpartition("@")[2].lower()
        if other and other not in domains:
            domains.append(other)
    for name in domains:
        try:
            hosts = dns.mx(name)
        except DnsFailure as exc:
            report.add(
                problem(
                    AREA,
                    f"MX {name}",
                    f"Could not read the MX records: {exc}.",
                    "Ask your DNS host why its server fails for this name.",
                )
            )
            continue
        if hosts:
            shown = ", ".join(host for _, host in hosts[:3])
            report.add(ok(AREA, f"MX {name}", f"mail for {name} goes to {shown}"))
            continue
        value, fix = (
            "your mailbox provider's mail server",
            (
                "Add the MX record your mailbox provider gives you, so replies and emailed "
                "unsubscribes can arrive."
            ),
        )
        if MICROSOFT in routes:
            value = name.replace(".", "-") + ".mail.protection.outlook.com"
            fix = "Add the MX record Microsoft 365 shows for your domain (priority 0)."
        elif GOOGLE in routes:
            value, fix = "smtp.google.com", "Add Google Workspace's MX record (priority 1)."
        report.add(
            problem(
                AREA,
                f"MX {name}",
                f"{name} has no MX record: replies and emailed unsubscribes cannot arrive, "
                "and some receivers refuse mail from a domain that takes none.",
                fix,
                Record("MX", "@", value, name),
            )
        )


# SPF


def _spf(dns: Dns, report: Report, domain: str, routes: list[Route]) -> spf.Walk | None:
    try:
        walk = spf.walk(dns, domain, trusted=TRUSTED_INCLUDES)
    except DnsFailure as exc:
        report.add(
            problem(
                AREA,
                "SPF",
                f"Could not read the SPF record of {domain}: {exc}.",
                "Ask your DNS host why its server fails for this name.",
            )
        )
        return None
    needed, missing = _needed_terms(dns, walk, routes)
    if walk.count > 1:
        records = spf.spf_records(dns.txt(domain))
        report.add(
            problem(
                AREA,
                "SPF",
                f"{domain} has {walk.count} SPF records; receivers then treat it as having "
                "none (permerror), so no mail from it passes SPF.",
                "Delete the SPF records (TXT records starting v=spf1) and publish this one "
                "instead, which holds all of their terms:",
                Record("TXT", "@", spf.with_terms(spf.merged(records), needed), domain, "change"),
            )
        )
        return walk
    if walk.count == 0:
        report.add(
            problem(
                AREA,
                "SPF",
                f"{domain} has no SPF record: receivers cannot tell which servers may send "
                "its mail.",
                "Add this TXT record:",
                Record("TXT", "@", spf.with_terms(None, needed or ["mx"]), domain),
            )
        )
        return walk
    fine = True
    if walk.loops:
        fine = False
        report.add(
            problem(
                AREA,
                "SPF",
                f"The SPF record of {domain} includes itself in a loop ({walk.loops[0]}); "
                "receivers give up on it (permerror).",
                "Remove the include that leads back: "
                + walk.loops[0].split(" → ")[-2]
                + " must not include "
                + walk.loops[0].split(" → ")[-1]
                + ".",
            )
        )
    if walk.lookups > spf.LOOKUP_LIMIT:
        fine = False
        includes = ", ".join(sorted(walk.includes)) or "its a/mx terms"
        more = "more than " if walk.lookups > spf._STOP_AT else ""
        report.add(
            problem(
                AREA,
                "SPF",
                f"The SPF record of {domain} needs {more}{walk.lookups} DNS lookups; receivers "
                f"stop at {spf.LOOKUP_LIMIT} and then treat it as no SPF (permerror). It "
                f"reaches: {includes}.",
                "Remove the includes of services that no longer send for the practice, and "
                "write addresses (ip4:) instead of a and mx terms, until it needs 10 or fewer.",
            )
        )
    for error in walk.errors:
        fine = False
        report.add(
            problem(
                AREA,
                "SPF",
                f"The SPF record of {domain}: {error}; receivers treat the record as broken "
                "(permerror).",
                "Correct or remove that term (check its spelling with the service it names).",
            )
        )
    for failure in walk.failures:
        report.add(
            warning(
                AREA,
                "SPF",
                f"Part of the SPF record could not be read: {failure}.",
                "If it lasts, ask your DNS host (or the included service) about it.",
            )
        )
    if walk.all.startswith("+"):
        fine = False
        report.add(
            problem(
                AREA,
                "SPF",
                f"The SPF record of {domain} ends in +all: it lets any server in the world "
                "send as the practice.",
                "End it with ~all instead:",
                Record("TXT", "@", walk.record.replace(walk.all, "~all"), domain, "change"),
            )
        )
    for route, term in missing:
        fine = False
        why = f"it does not authorise {route.name}" + (f" ({term})" if route.relay_host else "")
        report.add(
            problem(
                AREA,
                f"SPF ({route.name})",
                f"The SPF record of {domain} is there, but {why}, which sends the practice's "
                "mail: receivers see that mail fail SPF.",
                "Change the SPF record (the TXT record starting v=spf1) to:",
                Record("TXT", "@", spf.with_terms(walk.record, needed), domain, "change"),
            )
        )
    if fine:
        named = ", ".join(r.name for r in routes if not r.local)
        report.add(
            ok(
                AREA,
                "SPF",
                f"one record, {walk.lookups} of {spf.LOOKUP_LIMIT} DNS lookups"
                + (f", authorises {named}" if named else ""),
            )
        )
    return walk


def _needed_terms(
    dns: Dns, walk: spf.Walk, routes: list[Route]
) -> tuple[list[str], list[tuple[Route, str]]]:
    """The terms the routes need (in the order to write them) and those the record lacks."""
    needed: list[str] = []
    missing: list[tuple[Route, str]] = []
    for route in routes:
        if route.local:
            continue
        if route.spf_include:
            term = f"include:{route.spf_include}"
            needed.append(term)
            if walk.count == 1 and route.spf_include not in walk.includes:
                missing.append((route, term))
            continue
        try:
            addresses = dns.addresses(route.relay_host) if route.relay_host else []
        except DnsFailure:  # the Mail server check says the name cannot be looked up
            addresses = []
        if _is_address(route.relay_host):
            addresses = [route.relay_host]
        if not addresses:
            continue  # the Mail server check says the host does not resolve
        term = ("ip6:" if ":" in addresses[0] else "ip4:") + addresses[0]
        if walk.count == 1 and any(walk.authorises(a) for a in addresses):
            continue
        needed.append(term)
        if walk.count == 1:
            missing.append((route, term))
    return needed, missing


def _is_address(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


# Alignment


def _alignment(
    practice: Practice,
    report: Report,
    facts: Facts,
    routes: list[Route],
    walk: spf.Walk | None,
    keys: dict[str, bool | None],
    own: Own | None,
    dmarc: dict[str, str],
) -> None:
    domain = facts.domain
    spf_fine = bool(
        walk
        and walk.count == 1
        and not walk.loops
        and not walk.errors
        and walk.lookups <= spf.LOOKUP_LIMIT
    )
    missing_terms = set()
    if walk and walk.count == 1:
        missing_terms = {
            r.name for r in routes if r.spf_include and r.spf_include not in walk.includes
        }
    strict_dkim = dmarc.get("adkim", "r") == "s"
    for route in routes:
        if route.local:
            report.add(
                ok(
                    AREA,
                    "Alignment",
                    "the mail server is a test server on this computer; "
                    "nothing in DNS applies to it",
                )
            )
            continue
        authorised = spf_fine and route.name not in missing_terms
        if route.relay_host and walk and spf_fine:
            authorised = not any(
                c.name == f"SPF ({route.name})" and c.status == "problem" for c in report.checks
            )
        spf_aligned = authorised and route.envelope_is_from
        signs = keys.get(route.name, False)
        if own and own.good and route == smtp_route(practice):  # Chairside signs what it sends
            signs = (
                bool(signs)
                or own.domain == domain
                or (not strict_dkim and org_domain(own.domain) == org_domain(domain))
            )
        facts.spf_passes[route.name] = authorised
        facts.dkim_signs[route.name] = bool(signs)
        facts.aligned[route.name] = spf_aligned or bool(signs)
        if signs is None and not spf_aligned:
            report.add(
                warning(
                    AREA,
                    f"Alignment ({route.name})",
                    f"Mail sent through {route.name} can pass only by DKIM, and Chairside "
                    f"cannot see {route.name}'s DKIM selectors.",
                    f"Make sure {route.dkim_where.split(' (')[0]} shows DKIM as verified.",
                )
            )
            facts.aligned[route.name] = True  # unknown, not known to fail: no blocking
            continue
        if spf_aligned or signs:
            how = " and ".join(w for w, b in (("SPF", spf_aligned), ("DKIM", signs)) if b)
            verb = "align" if spf_aligned and signs else "aligns"
            report.add(ok(AREA, f"Alignment ({route.name})", f"{how} {verb} with {domain}"))
        else:
            report.add(
                problem(
                    AREA,
                    f"Alignment ({route.name})",
                    f"Mail sent through {route.name} passes neither SPF nor DKIM for {domain}: "
                    "Gmail, Yahoo and Microsoft refuse or junk it (5.7.26).",
                    "Publish the SPF and DKIM records above.",
                    stops=True,
                )
            )
