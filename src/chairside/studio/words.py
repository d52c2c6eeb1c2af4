"""The studio's words for what the library says in the CLI's.

The library's messages are written for both faces and often end with a command, an option,
a file or a setting's place in a file ("Run `chairside send 2027-02` again", "in
campaign.toml", "[brand] color in practice.toml"). The studio has a button or a page for
each of those, so `plain` rewrites the known phrases into what to do in the studio, then
drops any sentence that still names a command or an option: the page around the message
carries the control. tests/test_studio_words.py crawls every page for what must not show.
"""

from __future__ import annotations

import re

# (pattern, replacement), applied in order; the more specific first.
_REWRITES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p, re.I), r)
    for p, r in [
        (
            r"pass --[a-z-]+, or set \w+ under \[providers\.(\w+)\] in practice\.toml, or the "
            r"environment variable [A-Z_]+",
            r"set it with the \1 settings in Settings",
        ),
        (
            r"Check --domain, \[providers\.mailgun\] domain or MAILGUN_DOMAIN",
            "Check the Mailgun domain in Settings",
        ),
        (r"Set address in", "Set the address in"),
        (r'Add preheader = "\.\.\." to campaign\.toml\.?', "Write one in the Preview text box."),
        (
            r"set unsubscribe_email or reply_to under \[email\] in practice\.toml",
            "set an unsubscribe or reply-to address in Settings",
        ),
        (
            r", and keep \{\{ practice\.address \}\} in your templates/ footer",
            " (a footer template of your own must keep it)",
        ),
        (
            r"campaigns made before practice\.toml was filled in keep the placeholder",
            "a campaign made before the practice's details were filled in keeps the placeholder",
        ),
        (
            r"add this line under \[patients\.columns\] in audiences/segments\.toml:\s*(\w+) = "
            r"\"([^\"]*)\"",
            r'choose "\2" for it under "Which column is which" below',
        ),
        (
            r"or say which it is in audiences/segments\.toml:\s*\[patients\.columns\]\s*email = "
            r"\"Your Column Name\"",
            "or choose it below",
        ),
        (
            r"name the right one under \[patients\.columns\] in audiences/segments\.toml",
            'choose the right one under "Which column is which" below',
        ),
        (
            r"set require_consent = false under \[patients\] there instead",
            "ask whoever set up Chairside to stop asking for consent",
        ),
        (
            r"(\S+: )?\[patients\.columns\] (\w+) = ('[^']*'|\"[^\"]*\"), but (.+?) has no such "
            r"column",
            r"\4 has no such column as \3 (chosen for \2)",
        ),
        (r"Run `chairside send [^`]+` again to continue\.?", "Press Resume sending to continue."),
        (r"Run `chairside send [^`]+` again", "Press Resume sending"),
        (
            r"already being delivered by `chairside [^`]+` \(process \d+\)",
            "already being sent from another window",
        ),
        (
            r"already being delivered by another chairside command",
            "already being sent from another window",
        ),
        (r"run the same command again", "try again from this page"),
        (
            r"\(user under \[smtp\], CHAIRSIDE_SMTP_PASSWORD\)",
            "(the mail server's user and password, in Settings)",
        ),
        (r"with --starttls", "with STARTTLS security, in Settings"),
        (r"`chairside dkim new[^`]*`", "the “Make a signing key” button on the Delivery page"),
        (r"See `chairside doctor` for the fix", "See the Delivery page for the fix"),
        (
            r"practice\.toml has \[dkim\] selector ('[^']*')",
            r"Chairside is set to sign with the key named \1",
        ),
        (
            r"Run `chairside check`, send one with --test,",
            "Look at its checks on the Edit page, send yourself a test,",
        ),
        (r"\b(\w+) under \[\w+\] in practice\.toml", r"the \1 setting in Settings"),
        (r"\[smtp\] (\w+) in practice\.toml", r"the mail server's \1 in Settings"),
        (r" \(chairside status\)", ""),
        (r"with `chairside rebuild-ledger [^`]+`", "with the Rebuild button on the Send page"),
        (r"`chairside rebuild-ledger [^`]+`", "the Rebuild button on the Send page"),
        (r" ?Run `chairside status [^`]+` to check\.?", ""),
        (r"(check|see) it with `chairside status [^`]+`", r"\1 its progress on its Send page"),
        (r"`chairside status [^`]+`", "its Send page"),
        (
            r"Save it in this computer's keychain with `chairside secrets set \w+` \(or in the "
            r"studio's Settings\), or set the environment variable [A-Z_]+",
            "Add it in Settings",
        ),
        (
            r"so set the environment variable [A-Z_]+ \(passwords are never kept in files\)",
            "so it can only be given to Chairside by whoever set up this computer",
        ),
        (r"(, )?or set the environment variable [A-Z_]+", ""),
        (r"the environment variable [A-Z_]+", "Settings"),
        (r"\bCHAIRSIDE_[A-Z_]+|\b[A-Z]+_API_KEY\b", "Settings"),
        (r" \(or its \[segments\.\*\] part\)", ""),
        (r" under \[segments\.\w+\]", ""),
        (r"(in|to|from) (campaigns/[\w.-]+/)?campaign\.toml( \[segments\.\w+\])?", "here"),
        (r"(campaigns/[\w.-]+/)?campaign\.toml \[\[posts\]\]", "the post list"),
        (r"(campaigns/[\w.-]+/)?campaign\.toml( \[segments\.(\w+)\])?", "the Edit page"),
        (r"(choose|set) (a darker )?\[brand\] (\w+)", r"\1 \2brand \3"),
        (r"(under )?\[\w+\] in practice\.toml", "in Settings"),
        (r"in practice\.toml", "in Settings"),
        (r"practice\.toml( \[\w+\])?", "Settings"),
        (
            r"audiences/segments\.toml( \[patients\.columns\])?",
            "the column choice on the Patients page",
        ),
        (r"audiences/suppressed\.csv", "the unsubscribe list"),
        (r"audiences/patients\.(csv|xlsx|xls|ods)", "the patient list"),
        (r"(\S*/)?\.chairside/[\w./-]+", "Chairside's records"),
    ]
]
_COMMAND = re.compile(r"`chairside [^`]*`|(?<![\w-])--[a-z][a-z-]+|\[[a-z_]+(\.[a-z_*]+)*\]")
_SENTENCE = re.compile(r"(?<=[.!?:;])\s+(?=[A-Z`(])")


