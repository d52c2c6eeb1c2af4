"""Recent refusals of the practice's mail (sender-side: spam, policy, authentication,
reputation), as `inbox` recorded them (`returnpath.state.read_refusals`), by the mailbox
provider that refused and the likely cause.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta
from pathlib import Path

from chairside import clock
from chairside.doctor.results import Report, ok, problem

AREA = "Recent refusals"
DAYS = 60
CAUSES = (
    (re.compile(r"5\.7\.2[3]|\bspf\b", re.I), "SPF does not authorise the mail server"),
    (
        re.compile(r"5\.7\.2[5]|reverse dns|ptr", re.I),
        "the mail server's address has no reverse DNS",
    ),
    (
        re.compile(r"5\.7\.26|5\.7\.27|dmarc|dkim|authenticat|unauthenticated", re.I),
        "the mail is not authenticated (SPF or DKIM not aligned with From)",
    ),
    (
        re.compile(r"listed|blocklist|blacklist|spamhaus|reputation|5\.7\.606|5\.7\.511", re.I),
        "the mail server's address is on a blocklist or has a poor reputation",
    ),
    (re.compile(r"spam|5\.7\.1\b|content", re.I), "the message was judged to be spam"),
    (re.compile(r"rate|too many|4\.7\.28|4\.7\.0", re.I), "too much mail at once (rate limit)"),
)


def cause_of(text: str) -> str:
    for pattern, cause in CAUSES:
        if pattern.search(text):
            return cause
    return "a policy of the receiving provider"


def recent_refusals(state_dir: Path) -> Counter:
    """(mailbox provider, likely cause) → how many, over the last `DAYS` days."""
    from chairside.returnpath.state import read_refusals as recorded

    since = clock.now() - timedelta(days=DAYS)
    counts: Counter = Counter()
    for refusal in recorded(state_dir):
        if clock.stored(refusal.at) >= since:
            counts[(refusal.provider, cause_of(f"{refusal.reason} {refusal.detail}"))] += 1
    return counts


def check_refusals(state_dir: Path, report: Report) -> None:
    counts = recent_refusals(state_dir)
    if not counts:
        report.add(
            ok(
                AREA,
                "Refusals",
                f"no refusals of the practice's mail recorded in the last {DAYS} days",
            )
        )
        return
    for (receiver, cause), number in counts.most_common():
        report.add(
            problem(
                AREA,
                f"Refused by {receiver}",
                f"{receiver} refused {number} of the practice's messages in the last {DAYS} "
                f"days; likely cause: {cause}.",
                "Fix the problems above (SPF, DKIM, DMARC); if there are none, ask the mail "
                "provider whether its server's address is blocked.",
            )
        )
