"""The practice's workspace: finding it, and reading `practice.toml`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email

from chairside.errors import WorkspaceError
from chairside.headers import header_problem
from chairside.tomlfile import Problems, get_str, line_of, load_toml, unknown_keys
from chairside.urls import WEB_SCHEMES, safe_url

PRACTICE_FILE = "practice.toml"
# `chairside init` without a terminal writes this in front of every value it had to guess.
TODO = "TODO"


PATIENT_FILES = ("patients.csv", "patients.xlsx", "patients.xls", "patients.ods")
"""The names the patient list may have in audiences/, in the order they are looked for."""


@dataclass(frozen=True)
class Workspace:
    """A folder holding `practice.toml`, and the places Chairside reads and writes in it."""

    root: Path

    @property
    def practice_file(self) -> Path:
        return self.root / PRACTICE_FILE

    @property
    def campaigns_dir(self) -> Path:
        return self.root / "campaigns"

    @property
    def templates_dir(self) -> Path:
        return self.root / "templates"

    @property
    def audiences_dir(self) -> Path:
        return self.root / "audiences"

    @property
    def segments_file(self) -> Path:
        return self.audiences_dir / "segments.toml"

    @property
    def patients_file(self) -> Path:
        """audiences/patients.csv, or the spreadsheet the list was saved as (patients.xlsx,
        .xls, .ods): the first that exists, in that order; patients.csv when none does."""
        for name in PATIENT_FILES:
            if (self.audiences_dir / name).is_file():
                return self.audiences_dir / name
        return self.audiences_dir / PATIENT_FILES[0]

    @property
    def suppressed_file(self) -> Path:
        return self.audiences_dir / "suppressed.csv"

    @property
    def build_dir(self) -> Path:
        return self.root / "build"

    def campaign_dir(self, name: str) -> Path:
        return self.campaigns_dir / name

    def relative(self, path: Path) -> str:
        """`path` as the user sees it from the workspace root, for messages."""
        try:
            return str(path.resolve().relative_to(self.root.resolve()))
        except ValueError:
            return str(path)


def find_workspace(start: Path) -> Workspace:
    """The nearest folder at or above `start` that holds `practice.toml` (like git does)."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / PRACTICE_FILE).is_file():
            return Workspace(folder)
    raise WorkspaceError(
        f"No {PRACTICE_FILE} found in {start} or any folder above it. "
        "Run Chairside inside your practice's folder (or pass -C FOLDER), "
        "or create a new practice with `chairside init FOLDER`."
    )


SECURITY = ("starttls", "ssl", "none")
THEMES = ("clear", "letter", "bold")
"""The built-in looks `[brand] theme` chooses from (drawn by `chairside.render.looks`)."""
# Every setting practice.toml may hold, by section ("" = the top of the file).
PRACTICE_KEYS = {
    "": (
        "name",
        "address",
        "phone",
        "website",
        "booking_url",
        "greeting_fallback",
        "email",
        "brand",
        "smtp",
        "providers",
        "imap",  # read by chairside.returnpath.inbox
        "feed",  # read by chairside.autopilot.draft
        "schedule",  # read by chairside.autopilot.due
        "dkim",
    ),
    "email": (
        "from",
        "from_name",
        "reply_to",
        "unsubscribe_url",
        "unsubscribe_email",
        "bounce_address",
    ),
    "brand": ("color", "text_color", "logo", "logo_alt", "theme"),
    "smtp": ("host", "port", "user", "security", "ca_file"),
    "feed": ("url",),
    "schedule": ("timezone",),
    "dkim": ("selector", "domain"),
}


@dataclass(frozen=True)
class SmtpConfig:
    """`[smtp]` in practice.toml: the server `chairside send` delivers through."""

    host: str = ""
    port: int = 0
    """0 means the usual port for `security`: 465 for ssl, 587 for starttls, 25 for none."""
    user: str = ""
    """Empty means the server needs no login."""
    security: str = "starttls"
    ca_file: Path | None = None
    """A certificate authority to trust besides this computer's (a server with the
    practice's own certificates), as a PEM file."""


