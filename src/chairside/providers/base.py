"""The provider interface (after django-anymail): what every destination must offer.

A provider translates each variant's placeholders into its own merge tags, writes a bundle
a person can upload, and pushes batches through its API. What leaves the machine is the
minimum: address, first name, and an opaque variant tag (`2026-12-a`); never a concern.
The push loop they share is in `providers.push`.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import ClassVar

from chairside import placeholders, secrets
from chairside.csvsafe import safe_cell
from chairside.delivery import Prepared
from chairside.errors import ChairsideError
from chairside.fsutil import replacing_dir
from chairside.ledger import Ledger
from chairside.providers.http import Http
from chairside.providers.schedule import Window, parse_schedule


class Unsupported(ChairsideError):
    """The provider cannot do what was asked."""


@dataclass(frozen=True)
class Member:
    """One patient as a provider sees them: nothing about their health."""

    key: str
    email: str
    first_name: str
    tag: str
    token: str


@dataclass(frozen=True)
class Content:
    """One variant in a provider's dialect: its merge tags instead of placeholders."""

    tag: str
    segment: str
    subject: str
    preheader: str
    html: str
    text: str


@dataclass
class BatchResult:
    reply: str
    rejected: dict[str, str] = field(default_factory=dict)
    """Patient key → the provider's reason, for recipients it refused."""


class PartlyRefused(Exception):
    """The provider refused some of a batch for good (`rejected`, as in BatchResult), and
    sending the rest again then failed with `cause` (RequestUnknown, RequestFailed or a
    ChairsideError): the rejected are failed whatever became of the rest."""

    def __init__(self, rejected: dict[str, str], cause: Exception) -> None:
        super().__init__(str(cause))
        self.rejected = rejected
        self.cause = cause


def translate(text: str, tags: dict[str, str]) -> str:
    """Replace Chairside's placeholders with a provider's merge tags."""
    return placeholders.TOKEN_PATTERN.sub(lambda m: tags.get(m.group(0), m.group(0)), text)


def setting(
    *, option: str | None, practice: dict, key: str, env: str, what: str, option_name: str
) -> str:
    """A provider setting read in one order: option, practice.toml, environment."""
    value = option or practice.get(key) or os.environ.get(env, "")
    if not value:
        section = f"[providers.{practice.get('_name')}]"
        raise ChairsideError(
            f"No {what}: pass {option_name}, or set {key} under {section} in practice.toml, "
            f"or the environment variable {env}."
        )
    return str(value)


# Every address Chairside hands out passed its validator; one made only of these characters
# cannot be a formula, and an apostrophe in front of it would break the provider's import
# (`-dash@example.com` is a valid address). Anything more exotic is neutralised as usual.
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+")


def address_cell(address: str) -> str:
    """An address as a CSV cell: as it is when plainly an address, else neutralised."""
    return address if _PLAIN_ADDRESS.fullmatch(address) else safe_cell(address)


