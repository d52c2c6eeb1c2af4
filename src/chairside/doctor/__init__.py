"""`chairside doctor`: will the newsletter arrive? The whole set-up, checked before a send.

    run(workspace) -> Report         read top to bottom: domain, bulk rules, mail server,
                                     mailbox, providers, recent refusals, practice details

Each area adds one `Check` per finding (ok / warning / problem, a problem with its fix).
The result is kept in `.chairside/doctor.json`, so `send` and `check` can warn of a problem
that stops delivery without asking DNS themselves (`blocking_note`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from chairside.doctor.results import OK, PROBLEM, WARNING, Check, Record, Report, ok, problem
from chairside.workspace import Practice, Workspace

__all__ = ["OK", "PROBLEM", "WARNING", "Check", "Record", "Report", "blocking_note", "run"]

CACHE_FILE = "doctor.json"
BULK = 5_000
"""Gmail's and Yahoo's bulk senders: 5,000 messages a day to their users or more."""
BULK_AREA = "Bulk rules"


def run(workspace: Workspace, *, online: bool = False) -> Report:
    """Check everything (no mail sent), keep the result for `send` and `check`, return it."""
    from chairside.doctor.details import check_details
    from chairside.doctor.dns import Dns, DnsUnreachable
    from chairside.doctor.domain import check_domain
    from chairside.doctor.providers import check_providers
    from chairside.doctor.refusals import check_refusals
    from chairside.doctor.servers import check_imap, check_smtp
    from chairside.workspace import load_practice

    practice = load_practice(workspace)
    report = Report()
    dns = Dns()
    try:
        facts = check_domain(practice, dns, report)
    except DnsUnreachable as exc:
        report.add(
            problem(
                "Domain",
                "DNS",
                f"Could not reach DNS ({exc}), so the domain's records (MX, SPF, DKIM, DMARC) "
                "were not checked; everything else was.",
                "Check the internet connection and run the doctor again.",
            )
        )
        facts = None
    _bulk(workspace, practice, facts, report)
    check_smtp(practice, report, dns)
    check_imap(workspace, practice, report)
    check_providers(practice, report)
    check_refusals(_state_dir(workspace), report)
    check_details(practice, report, online=online)
    save(workspace, report)
    return report


def _state_dir(workspace: Workspace):
    from chairside.delivery import state_dir

    return state_dir(workspace)


def _patients(workspace: Workspace) -> int | None:
    from chairside.audience.patients import load_audience
    from chairside.errors import ChairsideError

    try:
        return len(load_audience(workspace).patients)
    except ChairsideError:
        return None


def _bulk(workspace: Workspace, practice: Practice, facts, report: Report) -> None:
    """What Gmail and Yahoo require of senders of 5,000+ messages a day, each met or not."""
    count = _patients(workspace)
    if count is None:
        report.add(
            ok(
                BULK_AREA,
                "Patients",
                "the patient list could not be read; the bulk rules were not checked",
            )
        )
        return
    if count < BULK:
        report.add(
            ok(
                BULK_AREA,
                "Patients",
                f"{count:,} patients: under {BULK:,}, so Gmail's and "
                "Yahoo's rules for bulk senders do not apply yet",
            )
        )
        return
    one_click = practice.unsubscribe_url.startswith("https://")
    if one_click:
        report.add(
            ok(
                BULK_AREA,
                "One-click unsubscribe",
                "every message has a one-click unsubscribe link (List-Unsubscribe-Post)",
            )
        )
    else:
        report.add(
            problem(
                BULK_AREA,
                "One-click unsubscribe",
                f"{count:,} patients: Gmail and Yahoo require a one-click unsubscribe link "
                "(an https address) from senders of 5,000+ messages a day; the practice "
                "unsubscribes by email only.",
                "Set the unsubscribe page of the practice's website (an https address with "
                "{token}) in the practice settings.",
                stops=True,
            )
        )
    if facts is None or not facts.checked:
        report.add(
            problem(
                BULK_AREA, "DMARC and alignment", "Not checked: the domain's DNS could not be read."
            )
        )
        return
    if facts.dmarc:
        report.add(ok(BULK_AREA, "DMARC", f"a DMARC record (p={facts.dmarc})"))
    else:
        report.add(
            problem(
                BULK_AREA,
                "DMARC",
                f"{count:,} patients: Gmail and Yahoo refuse bulk mail from a domain without a "
                "DMARC record.",
                "Publish the DMARC record shown under Domain.",
                Record("TXT", "_dmarc", "v=DMARC1; p=none", facts.domain),
                stops=True,
            )
        )
    for route, aligned in facts.aligned.items():
        both = facts.spf_passes.get(route) and facts.dkim_signs.get(route)
        if aligned and both:
            report.add(ok(BULK_AREA, f"SPF and DKIM ({route})", "both pass, one aligns with From"))
        elif aligned:
            missing = "DKIM" if facts.spf_passes.get(route) else "SPF"
            report.add(
                Check(
                    BULK_AREA,
                    f"SPF and DKIM ({route})",
                    WARNING,
                    f"Gmail asks bulk senders for both SPF and DKIM; {route} has no {missing}.",
                    "Publish the record shown under Domain.",
                )
            )
        else:
            report.add(
                problem(
                    BULK_AREA,
                    f"Alignment ({route})",
                    f"{count:,} patients: mail through "
                    f"{route} is refused by Gmail and Yahoo (no SPF or DKIM aligned with "
                    "From).",
                    "Publish the records shown under Domain.",
                    stops=True,
                )
            )


# The result kept for send and check


def save(workspace: Workspace, report: Report) -> None:
    from chairside.fsutil import write_text_atomic

    data = {"at": datetime.now(UTC).isoformat(timespec="seconds"), **report.to_json()}
    folder = _state_dir(workspace)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_text_atomic(folder / CACHE_FILE, json.dumps(data, indent=1))
    except OSError:  # the result was printed; only the reminder to send is lost
        pass


def last_result(workspace: Workspace) -> dict | None:
    """What the last `doctor` found, or None when it never ran here (or its file is bad)."""
    try:
        data = json.loads((_state_dir(workspace) / CACHE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("checks"), list) else None


def blocking_note(workspace: Workspace) -> str | None:
    """One short sentence when the last doctor run found a problem that stops delivery."""
    data = last_result(workspace)
    if data is None:
        return None
    blocking = [
        c
        for c in data["checks"]
        if isinstance(c, dict) and c.get("status") == PROBLEM and c.get("stops_delivery")
    ]
    if not blocking:
        return None
    first = blocking[0]
    more = f" (and {len(blocking) - 1} more)" if len(blocking) > 1 else ""
    return (
        f"The doctor found a problem that will stop delivery: {first.get('name')}{more}. "
        "See `chairside doctor` for the fix."
    )