@dataclass(frozen=True)
class DkimConfig:
    """`[dkim]` in practice.toml: the key Chairside signs with (`chairside dkim new`) is
    published at `<selector>._domainkey.<domain>`; the key itself is in the keychain."""

    selector: str
    domain: str

    @property
    def record_name(self) -> str:
        """Where the key is published; also the keychain account the key is kept under."""
        return f"{self.selector}._domainkey.{self.domain}"


@dataclass(frozen=True)
class Practice:
    """Who sends the newsletter; every email shows the name, postal address and phone."""

    name: str
    address: str
    phone: str
    website: str
    booking_url: str
    from_email: str
    from_name: str
    reply_to: str
    unsubscribe_url: str
    """An https URL template with `{token}`, or "" when unsubscribes go by email only."""
    unsubscribe_email: str
    brand_color: str
    brand_text_color: str
    """Text on the brand colour (header, button); "" = white or dark, whichever reads better."""
    logo_url: str
    logo_alt: str
    greeting_fallback: str
    theme: str = THEMES[0]
    """The built-in look (`[brand] theme`): one of `THEMES`."""
    smtp: SmtpConfig = SmtpConfig()
    providers: dict[str, dict] = field(default_factory=dict)
    """`[providers.NAME]` tables: settings for email providers (baa, audience_id, domain…)."""
    todo: tuple[str, ...] = ()
    """Settings still holding a `TODO` placeholder from `chairside init`."""
    dkim: DkimConfig | None = None
    """Set when Chairside signs what `send` delivers (the relay does not)."""
    bounce_address: str = ""
    """`[email] bounce_address`: each patient's message is sent from a return address of
    its own made from it (`return_path`), so a bounce is tied to its patient for certain."""

    def return_path(self, code: str) -> str:
        """The envelope sender (MAIL FROM) of the message for the patient whose unsubscribe
        code is `code`: `bounces+b-CODE@domain` when there is a bounce address (VERP; what
        `chairside.returnpath.evidence.return_code` reads back), else the From address."""
        if not self.bounce_address:
            return self.from_email
        local, _, domain = self.bounce_address.rpartition("@")
        return f"{local}+b-{code}@{domain}"


# How practice.toml spells the settings whose Python names differ.
SHOWN = {
    "from_email": "[email] from",
    "from_name": "[email] from_name",
    "reply_to": "[email] reply_to",
    "unsubscribe_url": "[email] unsubscribe_url",
    "unsubscribe_email": "[email] unsubscribe_email",
    "bounce_address": "[email] bounce_address",
    "brand_color": "[brand] color",
    "brand_text_color": "[brand] text_color",
    "logo_url": "[brand] logo",
    "logo_alt": "[brand] logo_alt",
    "theme": "[brand] theme",
}
_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}){1,2}$")


def _check_url(value: str, key: str, problems: Problems) -> str:
    """`value` as the URL policy lets it into an email, or a problem recorded."""
    url = safe_url(value, schemes=WEB_SCHEMES)
    if url is None or not urlsplit(url).netloc:
        problems.add(f"{key}: {value!r} is not a web address; write it like https://example.com")
        return value
    return url


def _check_email(value: str, key: str, problems: Problems) -> str:
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        problems.add(f"{key}: {value!r} is not an email address ({exc})")
        return value


