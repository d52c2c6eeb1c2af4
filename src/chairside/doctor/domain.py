"""The From domain's DNS: MX, SPF, DKIM, DMARC, and whether SPF or DKIM aligns with From.

Since 2024 Gmail and Yahoo (and Microsoft since 2025) refuse or junk mail whose From domain
neither SPF nor DKIM vouches for; bulk senders also need DMARC. Each check says what it
found, and a problem carries the DNS record that fixes it, as a DNS host's page asks for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chairside.doctor import spf
from chairside.doctor.dkimkeys import Published, published, same_key, tags, verifies
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
POLICIES = ("none", "quarantine", "reject")


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


def org_domain(domain: str) -> str:
    """The registered domain, near enough without the public suffix list."""
    labels = domain.split(".")
    keep = 3 if len(labels) > 2 and len(labels[-1]) == 2 and labels[-2] in ("co", "com") else 2
    return ".".join(labels[-keep:])


def _host(name: str, domain: str) -> str:
    """`name` as DNS pages ask for it under `domain`: "@" for the domain itself."""
    name = name.rstrip(".")
    return "@" if name == domain else name.removesuffix("." + domain)


def check_domain(practice: Practice, dns: Dns, report: Report) -> Facts:
    """Add the Domain checks to `report`. DnsUnreachable passes through (nothing was
    concluded from the DNS server that went silent; the caller says so)."""
    domain = practice.from_email.rpartition("@")[2].lower()
    facts = Facts(domain)
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
    own = _own_dkim(practice, dns, report)
    keys = _dkim(dns, report, domain, routes, own)
    dmarc = _dmarc(dns, report, domain)
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
                stops=True,
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
                stops=not needed or bool(missing),
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
                stops=True,
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
                stops=True,
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
                stops=True,
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
                stops=route.envelope_is_from,
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
        addresses = dns.addresses(route.relay_host) if route.relay_host else []
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


# DKIM


@dataclass
class Own:
    """Chairside's own signing ([dkim]): is its key published, matching, verifying?"""

    domain: str
    good: bool


def _own_dkim(practice: Practice, dns: Dns, report: Report) -> Own | None:
    config = practice.dkim
    if config is None:
        return None
    from chairside import dkim
    from chairside.errors import ChairsideError

    name = "DKIM (Chairside's key)"
    record_name = f"{config.selector}._domainkey"
    try:
        key = dkim.stored_key(config)
    except ChairsideError as exc:
        report.add(problem(AREA, name, str(exc), stops=True))
        return Own(config.domain, False)
    if key is None:
        report.add(
            problem(
                AREA,
                name,
                f"practice.toml has [dkim] selector {config.selector!r}, but the signing key is "
                "not on this computer, so send stops before sending.",
                f"Make a new key with `chairside dkim new {config.selector}` and publish the "
                "record it prints (or copy the key from the computer that has it).",
                stops=True,
            )
        )
        return Own(config.domain, False)
    wanted = Record("TXT", record_name, dkim.record_value(key), config.domain)
    try:
        found = published(dns, config.selector, config.domain)
    except DnsFailure as exc:
        report.add(problem(AREA, name, f"Could not read {wanted.full_name}: {exc}."))
        return Own(config.domain, False)
    if not found.found:
        report.add(
            problem(
                AREA,
                name,
                f"Chairside signs with selector {config.selector}, but {wanted.full_name} has "
                "no DKIM record, so receivers cannot check the signature.",
                "Add this TXT record (the whole value, on one line; some DNS hosts split it "
                "into quoted pieces themselves):",
                wanted,
                stops=True,
            )
        )
        return Own(config.domain, False)
    if not found.usable or not same_key(found.key, key):
        why = found.problem or "it holds a different key from the one Chairside signs with"
        report.add(
            problem(
                AREA,
                name,
                f"The DKIM record {wanted.full_name} is unusable: {why}. Receivers see every "
                "signature fail.",
                "Replace its value with this one (the whole value, on one line):",
                Record("TXT", record_name, wanted.value, config.domain, "change"),
                stops=True,
            )
        )
        return Own(config.domain, False)
    passed, why = verifies(dns, dkim.Signer(config.domain, config.selector, key).sign(_TEST))
    if not passed:
        report.add(
            problem(
                AREA,
                name,
                f"A test message signed with the key does not verify ({why}).",
                "Make a new key with `chairside dkim new` and publish its record.",
                stops=True,
            )
        )
        return Own(config.domain, False)
    report.add(
        ok(
            AREA,
            name,
            f"{wanted.full_name} matches the key Chairside signs with; a signed "
            "test message verifies",
        )
    )
    return Own(config.domain, True)


