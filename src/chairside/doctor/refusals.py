"""Recent refusals of the practice's mail (sender-side: spam, policy, authentication,
reputation), as `inbox` recorded them, by the mailbox provider that refused and the likely
cause. Read-only, and defensive about what it reads: the return path's record of such
refusals is newer than this check, so any table or event it does not recognise is skipped.

What it reads, in `.chairside/returnpath.db`:
* a table `refusals` with a receiver's domain (`receiver`, `domain` or `rhost`), a reason or
  status code (`reason`, `cause`, `code`, `status`, `detail`), optionally `count` and `at`;
* rows of `events` whose kind names a refusal (`refusal`, `refused`, `sender`, `blocked`),
  counted by the domain of their address.
"""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from chairside.doctor.results import Report, ok, problem, warning

AREA = "Recent refusals"
DAYS = 60
_KINDS = ("refusal", "refused", "sender", "sender-refusal", "blocked", "policy")
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


def _columns(db: sqlite3.Connection, table: str) -> list[str]:
    return [row[1].lower() for row in db.execute(f"PRAGMA table_info({table})")]


def _first(columns: list[str], *names: str) -> str | None:
    return next((n for n in names if n in columns), None)


def read_refusals(state_dir: Path) -> Counter:
    """(receiver domain, cause) → how many, over the last `DAYS` days where dated."""
    path = state_dir / "returnpath.db"
    counts: Counter = Counter()
    if not path.is_file():
        return counts
    since = (datetime.now(UTC) - timedelta(days=DAYS)).isoformat()
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "refusals" in tables:
            columns = _columns(db, "refusals")
            where = _first(columns, "receiver", "domain", "rhost", "provider", "mailbox_provider")
            why = [c for c in ("code", "status", "reason", "cause", "detail") if c in columns]
            count = _first(columns, "count", "refused")
            at = _first(columns, "at", "seen_at", "received_at", "created_at")
            if where and why:
                text = " || ' ' || ".join(f"coalesce({c}, '')" for c in why)
                query = f"SELECT {where}, {text}, {count or 1} FROM refusals"
                rows = db.execute(
                    query + (f" WHERE {at} >= ?" if at else ""), (since,) if at else ()
                )
                for receiver, reason, number in rows:
                    counts[(str(receiver).lower(), cause_of(str(reason)))] += int(number or 1)
        if "events" in tables and {"kind", "email", "detail"} <= set(_columns(db, "events")):
            marks = ",".join("?" * len(_KINDS))
            rows = db.execute(
                f"SELECT email, detail FROM events WHERE kind IN ({marks}) AND at >= ?",
                (*_KINDS, since),
            )
            for email, detail in rows:
                counts[(str(email).rpartition("@")[2].lower(), cause_of(str(detail)))] += 1
    except sqlite3.DatabaseError:  # a record in another shape, or damaged: no finding
        return Counter()
    finally:
        db.close()
    return counts


def check_refusals(state_dir: Path, report: Report) -> None:
    try:
        counts = read_refusals(state_dir)
    except sqlite3.DatabaseError as exc:
        report.add(warning(AREA, "Refusals", f"Could not read what inbox recorded ({exc})."))
        return
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
