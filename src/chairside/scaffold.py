"""`chairside init`: a new practice folder with the same layout as the demo practice."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from importlib.resources import as_file, files
from pathlib import Path
from urllib.parse import urlsplit

import click
from email_validator import EmailNotValidError, validate_email

from chairside import clock
from chairside.errors import WorkspaceError
from chairside.newcampaign import create_campaign
from chairside.tomlwrite import toml_str
from chairside.workspace import PRACTICE_FILE, TODO, Workspace

# (option, practice.toml key, question, placeholder written without a terminal)
QUESTIONS = (
    ("name", "name", "Practice name", f"{TODO}: your practice's name"),
    ("address", "address", "Postal address (street, city)", f"{TODO}: street, city, postcode"),
    ("phone", "phone", "Phone number", f"{TODO}: phone number"),
    ("from_email", "from", "Newsletter sender address", f"{TODO}@example.com"),
    ("website", "website", "Website (https://...)", f"{TODO}: https://your-practice.example"),
)
FILES = {
    "audiences/segments.toml": "segments.toml",
    "audiences/patients.csv": "patients.csv",
    "audiences/suppressed.csv": "suppressed.csv",
    "templates/README.md": "templates-README.md",
    ".gitignore": "gitignore",
}


@dataclass(frozen=True)
class Scaffolded:
    root: Path
    campaign: str
    todo: tuple[str, ...]


def _email(value: str) -> str:
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise click.BadParameter(str(exc)) from None


def _website(value: str) -> str:
    if "://" not in value:
        value = "https://" + value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or "." not in parts.netloc:
        raise click.BadParameter(f"{value!r} is not a web address like https://example.com")
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise click.BadParameter("please type a value")
    return value.strip()


CHECKS: dict[str, Callable[[str], str]] = {"from_email": _email, "website": _website}


def collect(
    answers: dict[str, str | None], *, interactive: bool
) -> tuple[dict[str, str], list[str]]:
    """Settings from the options; ask for the rest in a terminal, else write placeholders."""
    settings: dict[str, str] = {}
    todo = []
    for option, key, question, placeholder in QUESTIONS:
        check = CHECKS.get(option, _not_blank)
        value = answers.get(option)
        if value is not None:
            try:
                settings[key] = check(value)
            except click.BadParameter as exc:
                exc.param_hint = f"--{option.replace('from_', '')}"
                raise
        elif interactive:
            settings[key] = click.prompt(question, value_proc=check)
        else:
            settings[key] = placeholder
            todo.append(key)
    return settings, todo


def next_month(today: date) -> str:
    year, month = (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
    return f"{year}-{month:02d}"


def practice_toml(settings: dict[str, str]) -> str:
    email = settings["from"]
    domain = email.rsplit("@", 1)[-1]
    return f"""\
# Who sends the newsletter. Every email shows the name, postal address and phone.
name = {toml_str(settings["name"])}
address = {toml_str(settings["address"])}
phone = {toml_str(settings["phone"])}
website = {toml_str(settings["website"])}
# Where the "Book a visit" button goes (defaults to the website).
# booking_url = "https://.../book"
# Used in "Hi ...," when a patient has no first name on file.
greeting_fallback = "there"

[email]
from = {toml_str(email)}
from_name = {toml_str(settings["name"])}
# reply_to = "frontdesk@{domain}"
# Your website's unsubscribe page, with {{token}} where Chairside puts a per-patient code.
# Without it, patients unsubscribe by email (to unsubscribe_email, or reply_to).
# unsubscribe_url = "https://{domain}/unsubscribe?token={{token}}"
# unsubscribe_email = "unsubscribe@{domain}"

[brand]
color = "#0B5D6B"
# A logo on an https:// address, about 360 px wide; empty shows the practice name instead.
logo = ""
logo_alt = {toml_str(settings["name"])}

# The mail server `chairside send` sends through (your mail provider names it: "outgoing"
# or "SMTP" server). Remove the "# " in front of [smtp] and the four lines under it and
# fill them in, or fill in Settings > Mail server in `chairside studio`. The password is
# never kept in this file: `chairside secrets set smtp` keeps it in this computer's keychain.
# The security choices: "starttls" is encrypted after the greeting (usually port 587),
# "ssl" encrypted from the start (usually 465), "none" not encrypted (a test server on
# this computer only).
# [smtp]
# host = "smtp.{domain}"
# port = 587
# security = "starttls"
# user = {toml_str(email)}

# The mailbox where unsubscribe requests and bounced mail arrive, read by `chairside
# inbox` over IMAP, encrypted (or fill in Settings > Mailbox in the studio). Remove the
# "# " in front of [imap] and the lines under it; the password: `chairside secrets set imap`.
# [imap]
# host = "imap.{domain}"
# user = {toml_str(email)}
# folder = "INBOX"
"""


def scaffold(
    directory: Path, answers: dict[str, str | None], *, interactive: bool, today: date | None = None
) -> Scaffolded:
    """Create the practice folder; refuse if any file it would write already exists."""
    root = directory.expanduser()
    existing = [p for p in (PRACTICE_FILE, *FILES) if (root / p).exists()]
    if not existing and root.is_dir() and any(root.iterdir()):
        raise WorkspaceError(
            f"{root} already holds other files. Create the practice in a new or empty folder, "
            f"for example {root / 'newsletter'}."
        )
    if existing:
        raise WorkspaceError(
            f"{root} already holds a practice ({', '.join(existing)}). Chairside never "
            "overwrites one: choose an empty folder, or work in that one."
        )
    settings, todo = collect(answers, interactive=interactive)
    data = files("chairside") / "scaffold"
    for target, source in FILES.items():
        path = root / target
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(data.joinpath(source).read_text(encoding="utf-8"), encoding="utf-8")
    (root / PRACTICE_FILE).write_text(practice_toml(settings), encoding="utf-8")
    campaign = next_month(today or clock.now().date())
    with as_file(data.joinpath("welcome.md")) as welcome:
        create_campaign(Workspace(root.resolve()), campaign, posts=(welcome,))
    return Scaffolded(root, campaign, tuple(todo))
