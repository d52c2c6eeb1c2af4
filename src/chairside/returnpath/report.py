"""How a campaign went: sent (the ledger), bounced, unsubscribed and complaints (what the
inbox and the provider syncs recorded), and for provider sends the opens and clicks the
provider counts, with the most clicked articles.

Versions are named by their opaque id (`2026-12-a`); the concern each is for appears only
when asked (`show`), as do addresses — the report names no patient at all.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from chairside.audience.segments import load_segments
from chairside.audience.suppression import read_entries
from chairside.campaign import Campaign, load_campaign
from chairside.delivery import state_dir
from chairside.errors import ChairsideError
from chairside.returnpath import sync as syncing
from chairside.returnpath.state import (
    BOUNCE,
    COMPLAINT,
    SOFT_BOUNCE,
    UNSUBSCRIBE,
    LedgerView,
    ReturnState,
)
from chairside.workspace import Practice, Workspace

COUNTS = ("sent", "failed", "bounced", "soft_bounced", "unsubscribed", "complaints")
KIND_COUNT = {
    BOUNCE: "bounced",
    SOFT_BOUNCE: "soft_bounced",
    UNSUBSCRIBE: "unsubscribed",
    COMPLAINT: "complaints",
}


@dataclass
class Row:
    """One version's (or the whole campaign's) results."""

    id: str
    label: str = ""
    """The concern the version is for: filled only when the report may show it."""
    sent: int = 0
    failed: int = 0
    bounced: int = 0
    soft_bounced: int = 0
    unsubscribed: int = 0
    complaints: int = 0
    opens: int | None = None
    """Unique opens the provider counted; None: not known (an SMTP send counts none)."""
    clicks: int | None = None

    def rate(self, count: int | None) -> float | None:
        return None if count is None or not self.sent else count / self.sent


@dataclass
class Link:
    title: str
    url: str
    clicks: int


@dataclass
class CampaignReport:
    campaign: str
    versions: list[Row]
    overall: Row
    links: list[Link] = field(default_factory=list)
    routes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    first_sent: str | None = None

    def as_dict(self) -> dict:
        return {
            "campaign": self.campaign,
            "routes": self.routes,
            "first_sent": self.first_sent,
            "versions": [asdict(v) for v in self.versions],
            "overall": asdict(self.overall),
            "top_links": [asdict(link) for link in self.links],
            "notes": self.notes,
        }


def _steps(folder: Path, campaign: str, provider: str, prefix: str) -> dict[str, str]:
    """The ledger's recorded provider steps (e.g. Mailchimp campaign ids by tag), read only."""
    path = folder / "state.db"
    if not path.is_file():
        return {}
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT step, value FROM steps WHERE campaign = ? AND provider = ? AND step LIKE ?",
            (campaign, provider, prefix + " %"),
        )
        return {step[len(prefix) + 1 :]: value for step, value in rows}


def _suppressed_elsewhere(
    workspace: Workspace, ledger: LedgerView, name: str, recorded: set[str]
) -> list[tuple[str, str]]:
    """(address, kind) for patients of campaign `name` suppressed by another way than the
    inbox or a sync — `chairside unsubscribe --token` from the one-click page, a 5xx at
    send time of a later campaign, a hand edit — counted for the last campaign they got."""
    found = []
    for email, entry in read_entries(workspace.suppressed_file).items():
        if not entry.active:
            continue  # taken back with `unsubscribe --undo`
        reason = entry.reason
        sent = ledger.sent_to(email)
        if email in recorded or not sent or sent[-1].campaign != name:
            continue
        words = reason.lower()
        kind = (
            COMPLAINT
            if "complain" in words or "spam" in words
            else BOUNCE
            if "bounce" in words or words[:1] in ("4", "5")
            else UNSUBSCRIBE
        )
        found.append((email, kind))
    return found


def concern_tags(campaign: Campaign) -> dict[str, str]:
    """Concern tag (`2026-12-tmj`, what a push with --concern-tags records as the version)
    → the version's opaque id: the report names versions by opaque id whatever was pushed,
    and the concern only through the label, when asked."""
    return {f"{campaign.name}-{v.segment.id}": v.id for v in campaign.variants}