def load_practice(workspace: Workspace) -> Practice:
    """Read and check `practice.toml`, reporting every problem at once."""
    data = load_toml(workspace.practice_file, label=PRACTICE_FILE)
    problems = Problems(PRACTICE_FILE)
    email = data.get("email", {})
    brand = data.get("brand", {})
    smtp = data.get("smtp", {})
    for section, table in (("email", email), ("brand", brand), ("smtp", smtp)):
        if not isinstance(table, dict):
            problems.add(f"[{section}] must be a section, written [{section}] on its own line")
    problems.raise_if_any()

    def top(key: str, default: str = "") -> str:
        return get_str(data, key, problems, where="", default=default)

    def sub(table: dict, section: str, key: str, default: str = "") -> str:
        return get_str(table, key, problems, where=f"[{section}] ", default=default)

    name = top("name")
    values = {
        "name": name,
        "address": top("address"),
        "phone": top("phone"),
        "website": top("website"),
        "booking_url": top("booking_url"),
        "from_email": sub(email, "email", "from"),
        "from_name": sub(email, "email", "from_name", name),
        "reply_to": sub(email, "email", "reply_to"),
        "unsubscribe_url": sub(email, "email", "unsubscribe_url"),
        "unsubscribe_email": sub(email, "email", "unsubscribe_email"),
        "brand_color": sub(brand, "brand", "color", "#0B5D6B"),
        "brand_text_color": sub(brand, "brand", "text_color"),
        "logo_url": sub(brand, "brand", "logo"),
        "logo_alt": sub(brand, "brand", "logo_alt", name),
        "greeting_fallback": top("greeting_fallback", "there"),
        "theme": sub(brand, "brand", "theme", THEMES[0]),
    }
    todo = tuple(key for key, value in values.items() if value.startswith(TODO))
    shown_todo = tuple(SHOWN.get(key, key) for key in todo)

    for key in ("name", "from_name", "reply_to", "from_email", "unsubscribe_email"):
        if problem := header_problem(values[key]):
            setting = SHOWN.get(key, key)
            problems.add(
                f"{setting}: {problem} (it goes into email headers)",
                line=line_of(workspace.practice_file, rf"^\s*{setting.split()[-1]}\s*="),
            )
    raw = {
        "name": data.get("name"),
        "address": data.get("address"),
        "from_email": email.get("from"),
    }
    for key, given in raw.items():
        if not values[key] and (given is None or isinstance(given, str)):  # else: wrong type
            problems.add(f"{SHOWN.get(key, key)}: missing; every newsletter must show it")
    if "website" in todo:
        values["website"] = ""  # "TODO: https://…" is no address: no link until it is one
    elif values["website"]:
        values["website"] = _check_url(values["website"], "website", problems)
    if values["booking_url"]:
        values["booking_url"] = _check_url(values["booking_url"], "booking_url", problems)
    else:
        values["booking_url"] = values["website"]
    for key in ("from_email", "reply_to", "unsubscribe_email"):
        if values[key] and key not in todo:
            values[key] = _check_email(values[key], SHOWN[key], problems)
    values["reply_to"] = values["reply_to"] or values["from_email"]
    values["unsubscribe_email"] = values["unsubscribe_email"] or values["reply_to"]
    unsubscribe = values["unsubscribe_url"]
    if unsubscribe and (
        not unsubscribe.startswith("https://")
        or "{token}" not in unsubscribe
        or safe_url(unsubscribe, schemes=WEB_SCHEMES) != unsubscribe
    ):
        problems.add(
            "[email] unsubscribe_url: must be an https:// address containing {token}, "
            'like "https://example.com/unsubscribe?token={token}"'
        )
    if values["brand_text_color"] and not _COLOR.match(values["brand_text_color"]):
        problems.add(
            f'[brand] text_color: {values["brand_text_color"]!r} is not a colour like "#ffffff"'
        )
    if not _COLOR.match(values["brand_color"]):
        problems.add(f'[brand] color: {values["brand_color"]!r} is not a colour like "#0B5D6B"')
    if values["theme"] not in THEMES:
        problems.add(
            f"[brand] theme: {values['theme']!r} is not a built-in look; choose "
            + ", ".join(f'"{name}"' for name in THEMES),
            line=line_of(workspace.practice_file, r"^\s*theme\s*="),
        )
    if values["logo_url"]:
        values["logo_url"] = _check_url(values["logo_url"], "[brand] logo", problems)
    path = workspace.practice_file
    unknown_keys(data, PRACTICE_KEYS[""], problems, where="", path=path)
    for section in ("email", "brand", "smtp", "feed", "schedule", "dkim"):
        if isinstance(data.get(section), dict):
            unknown_keys(
                data[section], PRACTICE_KEYS[section], problems, where=f"[{section}] ", path=path
            )
    _check_zone(data.get("schedule"), problems)
    smtp_config = _smtp(smtp, problems, workspace.root)
    providers = data.get("providers", {})
    if not isinstance(providers, dict) or not all(isinstance(v, dict) for v in providers.values()):
        problems.add("[providers.NAME] must be sections, like [providers.mailchimp]")
        providers = {}
    for name, table in providers.items():
        if not isinstance(table.get("baa", False), bool):
            problems.add(f"[providers.{name}] baa: must be true or false")
    dkim = _dkim(data.get("dkim"), values["from_email"], problems)
    bounce = _bounce_address(email, values["from_email"], problems)
    problems.raise_if_any()
    return Practice(
        **values,
        smtp=smtp_config,
        providers=providers,
        todo=shown_todo,
        dkim=dkim,
        bounce_address=bounce,
    )