_ISO_DAY = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")


def plain(text: str | None) -> str:
    """`text` in the studio's words: no command, option, file name or TOML path, and days
    as people write them."""
    if not text:
        return ""
    for pattern, replacement in _REWRITES:
        text = pattern.sub(replacement, text)
    text = _ISO_DAY.sub(lambda m: day(m.group(0)), text)
    kept = []
    for line in text.split("\n"):
        sentences = [s for s in _SENTENCE.split(line) if not _COMMAND.search(s)]
        if sentences or not line.strip():
            kept.append(" ".join(sentences))
    return "\n".join(kept).strip()


def send_summary(report) -> list[str]:
    """What a send over the mail server did, in the studio's words (sendsummary's numbers)."""
    lines = [f"{report.sent} sent now, {report.already_sent} had it before."]
    if report.totals is not None:
        t = report.totals
        lines.append(
            f"{t.failed} failed, {t.deferred} to try again, {t.unknown} not known to have "
            f"arrived, {t.pending} not sent yet."
        )
    if report.suppressed_midway:
        lines.append(f"{report.suppressed_midway} unsubscribed while it was sending: skipped.")
    if report.stopped:
        lines.append("Stopped. Press Resume sending to continue where it stopped.")
    return lines


def send_incomplete(report) -> str | None:
    """Why not everyone has the campaign after a run that went to its end, with what to do
    on the Send page; None when everyone has it (or it was stopped or halted)."""
    totals = report.totals
    if report.halted or report.stopped or totals is None or totals.complete:
        return None
    todo = ["press Resume sending for those to try again and those not sent yet"]
    if totals.unknown:
        todo.append(
            'tick "Also send again" for those whose message may or may not have arrived, '
            "once you accept they may get it twice"
        )
    if totals.failed:
        todo.append("those marked failed get it again only after their bounce is undone "
                    "under Unsubscribes")  # fmt: skip
    return (
        f"Not everyone has it yet: {totals.failed} failed, {totals.deferred} to try again, "
        f"{totals.unknown} not known to have arrived, {totals.pending} not sent yet. "
        + "; ".join(todo).capitalize()
        + "."
    )


def day(value) -> str:
    """A date as people write it: 5 January 2027 (a date, a datetime or an ISO string)."""
    from datetime import date, datetime

    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime | date):
        return f"{value.day} {value:%B %Y}"
    return str(value)