def normalise_url(url: str) -> str:
    """A link without its tracking parameters (utm_*), to match it to a post."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if not k.lower().startswith("utm_")]
    return urlunsplit(parts._replace(query=urlencode(query), fragment="")).rstrip("/")


def build_report(
    workspace: Workspace,
    practice: Practice,
    name: str,
    *,
    show: bool = False,
    offline: bool = False,
    api_base: str | None = None,
) -> CampaignReport:
    """Everything known about campaign `name`; provider statistics unless `offline`."""
    folder = state_dir(workspace)
    ledger = LedgerView(folder)
    deliveries = [d for d in ledger.deliveries if d.campaign == name]
    if not deliveries:
        raise ChairsideError(
            f"Nothing of {name} has been sent yet (no record in .chairside/state.db), so there "
            f"is nothing to report. Send it with `chairside send {name}` or `chairside export "
            f"{name} --push`."
        )
    campaign = load_campaign(workspace, name, load_segments(workspace.segments_file))
    labels = {v.id: v.segment.name for v in campaign.variants}
    opaque = concern_tags(campaign)
    versions: dict[str, Row] = {}

    def row(variant: str) -> Row:
        variant = opaque.get(variant, variant)
        if variant not in versions:
            versions[variant] = Row(variant, labels.get(variant, "") if show else "")
        return versions[variant]

    variant_of = {}
    for delivery in deliveries:
        variant_of[delivery.email.lower()] = opaque.get(delivery.variant, delivery.variant)
        if delivery.status == "sent":
            row(delivery.variant).sent += 1
        elif delivery.status == "failed":
            row(delivery.variant).failed += 1
    state = ReturnState(folder)
    try:
        everything = state.events()
    finally:
        state.close()
    counted: set[tuple[str, str]] = set()
    for event in everything:
        variant = variant_of.get(event.email.lower())
        # The same unsubscribe may come by email and from a provider: count the person once.
        if event.campaign != name or variant is None or (event.email, event.kind) in counted:
            continue
        counted.add((event.email, event.kind))
        target = row(variant)
        setattr(target, KIND_COUNT[event.kind], getattr(target, KIND_COUNT[event.kind]) + 1)
    recorded = {e.email.lower() for e in everything if e.kind != SOFT_BOUNCE}
    for email, kind in _suppressed_elsewhere(workspace, ledger, name, recorded):
        target = row(variant_of[email])
        setattr(target, KIND_COUNT[kind], getattr(target, KIND_COUNT[kind]) + 1)
    report = CampaignReport(
        name,
        [versions[k] for k in sorted(versions)],
        Row("overall"),
        routes=sorted({d.via for d in deliveries}),
        first_sent=min((d.at for d in deliveries if d.status == "sent"), default=None),
    )
    if not offline:
        _provider_stats(workspace, practice, report, versions, campaign, deliveries, api_base)
    for count in (*COUNTS, "opens", "clicks"):
        values = [getattr(v, count) for v in report.versions]
        known = [v for v in values if v is not None]
        setattr(report.overall, count, sum(known) if known or count in COUNTS else None)
    return report


def _provider_stats(workspace, practice, report, versions, campaign, deliveries, api_base) -> None:
    """Opens, clicks and links from each provider the campaign went through."""
    opaque = concern_tags(campaign)
    links: Counter[str] = Counter()
    folder = state_dir(workspace)
    for provider in report.routes:
        if provider not in syncing.PROVIDERS:
            continue
        api = syncing.module(provider)
        settings = dict(practice.providers.get(provider, {}), _name=provider)
        try:
            http, context = api.connect(settings, {}, api_base)
        except ChairsideError as exc:
            report.notes.append(f"{provider}: no opens or clicks ({exc.message})")
            continue
        # Asked by the tags this push used (concern tags only if it was told to use them):
        # a concern name never goes to a provider that was not given it.
        tags = sorted({d.variant for d in deliveries if d.via == provider})
        try:
            if provider == "mailchimp":
                found = api.stats(
                    http, context, _steps(folder, report.campaign, provider, "campaign")
                )
            elif provider == "sendgrid":
                found = api.stats(http, context, tags, (report.first_sent or "")[:10])
            else:
                found = api.stats(http, context, tags)
        finally:
            http.close()
        for tag, numbers in found.items():
            if opaque.get(tag, tag) in versions:
                row = versions[opaque.get(tag, tag)]
                row.opens = (row.opens or 0) + numbers["opens"]
                row.clicks = (row.clicks or 0) + numbers["clicks"]
            links.update(numbers["links"])
    titles = {normalise_url(a.url): a.title for a in campaign.articles if a.url}
    merged: Counter[str] = Counter()
    for url, clicks in links.items():
        merged[normalise_url(url)] += clicks
    report.links = [
        Link(titles.get(url, url), url, clicks) for url, clicks in merged.most_common(10)
    ]


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value:.1%}"


def table_lines(report: CampaignReport) -> list[str]:
    """The report as a terminal table."""
    header = (
        f"{'version':<22}{'sent':>7}{'failed':>8}{'bounced':>9}{'unsubs':>8}"
        f"{'complaints':>12}{'opens':>8}{'clicks':>8}"
    )
    lines = [f"{report.campaign}: sent through {', '.join(report.routes)}", header]
    for row in [*report.versions, report.overall]:
        name = f"{row.id} ({row.label})" if row.label else row.id
        bounced = row.bounced + row.soft_bounced
        opens = _percent(row.rate(row.opens)) or "-"
        clicks = _percent(row.rate(row.clicks)) or "-"
        lines.append(
            f"{name[:21]:<22}{row.sent:>7}{row.failed:>8}{bounced:>9}{row.unsubscribed:>8}"
            f"{row.complaints:>12}{opens:>8}{clicks:>8}"
        )
    if report.links:
        lines.append("most clicked:")
        lines += [f"  {link.clicks:>6}  {link.title}" for link in report.links]
    lines += [f"note: {note}" for note in report.notes]
    return lines
