"""SPF (RFC 7208) as the doctor needs it: the record, its DNS lookups, what it authorises.

`walk` follows `include:` and `redirect=` through DNS and counts what a receiver counts
against the limit of 10 lookups (include, a, mx, ptr, exists, redirect), noticing a loop
(an include that leads back to itself) instead of following it forever. What it collects —
the includes reached and the addresses the `a`, `mx`, `ip4` and `ip6` terms name — says
whether a route is authorised. Macros (`%{i}`) are counted, never expanded.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from chairside.doctor.dns import Dns, DnsFailure

LOOKUP_LIMIT = 10
_COUNTED = ("include", "a", "mx", "ptr", "exists")
_STOP_AT = 40
"""A walk stops asking after this many lookups: well past the limit, and the answer is known."""


def spf_records(texts: list[str]) -> list[str]:
    """The SPF records among a name's TXT records ("v=spf1" and a space, or alone)."""
    return [t.strip() for t in texts if t.strip().lower().split(" ")[0] == "v=spf1"]


@dataclass
class Walk:
    """What one domain's SPF record leads to."""

    domain: str
    record: str | None = None
    """The domain's own record (None when it has none, or more than one)."""
    count: int = 0
    """Its SPF records: 0, 1, or more (more is an error receivers treat as no SPF)."""
    lookups: int = 0
    includes: set[str] = field(default_factory=set)
    """Every domain reached by an authorising include: or redirect=."""
    networks: list = field(default_factory=list)
    """What the authorising ip4/ip6/a/mx terms name (ipaddress networks)."""
    loops: list[str] = field(default_factory=list)
    """Each loop found, as "a.com → b.com → a.com"."""
    errors: list[str] = field(default_factory=list)
    """What a receiver would stop at: an include without SPF, a term it cannot read."""
    failures: list[str] = field(default_factory=list)
    """DNS questions that could not be answered (SERVFAIL): the count may be short."""
    all: str = ""
    """The record's own `all` term with its qualifier ("-all", "~all"), or ""."""
    trusted: frozenset[str] = frozenset()

    def authorises(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip.version == net.version and ip in net for net in self.networks)


def walk(dns: Dns, domain: str, *, trusted: frozenset[str] = frozenset()) -> Walk:
    """Read `domain`'s SPF and follow it. DnsUnreachable passes through; a DnsFailure on the
    domain itself too (the caller says so); deeper ones are recorded in `failures`.
    An include of a `trusted` domain (a mail provider's) counts one lookup and is not
    followed when it has no record: its contents are the provider's business."""
    result = Walk(domain.lower(), trusted=trusted)
    records = spf_records(dns.txt(domain))
    result.count = len(records)
    if len(records) != 1:
        return result
    result.record = records[0]
    _follow(dns, result, domain.lower(), records[0], (domain.lower(),), top=True)
    return result


def _follow(dns: Dns, result: Walk, domain: str, record: str, path: tuple, *, top: bool) -> None:
    terms = record.split()[1:]
    has_all = any(t.lower().lstrip("+-~?") == "all" for t in terms)
    for term in terms:
        if result.lookups > _STOP_AT:
            return
        lowered = term.lower()
        if lowered.startswith("redirect="):
            if has_all:  # RFC 7208 6.1: redirect is ignored when the record has "all"
                continue
            result.lookups += 1
            _include(dns, result, term.split("=", 1)[1], path, passes=True)
            continue
        if "=" in lowered.split(":")[0]:  # another modifier (exp=): not a lookup at match time
            continue
        qualifier = lowered[0] if lowered[0] in "+-~?" else "+"
        mechanism = lowered.lstrip("+-~?")
        name, _, argument = mechanism.partition(":")
        name, slash, cidr = name.partition("/")
        if name == "all":
            if top:
                result.all = qualifier + "all"
            continue
        if name in ("ip4", "ip6"):
            if qualifier == "+":
                try:
                    result.networks.append(ipaddress.ip_network(argument, strict=False))
                except ValueError:
                    result.errors.append(f"{domain}: {term!r} is not an address")
            continue
        if name not in _COUNTED:
            result.errors.append(f"{domain}: {term!r} is not an SPF term")
            continue
        result.lookups += 1
        if name == "include":
            _include(dns, result, argument, path, passes=qualifier == "+")
        elif name in ("a", "mx") and qualifier == "+" and "%" not in argument:
            target, _, length = (argument or domain).partition("/")
            _addresses(dns, result, name, target or domain, length or (cidr if slash else ""))


def _include(dns: Dns, result: Walk, target: str, path: tuple, *, passes: bool) -> None:
    target = target.lower().rstrip(".")
    if not target or "%" in target:
        return
    if target in path:
        result.loops.append(" → ".join((*path[path.index(target) :], target)))
        return
    if passes:
        result.includes.add(target)
    try:
        records = spf_records(dns.txt(target))
    except DnsFailure as exc:
        result.failures.append(str(exc))
        return
    if not records and target in result.trusted:
        return
    if len(records) != 1:
        result.errors.append(
            f"include:{target} has {'no SPF record' if not records else 'two SPF records'}"
        )
        return
    before = len(result.networks)
    _follow(dns, result, target, records[0], (*path, target), top=False)
    if not passes:  # a -include: or ~include: authorises nothing
        del result.networks[before:]


def _addresses(dns: Dns, result: Walk, kind: str, target: str, length: str) -> None:
    try:
        hosts = [host for _, host in dns.mx(target)][:10] if kind == "mx" else [target]
        for host in hosts:
            for address in dns.addresses(host):
                bits = length if length.isdigit() and ":" not in address else ""
                suffix = f"/{bits}" if bits else ""
                result.networks.append(ipaddress.ip_network(address + suffix, strict=False))
    except (DnsFailure, ValueError) as exc:
        result.failures.append(str(exc))


def with_terms(record: str | None, additions: list[str]) -> str:
    """`record` with each of `additions` put in before its `all` (a new record when None)."""
    if not record:
        return " ".join(["v=spf1", *additions, "~all"])
    terms = record.split()
    missing = [a for a in additions if a.lower() not in (t.lower() for t in terms)]
    ending = [t for t in terms[1:] if t.lower().lstrip("+-~?") == "all" or "=" in t]
    middle = [t for t in terms[1:] if t not in ending]
    return " ".join(["v=spf1", *middle, *missing, *(ending or ["~all"])])


def merged(records: list[str]) -> str:
    """One record holding every term of `records` (for a domain that published two)."""
    terms: list[str] = []
    for record in records:
        for term in record.split()[1:]:
            if term.lower() not in (t.lower() for t in terms):
                terms.append(term)
    alls = [t for t in terms if t.lower().lstrip("+-~?") == "all"]
    rest = [t for t in terms if t not in alls]
    lowered = [a.lower() for a in alls]
    strict = next((f"{q}all" for q in "-~?" if f"{q}all" in lowered), "~all")  # never +all
    return " ".join(["v=spf1", *rest, strict])
