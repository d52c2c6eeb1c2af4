"""The provider interface (after django-anymail): what every destination must offer, and
the push loop they share.

A provider translates each variant's placeholders into its own merge tags, writes a bundle
a person can upload, and pushes batches through its API. What leaves the machine is the
minimum: address, first name, and an opaque variant tag (`2026-12-a`); never a concern.
Every batch is recorded in the ledger (`sending` before the request, `sent` after), so an
interrupted push resumes without handing anyone over twice.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import click

from chairside import placeholders
from chairside.csvsafe import safe_row
from chairside.delivery import Prepared, state_dir
from chairside.errors import ChairsideError
from chairside.fsutil import replacing_dir
from chairside.ledger import FAILED, SENDING, SENT, Ledger, open_ledger
from chairside.providers.http import Http, ProviderError, RequestFailed, RequestUnknown
from chairside.workspace import Workspace


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


@dataclass
class PushReport:
    provider: str
    handed: int = 0
    already: int = 0
    batches: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


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


def write_csv(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows(safe_row(row) for row in rows)
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
        return found + list(cls.extra_features)

    # -- content ---------------------------------------------------------------------------
    def contents(self, *, bundle: bool = False) -> list[Content]:
        text_tags = (bundle and self.bundle_merge_tags) or self.merge_tags
        html_tags = (bundle and self.bundle_merge_tags) or self.html_merge_tags or text_tags
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

    def after_batches(
        self, http: Http, contents: list[Content], schedule: str | None, ledger: Ledger
    ) -> list[str]:
        """Work after every member is handed over (e.g. create campaigns); notes to print.

        `contents` are the variants someone was handed over for; `ledger` records steps."""
        if schedule:
            raise Unsupported(f"{self.title} sends at once; --schedule is for Mailchimp.")
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
        key = os.environ.get(self.key_variable, "")
        if not key:
            raise ChairsideError(
                f"No API key for {self.title}: set the environment variable {self.key_variable} "
                "(keys are never read from files)."
            )
        return key

    def base_url(self, api_base: str | None) -> str:
        return (
            api_base
            or os.environ.get(f"CHAIRSIDE_{self.name.upper()}_API_BASE")
            or self.default_base
        )


def check_baa(provider: Provider, *, without_baa: bool) -> str | None:
    """Pushing a concern's variant needs a BAA with the provider, or an explicit override."""
    concerns = [s for s in provider.tags if s != "general"]
    has_patients = any(p.segment in concerns for p in provider.prepared.audience.patients)
    if not has_patients or provider.settings.get("baa") is True:
        return None
    if without_baa:
        return (
            f"warning: pushing concern variants to {provider.title} without a business associate "
            "agreement (--without-baa). Only address, first name and an opaque tag are sent."
        )
    raise ChairsideError(
        f"These patients get a concern's variant, which tells {provider.title} something about "
        f"their health. Set baa = true under [providers.{provider.name}] in practice.toml once "
        f"the practice has a business associate agreement with {provider.title}, or pass "
        "--without-baa to push anyway."
    )


def push(
    workspace: Workspace,
    provider: Provider,
    *,
    api_base: str | None = None,
    schedule: str | None = None,
    resend_unknown: bool = False,
    on_batch: Callable[[int], None] = lambda n: None,
) -> PushReport:
    """Hand every sendable patient to the provider once, batch by batch, resumably."""
    name = provider.prepared.campaign.name
    report = PushReport(provider.name)
    contents = {c.tag: c for c in provider.contents()}
    http = provider.connect(api_base)
    state = state_dir(workspace)
    try:
        with open_ledger(state) as ledger:
            statuses = ledger.statuses(name)
            todo: dict[str, list[Member]] = {tag: [] for tag in contents}
            for member in provider.members():
                status = statuses.get(member.key)
                if status == SENT:
                    report.already += 1
                elif status == SENDING and not resend_unknown:
                    report.unknown.append(member.email)
                elif status != FAILED:
                    todo[member.tag].append(member)
            number = sum(1 for _ in ledger.steps_like(name, provider.name, "batch"))
            for tag, members in todo.items():
                for batch in chunks(members, provider.batch_size):
                    number += 1
                    batch_id = f"{provider.name}:{tag}:{number}"
                    ledger.record_step(name, provider.name, f"batch {number}", batch_id)
                    ledger.mark_batch_sending(
                        name, provider.name, batch_id, [(m.key, m.email, m.tag) for m in batch]
                    )
                    try:
                        result = provider.send_batch(http, contents[tag], batch)
                    except RequestUnknown:
                        report.unknown.extend(m.email for m in batch)
                        raise
                    except (RequestFailed, ChairsideError) as exc:
                        ledger.abandon_batch(name, batch_id, reply=str(exc))
                        raise
                    ledger.finish_batch(name, batch_id, reply=result.reply, failed=result.rejected)
                    report.batches += 1
                    report.handed += len(batch) - len(result.rejected)
                    by_key = {m.key: m.email for m in batch}
                    report.rejected += [(by_key[k], why) for k, why in result.rejected.items()]
                    on_batch(len(batch))
            used = {m.tag for m in provider.members()}
            wanted = [c for tag, c in contents.items() if tag in used]
            report.notes += provider.after_batches(http, wanted, schedule, ledger)
    except RequestUnknown as exc:
        raise ChairsideError(
            f"{exc}. The batch in flight may or may not have been accepted: it is recorded as "
            f"unknown and will not be resent unless you run again with --resend-unknown."
        ) from None
    except (RequestFailed, ProviderError) as exc:
        raise ChairsideError(
            f"{exc.message if isinstance(exc, ProviderError) else exc} Nothing in that batch "
            "was handed over; fix the problem and run the same command again to resume."
        ) from None
    finally:
        http.close()
    return report


def echo_report(report: PushReport) -> None:
    from chairside.audience.addresses import mask

    click.echo(
        f"{report.provider}: {report.handed} patients handed over in {report.batches} "
        f"batches, {report.already} before."
    )
    for email, why in report.rejected:
        click.echo(f"  rejected by {report.provider}: {mask(email)}: {why}")
    if report.unknown:
        click.echo(
            f"  unknown: {len(report.unknown)} may or may not have been handed over; "
            "run with --resend-unknown to send them again."
        )
    for note in report.notes:
        click.echo(f"  {note}")