_TEST = (
    b"From: Chairside doctor <doctor@example.com>\r\nTo: test@example.com\r\n"
    b"Subject: DKIM test\r\nDate: Sun, 6 Dec 2026 12:00:00 +0000\r\n"
    b"Message-ID: <doctor@example.com>\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n\r\nA test  of the signing key.\r\n"
)


def _dkim(
    dns: Dns, report: Report, domain: str, routes: list[Route], own: Own | None
) -> dict[str, bool]:
    """Route name → a usable DKIM key is published for it at `domain`."""
    signs: dict[str, bool] = {}
    for route in routes:
        if route.local:
            continue
        if not route.selectors:
            if route.spf_include is None and own is None:  # a hosting relay
                report.add(
                    warning(
                        AREA,
                        f"DKIM ({route.name})",
                        f"{route.name} does not sign with a key of {domain} that Chairside "
                        "knows of, so only SPF vouches for the practice's mail.",
                        "Have Chairside sign: `chairside dkim new SELECTOR` (then publish the "
                        "record it prints). Or, if the hosting company signs, name its "
                        "selector in [dkim] selector.",
                    )
                )
            elif route.spf_include is not None:
                report.add(
                    warning(
                        AREA,
                        f"DKIM ({route.name})",
                        f"Chairside cannot tell which DKIM selectors {route.name} uses.",
                        f"Publish its DKIM records from {route.dkim_where}.",
                    )
                )
            signs[route.name] = bool(own and own.good)
            continue
        found: list[Published] = []
        for selector in route.selectors:
            try:
                found.append(published(dns, selector, domain))
            except DnsFailure as exc:
                report.add(
                    problem(
                        AREA,
                        f"DKIM ({route.name})",
                        f"Could not read {selector}._domainkey.{domain}: {exc}.",
                    )
                )
        usable = [p for p in found if p.usable]
        broken = [p for p in found if p.found and not p.usable]
        signs[route.name] = bool(usable) or bool(own and own.good)
        for record in broken:
            report.add(
                problem(
                    AREA,
                    f"DKIM ({route.name})",
                    f"The DKIM record {record.name} is unusable: {record.problem}.",
                    f"Copy the record again from {route.dkim_where}.",
                    stops=not usable,
                )
            )
        if usable:
            names = ", ".join(p.name for p in usable)
            report.add(ok(AREA, f"DKIM ({route.name})", f"key published at {names}"))
        elif not broken:
            selector = route.selectors[0]
            value = "the value " + route.name + " shows"
            if route is MICROSOFT:
                dashed = domain.replace(".", "-")
                value = f"{selector}-{dashed}._domainkey.<your tenant>.onmicrosoft.com"
            report.add(
                problem(
                    AREA,
                    f"DKIM ({route.name})",
                    f"No DKIM key of {domain} for {route.name} (looked for "
                    + ", ".join(f"{s}._domainkey" for s in route.selectors)
                    + f"): {route.name} signs with its own domain, which does not align "
                    "with From.",
                    f"Publish the record(s) from {route.dkim_where}:",
                    Record(route.dkim_type, f"{selector}._domainkey", value, domain),
                    stops=not route.envelope_is_from,
                )
            )
    return signs