def write_csv(rows: list[list[str]], *, address_column: int | None = None) -> str:
    """CSV text whose cells stay data in a spreadsheet; the address column is kept exact."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows(
        [address_cell(v) if i == address_column else safe_cell(v) for i, v in enumerate(row)]
        for row in rows
    )
    return buffer.getvalue()


def chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Provider:
    """Subclasses set the class attributes and override what they support."""

    name: ClassVar[str]
    title: ClassVar[str]
    key_variable: ClassVar[str] = ""
    batch_size: ClassVar[int] = 0
    default_base: ClassVar[str] = ""
    merge_tags: ClassVar[dict[str, str]] = {}
    """Placeholder → merge tag, for the text part (and the HTML, unless `html_merge_tags`)."""
    html_merge_tags: ClassVar[dict[str, str] | None] = None
    extra_features: ClassVar[tuple[str, ...]] = ()
    bundle_merge_tags: ClassVar[dict[str, str] | None] = None
    """Merge tags for the upload bundle, when the provider's editor speaks another dialect
    than its API (SendGrid: Handlebars in Single Sends, substitutions in mail/send)."""
    schedule_window: ClassVar[Window | None] = None
    """How far ahead a push can be scheduled; None: it cannot be."""
    schedules_batches: ClassVar[bool] = False
    """Each batch carries the time (SendGrid, Mailgun), so a resumed push must keep it."""

    def __init__(
        self,
        prepared: Prepared,
        *,
        concern_tags: bool = False,
        options: dict[str, str | None] | None = None,
    ) -> None:
        self.prepared = prepared
        self.options = options or {}
        self.settings = dict(prepared.practice.providers.get(self.name, {}), _name=self.name)
        campaign = prepared.campaign.name
        self.tags = {
            r.segment: (f"{campaign}-{r.segment}" if concern_tags else r.variant_id)
            for r in prepared.rendered.values()
        }
        self.schedule: datetime | None = None

    # -- what each provider describes ------------------------------------------------------
    @classmethod
    def features(cls) -> list[str]:
        found = []
        if cls.write_bundle is not Provider.write_bundle:
            found.append("files to upload")
        if cls.send_batch is not Provider.send_batch:
            found.append(
                f"push via API ({cls.batch_size} per request)" if cls.batch_size else "send"
            )
        if cls.merge_tags:
            found.append("merge tags " + ", ".join(cls.merge_tags.values()))
        if cls.schedule_window is not None:
            found.append("--schedule")
        return found + list(cls.extra_features)

    # -- checked before anything is written or sent ----------------------------------------
    def check(self, schedule: str | None = None) -> None:
        """Every setting this run needs, and the schedule, checked before anything happens."""
        self.check_settings()
        if schedule:
            self.schedule = parse_schedule(schedule, provider=self.title, window=self.window())

    def check_settings(self) -> None:
        """Provider settings from practice.toml that a push or bundle would use."""

    def window(self) -> Window | None:
        return self.schedule_window

    # -- content ---------------------------------------------------------------------------
    def contents(self, *, bundle: bool = False) -> list[Content]:
        """The variants someone receives, in the provider's dialect (none nobody gets)."""
        text_tags = (bundle and self.bundle_merge_tags) or self.merge_tags
        html_tags = (bundle and self.bundle_merge_tags) or self.html_merge_tags or text_tags
        used = {p.segment for p in self.prepared.audience.patients}
        return [
            Content(
                tag=self.tags[r.segment],
                segment=r.segment,
                subject=r.subject,
                preheader=r.preheader,
                html=translate(r.html, html_tags),
                text=translate(r.text, text_tags),
            )
            for r in self.prepared.rendered.values()
            if r.segment in used
        ]

    def members(self) -> list[Member]:
        tokens = self.prepared.tokens
        return [
            Member(p.key, p.email, p.first_name, self.tags[p.segment], tokens(p.email))
            for p in self.prepared.audience.patients
        ]

    # -- bundle ----------------------------------------------------------------------------
    def export(self, out: Path) -> str:
        """Write the upload bundle to `out` (replaced whole); says what was written."""
        if out.exists() and any(out.iterdir()) and not (out / "README.txt").is_file():
            raise ChairsideError(
                f"{out} already holds other files. Give --out a new or empty folder."
            )
        if not self.prepared.audience.patients:
            raise ChairsideError(
                "No patient can be sent this campaign (see `chairside audience`): "
                "nothing to export."
            )
        with replacing_dir(out) as staging:
            for content in self.contents(bundle=True):
                (staging / f"{content.tag}.html").write_text(content.html, encoding="utf-8")
                (staging / f"{content.tag}.txt").write_text(content.text, encoding="utf-8")
            self.write_bundle(staging)
            names = sorted(p.name for p in staging.iterdir())
        return f"{len(names)} files in {out}: {', '.join(names)}. Start with README.txt."

    def write_bundle(self, folder: Path) -> None:
        raise Unsupported(f"{self.title} has no upload bundle.")

    # -- push ------------------------------------------------------------------------------
    def connect(self, api_base: str | None) -> Http:
        raise Unsupported(f"{self.title} cannot be pushed to.")

    def send_batch(self, http: Http, content: Content, members: list[Member]) -> BatchResult:
        raise Unsupported(f"{self.title} cannot be pushed to.")

    def after_batches(self, http: Http, contents: list[Content], ledger: Ledger) -> list[str]:
        """Work after every member is handed over (e.g. create campaigns); notes to print.

        `contents` are the variants someone was handed over for; `ledger` records steps."""
        return []

    def http(self, api_base: str | None, **kwargs) -> Http:
        """The HTTP client for this provider: its base URL, the retry delay asked for."""
        return Http(
            base=self.base_url(api_base),
            provider=self.title,
            key_variable=self.key_variable,
            backoff=float(self.options.get("retry_delay") or 1.0),
            **kwargs,
        )

    def api_key(self) -> str:
        return api_key(self.key_variable, self.title)

    def base_url(self, api_base: str | None) -> str:
        return api_base_url(self.name, self.default_base, api_base)


def api_key(variable: str, title: str) -> str:
    """A provider's API key: the environment variable `variable`, else the keychain."""
    name = next(k.name for k in secrets.KINDS.values() if k.variable == variable)
    key = secrets.get(name)
    if not key:
        raise ChairsideError(f"No API key for {title}. " + secrets.missing(name))
    return key


def api_base_url(name: str, default: str, given: str | None) -> str:
    """Where a provider's API is: --api-base, then CHAIRSIDE_<NAME>_API_BASE, then its own."""
    return given or os.environ.get(f"CHAIRSIDE_{name.upper()}_API_BASE") or default


def check_baa(provider: Provider, *, without_baa: bool, pushing: bool = True) -> str | None:
    """Handing a concern's variant to a provider (a push, or a bundle to upload: it pairs the
    tag with that variant's HTML just the same) needs a BAA with it, or an explicit override."""
    concerns = [s for s in provider.tags if s != "general"]
    has_patients = any(p.segment in concerns for p in provider.prepared.audience.patients)
    if not has_patients or provider.settings.get("baa") is True:
        return None
    doing = "pushing concern variants to" if pushing else "writing concern variants for"
    if without_baa:
        return (
            f"warning: {doing} {provider.title} without a business "
            "associate agreement (--without-baa). Only address, first name and an opaque tag "
            "are in it."
        )
    what = "push" if pushing else "write the bundle"
    raise ChairsideError(
        f"These patients get a concern's variant, which tells {provider.title} something about "
        f"their health. Set baa = true under [providers.{provider.name}] in practice.toml once "
        f"the practice has a business associate agreement with {provider.title}, or pass "
        f"--without-baa to {what} anyway. Nothing was written or sent."
    )
