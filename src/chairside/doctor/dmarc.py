"""DMARC at `_dmarc`: there, one, well-formed, and its policy; a malformed record gets a
corrected one to publish (RFC 7489: `v=DMARC1` first, tags separated by semicolons)."""

from __future__ import annotations

from chairside.doctor.dkimkeys import tags
from chairside.doctor.dns import Dns, DnsFailure
from chairside.doctor.results import Record, Report, ok, problem

AREA = "Domain"
POLICIES = ("none", "quarantine", "reject")


def org_domain(domain: str) -> str:
    """The registered domain, near enough without the public suffix list."""
    labels = domain.split(".")
    keep = 3 if len(labels) > 2 and len(labels[-1]) == 2 and labels[-2] in ("co", "com") else 2
    return ".".join(labels[-keep:])


def _host(name: str, domain: str) -> str:
    """`name` as DNS pages ask for it under `domain`: "@" for the domain itself."""
    name = name.rstrip(".")
    return "@" if name == domain else name.removesuffix("." + domain)


def check_dmarc(dns: Dns, report: Report, domain: str) -> dict[str, str] | None:
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