# DMARC


def _dmarc(dns: Dns, report: Report, domain: str) -> dict[str, str] | None:
    """The usable DMARC tags (policy in "p"), or None."""
    name = f"_dmarc.{domain}"
    try:
        texts = dns.txt(name)
        if not texts and org_domain(domain) != domain:
            name = f"_dmarc.{org_domain(domain)}"
            texts = dns.txt(name)
    except DnsFailure as exc:
        report.add(problem(AREA, "DMARC", f"Could not read {name}: {exc}."))
        return None
    attempts = [t for t in texts if "dmarc" in t.lower() or t.strip().lower().startswith("p=")]
    host = _host(name, domain) if name.endswith(domain) else "_dmarc"
    zone = domain if name.endswith(domain) else org_domain(domain)
    good = Record("TXT", "_dmarc", "v=DMARC1; p=none", domain)
    if not attempts:
        report.add(
            problem(
                AREA,
                "DMARC",
                f"{domain} has no DMARC record: Gmail, Yahoo and Microsoft require one from "
                "senders of 5,000 messages a day or more, and trust mail without it less.",
                "Add this TXT record (p=none asks receivers to change nothing yet; move to "
                "p=quarantine once reports show only your own servers):",
                good,
            )
        )
        return None
    if len(attempts) > 1:
        report.add(
            problem(
                AREA,
                "DMARC",
                f"{name} has {len(attempts)} DMARC records; receivers then ignore DMARC.",
                "Delete them and publish one:",
                Record("TXT", host, _repaired(attempts[0]), zone, "change"),
                stops=True,
            )
        )
        return None
    record = attempts[0].strip()
    found = tags(record)
    first = record.split(";")[0].replace(" ", "")
    reason = ""
    if first != "v=DMARC1":
        reason = "it must start with v=DMARC1;"
    elif found.get("p", "").lower() not in POLICIES:
        reason = (
            f"its policy p={found['p']} is not none, quarantine or reject"
            if "p" in found
            else "it has no policy (p=none, p=quarantine or p=reject)"
        )
    elif len(record.split(";")) < 2 or " p=" in record.split(";")[0]:
        reason = "its tags must be separated by semicolons"
    if reason:
        report.add(
            problem(
                AREA,
                "DMARC",
                f"The DMARC record at {name} is malformed: {reason}; receivers ignore it. "
                f"It reads: {record}",
                "Replace it with:",
                Record("TXT", host, _repaired(record), zone, "change"),
            )
        )
        return None
    policy = found["p"].lower()
    meaning = {
        "none": "receivers only report, nothing is refused for failing",
        "quarantine": "mail failing it goes to spam",
        "reject": "mail failing it is refused",
    }[policy]
    report.add(ok(AREA, "DMARC", f"{name}: p={policy} ({meaning})"))
    found["p"] = policy
    return found


def _repaired(record: str) -> str:
    """A valid DMARC record keeping what can be kept of `record`."""
    found = tags(record.replace(" p=", "; p=").replace(" rua=", "; rua="))
    policy = found.get("p", "none").lower()
    parts = [f"v=DMARC1; p={policy if policy in POLICIES else 'none'}"]
    for tag in ("sp", "adkim", "aspf", "pct", "rua", "ruf"):
        if found.get(tag):
            parts.append(f"{tag}={found[tag]}")
    return "; ".join(parts)


# Alignment


def _alignment(
    practice: Practice,
    report: Report,
    facts: Facts,
    routes: list[Route],
    walk: spf.Walk | None,
    keys: dict[str, bool],
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
        if own and own.good and route is smtp_route(practice):
            own_aligned = own.domain == domain or (
                not strict_dkim and org_domain(own.domain) == org_domain(domain)
            )
            signs = signs or own_aligned
        facts.spf_passes[route.name] = authorised
        facts.dkim_signs[route.name] = signs
        facts.aligned[route.name] = spf_aligned or signs
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