def _bounce_address(table: dict, from_email: str, problems: Problems) -> str:
    """`[email] bounce_address`, checked: a plain address of the From address's domain (so
    SPF aligns with From for DMARC) with room for `+b-` and a 26-character code."""
    key = "[email] bounce_address"
    value = get_str(table, "bounce_address", problems, where="[email] ")
    if not value:
        return ""
    value = _check_email(value, key, problems)
    local, _, domain = value.rpartition("@")
    wanted = from_email.rpartition("@")[2].lower()
    if "+" in local:
        problems.add(f"{key}: {value!r} must not contain '+': Chairside adds +b-CODE itself")
    elif len(local) > 35:
        problems.add(f"{key}: the part before @ must be at most 35 characters (a code is added)")
    if domain.lower() != wanted:
        problems.add(
            f"{key}: {value!r} must be an address of {wanted}, the sender's domain, so "
            "receivers' SPF check counts for the practice (DMARC)"
        )
    return value


_DNS_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")


def is_dns_name(name: str) -> bool:
    """Whether `name` is a DNS name of letters, digits, hyphens (a selector, a domain)."""
    return bool(name) and all(_DNS_LABEL.match(label) for label in name.rstrip(".").split("."))


def _dkim(table: object, from_email: str, problems: Problems) -> DkimConfig | None:
    if table is None:
        return None
    if not isinstance(table, dict):
        problems.add("[dkim] must be a section, written [dkim] on its own line")
        return None
    selector = get_str(table, "selector", problems, where="[dkim] ")
    domain = get_str(table, "domain", problems, where="[dkim] ") or from_email.rpartition("@")[2]
    if not is_dns_name(selector):
        problems.add(f'[dkim] selector: {selector!r} is not a DNS name like "chairside1"')
    if not is_dns_name(domain):
        problems.add(f'[dkim] domain: {domain!r} is not a domain like "example.com"')
    return DkimConfig(selector.lower(), domain.lower().rstrip("."))


def _check_zone(table: object, problems: Problems) -> None:
    """`[schedule] timezone`, when given, names a real time zone."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    zone = table.get("timezone") if isinstance(table, dict) else None
    if not zone:
        return
    try:
        ZoneInfo(str(zone))
    except (ZoneInfoNotFoundError, ValueError):
        problems.add(
            f"[schedule] timezone: {zone!r} is not a time zone name; use one like "
            '"America/Chicago" or "Europe/London"'
        )


def ca_file_setting(table: dict, section: str, root: Path, problems: Problems) -> Path | None:
    """`ca_file` under `section` ([smtp], [imap]): the PEM file of the authority that signed
    the mail server's certificate, relative to the practice folder; None when not set."""
    name = get_str(table, "ca_file", problems, where=f"{section} ")
    path = (root / Path(name).expanduser()) if name else None
    if path is not None and not path.is_file():
        problems.add(
            f"{section} ca_file: {name} does not exist. It names the PEM file with the "
            "certificate of the authority that signed your mail server's (relative to the "
            "folder of practice.toml)."
        )
    return path


def _smtp(table: dict, problems: Problems, root: Path) -> SmtpConfig:
    port = table.get("port", 0)
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
        problems.add("[smtp] port: must be a number such as 587")
        port = 0
    security = get_str(table, "security", problems, where="[smtp] ", default="starttls")
    if security not in SECURITY:
        problems.add(f'[smtp] security: must be "starttls", "ssl" or "none", not {security!r}')
    ca_file = ca_file_setting(table, "[smtp]", root, problems)
    return SmtpConfig(
        host=get_str(table, "host", problems, where="[smtp] "),
        port=port,
        user=get_str(table, "user", problems, where="[smtp] "),
        security=security,
        ca_file=ca_file,
    )
