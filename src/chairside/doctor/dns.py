"""DNS questions for the doctor: every query with a timeout, every failure a plain answer.

The resolver is the computer's own, or `CHAIRSIDE_NAMESERVER=HOST:PORT` (tests run their own
DNS server on 127.0.0.1). Answers are cached for one doctor run, so SPF's includes and the
DKIM and DMARC checks never ask twice. The first timeout marks the server unreachable, so a
dead DNS server costs one timeout, not one per record: the rest is checked without DNS.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os

import dns.exception
import dns.rcode
import dns.resolver

from chairside.errors import ChairsideError

NAMESERVER_VARIABLE = "CHAIRSIDE_NAMESERVER"
TIMEOUT = 3.0
"""Seconds for one try at one server; a query gives up after twice that."""


class DnsFailure(Exception):
    """The DNS server could not answer this question (SERVFAIL, refused, malformed)."""


class DnsUnreachable(Exception):
    """No DNS server answered in time: nothing more is asked (not a DnsFailure, so the
    checks that note a failing name let it through to the one place that says so)."""


def _nameserver() -> tuple[str, int] | None:
    value = os.environ.get(NAMESERVER_VARIABLE, "").strip()
    if not value:
        return None
    host, colon, port = value.rpartition(":")
    if not colon or "]" in port:  # no port given (or a bare IPv6 address): port 53
        host, port = value, "53"
    host = host.strip("[]")
    try:
        ipaddress.ip_address(host)
        good = port.isdigit() and 0 < int(port) < 65536
    except ValueError:
        good = False
    if not good:
        raise ChairsideError(
            f"{NAMESERVER_VARIABLE}={value!r}: write the DNS server's address as HOST:PORT, "
            "like 127.0.0.1:5353."
        )
    return host, int(port)


class Dns:
    """One doctor run's DNS: `txt`, `mx`, `addresses`, each cached.

    A name that does not exist, or has no record of the type, is an empty list; a server
    that fails is `DnsFailure`; no server at all (or none in time) is `DnsUnreachable`.
    """

    def __init__(self, *, timeout: float = TIMEOUT) -> None:
        self.where = "this computer's DNS server"
        try:
            given = _nameserver()
            if given:
                self.resolver = dns.resolver.Resolver(configure=False)
                self.resolver.nameservers = [given[0]]
                self.resolver.port = given[1]
                self.where = f"the DNS server {given[0]}:{given[1]}"
            else:
                self.resolver = dns.resolver.Resolver()
            self.unreachable = ""
        except dns.resolver.NoResolverConfiguration:
            self.resolver = dns.resolver.Resolver(configure=False)
            self.unreachable = "this computer has no DNS server set up"
        self.resolver.timeout = timeout
        self.resolver.lifetime = timeout * 2
        self.resolver.cache = None
        self.queries = 0
        self._answers: dict[tuple[str, str], list] = {}

    def _ask(self, name: str, kind: str) -> list:
        key = (name.lower().rstrip("."), kind)
        if key in self._answers:
            return self._answers[key]
        if self.unreachable:
            raise DnsUnreachable(self.unreachable)
        self.queries += 1
        try:
            answer = self.resolver.resolve(key[0] + ".", kind, raise_on_no_answer=False)
            records = list(answer.rrset or ())
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            records = []
        except dns.exception.Timeout:
            self.unreachable = f"{self.where} did not answer in time"
            raise DnsUnreachable(self.unreachable) from None
        except dns.resolver.NoNameservers as exc:
            raise DnsFailure(
                f"{self.where} could not answer for {key[0]} ({_rcode(exc)})"
            ) from None
        except (dns.exception.DNSException, OSError, ValueError) as exc:
            raise DnsFailure(f"{self.where} could not answer for {key[0]} ({exc})") from None
        self._answers[key] = records
        return records

    def txt(self, name: str) -> list[str]:
        """The TXT records at `name`, each record's strings joined (as SPF and DKIM read them)."""
        return [
            b"".join(record.strings).decode("utf-8", "replace") for record in self._ask(name, "TXT")
        ]

    def mx(self, name: str) -> list[tuple[int, str]]:
        """(preference, host) of each MX record at `name`, lowest preference first."""
        records = self._ask(name, "MX")
        return sorted((r.preference, r.exchange.to_text().rstrip(".").lower()) for r in records)

    def addresses(self, name: str) -> list[str]:
        """The IPv4 and IPv6 addresses of `name`."""
        found = [r.address for r in self._ask(name, "A")]
        with contextlib.suppress(DnsFailure):  # some fail AAAA alone; the A records count
            found += [r.address for r in self._ask(name, "AAAA")]
        return found


def _rcode(exc: dns.resolver.NoNameservers) -> str:
    errors = exc.kwargs.get("errors") or []
    for error in errors:
        answer = error[-1] if error else None
        if hasattr(answer, "rcode"):
            return dns.rcode.to_text(answer.rcode())
    return "no usable answer"
