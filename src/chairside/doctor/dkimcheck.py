"""DKIM at the From domain: each route's published key, and Chairside's own key checked
against the one it signs with (and a signed test message verified)."""

from __future__ import annotations

from dataclasses import dataclass

from chairside.doctor.dkimkeys import Published, published, same_key, verifies
from chairside.doctor.dns import Dns, DnsFailure
from chairside.doctor.results import Record, Report, ok, problem, warning
from chairside.doctor.routes import MICROSOFT, Route
from chairside.workspace import Practice

AREA = "Domain"


@dataclass
class Own:
    """Chairside's own signing ([dkim]): is its key published, matching, verifying?"""

    domain: str
    good: bool


def own_dkim(practice: Practice, dns: Dns, report: Report) -> Own | None:
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


def route_dkim(
    dns: Dns, report: Report, domain: str, routes: list[Route], own: Own | None
) -> dict[str, bool | None]:
    """Route name → a usable DKIM key of `domain` is published for it (None: its selectors
    cannot be known, as Amazon SES's). Chairside's own signing is counted by the caller."""
    signs: dict[str, bool | None] = {}
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
                        "Have Chairside sign: `chairside dkim new SELECTOR`, then publish the "
                        "record it prints.",
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
            signs[route.name] = None if route.spf_include else False
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
        signs[route.name] = bool(usable)
        for record in broken:
            report.add(
                problem(
                    AREA,
                    f"DKIM ({route.name})",
                    f"The DKIM record {record.name} is unusable: {record.problem}.",
                    f"Copy the record again from {route.dkim_where}.",
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
                )
            )
    return signs
