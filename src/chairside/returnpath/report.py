"""How a campaign went: sent (the ledger), bounced, unsubscribed and complaints (what the
inbox and the provider syncs recorded), and for provider sends the opens and clicks the
provider counts, with the most clicked articles.

Versions are named by their opaque id (`2026-12-a`); the concern each is for appears only
when asked (`show`), as do addresses — the report names no patient at all.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
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
    Delivery,
    Event,
    LedgerView,
    ReturnState,
)
from chairside.workspace import Practice, Workspace

REPORT_JSON = "report.json"
COUNTS = ("sent", "failed", "bounced", "soft_bounced", "unsubscribed", "complaints")
KIND_COUNT = {
    BOUNCE: "bounced",
    SOFT_BOUNCE: "soft_bounced",
    UNSUBSCRIBE: "unsubscribed",
    COMPLAINT: "complaints",
}
ROUTE_OF_SOURCE = {"inbox": "smtp"}
"""The route whose mail a source's bounces answer (a provider's are its own)."""
ROUTED = (BOUNCE, SOFT_BOUNCE, COMPLAINT)
"""Kinds that answer the route they came back on; an unsubscribe answers any message."""


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
    delivered: int = 0
    """The provider's count where it gives one, else sent less what bounced."""
    opens: int | None = None
    """Unique opens the provider counted; None: not known (an SMTP send counts none)."""
    clicks: int | None = None

    def rate(self, count: int | None) -> float | None:
        """`count` as a share of those sent: never above 1 (see `over`)."""
        return None if count is None or not self.sent else min(count, self.sent) / self.sent

    def over(self) -> list[str]:
        """The counts a provider gave above the number sent (shown as 100 %)."""
        counts = {"opens": self.opens, "clicks": self.clicks, "delivered": self.delivered}
        return [name for name, value in counts.items() if value and value > self.sent]


@dataclass
class Link:
    title: str
    url: str
    clicks: int


@dataclass
class Day:
    date: str
    """ISO date."""
    opens: int
    clicks: int


@dataclass
class Earlier:
    """One campaign of the practice, for the comparison (the current one included)."""

    campaign: str
    first_sent: str
    row: Row
    current: bool = False


@dataclass
class CampaignReport:
    campaign: str
    versions: list[Row]
    overall: Row
    links: list[Link] = field(default_factory=list)
    routes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    first_sent: str | None = None
    days: list[Day] = field(default_factory=list)
    """Opens and clicks by day, as the providers count them (empty: none recorded)."""
    history: list[Earlier] = field(default_factory=list)
    """Every campaign the practice sent, oldest first, this one among them."""
    unanswered: dict[str, str] = field(default_factory=dict)
    """Provider → why it gave no opens and clicks (no key, refused, unreachable)."""

    def as_dict(self) -> dict:
        return {
            "campaign": self.campaign,
            "routes": self.routes,
            "first_sent": self.first_sent,
            "versions": [asdict(v) for v in self.versions],
            "overall": asdict(self.overall),
            "top_links": [asdict(link) for link in self.links],
            "by_day": [asdict(day) for day in self.days],
            "campaigns": [
                {"campaign": e.campaign, "first_sent": e.first_sent, **asdict(e.row)}
                for e in self.history
            ],
            "notes": self.notes,
            "unanswered": self.unanswered,
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
    workspace: Workspace, ledger: LedgerView, recorded: set[str]
) -> list[tuple[str, str, str]]:
    """(address, kind, campaign) for patients suppressed by another way than the inbox or a
    sync — `chairside unsubscribe --token` from the one-click page, a 5xx at send time of a
    later campaign, a hand edit — counted for the last campaign they got (a bounce only when
    that campaign went by SMTP: only SMTP sees a refusal at send time)."""
    found = []
    for email, entry in read_entries(workspace.suppressed_file).items():
        if not entry.active or email in recorded:
            continue  # taken back with `unsubscribe --undo`, or counted from its event
        sent = ledger.sent_to(email)
        if not sent:
            continue
        words = entry.reason.lower()
        kind = (
            COMPLAINT
            if "complain" in words or "spam" in words
            else BOUNCE
            if "bounce" in words or words[:1] in ("4", "5")
            else UNSUBSCRIBE
        )
        if kind == BOUNCE and sent[-1].via != "smtp":
            continue
        found.append((email, kind, sent[-1].campaign))
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


@dataclass
class _Tally:
    """One campaign's counts from the ledger and what came back, by version and route."""

    rows: dict[str, Row] = field(default_factory=dict)
    routes: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    """(version, route) → [sent, came back undelivered]."""

    def row(self, version: str) -> Row:
        return self.rows.setdefault(version, Row(version))

    def finish(self, delivered: dict[tuple[str, str], int]) -> None:
        """Delivered: the provider's count for a (version, route) it gave one for, else
        those sent less those that came back."""
        for (version, route), (sent, returned) in self.routes.items():
            given = delivered.get((version, route))
            self.row(version).delivered += max(0, sent - returned) if given is None else given


def _tally(
    name: str,
    deliveries: list[Delivery],
    events: list[Event],
    elsewhere: list[tuple[str, str, str]],
    version_of,
) -> _Tally:
    """Count campaign `name`: sent and failed from its `deliveries`; bounces and complaints
    only when they came back on the route the patient's message went by; each person once
    per kind, whichever way their unsubscribe came."""
    tally = _Tally()
    sent_by: dict[str, Delivery] = {}
    for delivery in deliveries:
        version = version_of(delivery)
        row = tally.row(version)
        if delivery.status == "sent":
            row.sent += 1
            sent_by[delivery.email.lower()] = delivery
            tally.routes.setdefault((version, delivery.via), [0, 0])[0] += 1
        elif delivery.status == "failed":
            row.failed += 1

    def count(email: str, kind: str) -> None:
        delivery = sent_by[email]
        version = version_of(delivery)
        row = tally.row(version)
        setattr(row, KIND_COUNT[kind], getattr(row, KIND_COUNT[kind]) + 1)
        if kind in (BOUNCE, SOFT_BOUNCE):
            tally.routes[(version, delivery.via)][1] += 1

    counted: set[tuple[str, str]] = set()
    for event in events:
        email = event.email.lower()
        if event.campaign != name or email not in sent_by or (email, event.kind) in counted:
            continue
        route = ROUTE_OF_SOURCE.get(event.source, event.source)
        if event.kind in ROUTED and sent_by[email].via != route:
            continue  # an SMTP bounce never lands on a Mailgun campaign, nor the reverse
        counted.add((email, event.kind))
        count(email, event.kind)
    for email, kind, campaign in elsewhere:
        if campaign == name and email in sent_by and (email, kind) not in counted:
            counted.add((email, kind))
            count(email, kind)
    return tally


def build_report(
    workspace: Workspace,
    practice: Practice,
    name: str,
    *,
    show: bool = False,
    offline: bool = False,
    api_base: str | None = None,
    ask: set[str] | None = None,
) -> CampaignReport:
    """Everything known about campaign `name`; provider statistics unless `offline`, from
    the providers in `ask` only when it is given (the studio asks those with a key)."""
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
    state = ReturnState(folder)
    try:
        everything = state.events()
    finally:
        state.close()
    recorded = {e.email.lower() for e in everything if e.kind != SOFT_BOUNCE}
    elsewhere = _suppressed_elsewhere(workspace, ledger, recorded)
    everything = _on_their_routes(everything, ledger)
    tally = _tally(
        name, deliveries, everything, elsewhere, lambda d: opaque.get(d.variant, d.variant)
    )
    for version, row in tally.rows.items():
        row.label = labels.get(version, "") if show else ""
    sent_at = [d.at for d in deliveries if d.status == "sent"]
    report = CampaignReport(
        name,
        [tally.rows[k] for k in sorted(tally.rows)],
        Row("overall"),
        routes=sorted({d.via for d in deliveries}),
        first_sent=min(sent_at, default=None),
    )
    delivered: dict[tuple[str, str], int] = {}
    if not offline:
        delivered = _provider_stats(
            practice, folder, report, tally.rows, campaign, deliveries, api_base, ask
        )
    tally.finish(delivered)
    for count in (*COUNTS, "delivered", "opens", "clicks"):
        values = [getattr(v, count) for v in report.versions]
        known = [v for v in values if v is not None]
        setattr(report.overall, count, sum(known) if known or count in COUNTS else None)
    for row in [*report.versions, report.overall]:
        for what in row.over():
            report.notes.append(
                f"{row.id}: the provider counted more {what} than messages sent; shown as 100 %."
            )
    report.notes += refusal_alarms(folder, name)
    report.history = _history(workspace, ledger, everything, elsewhere, report)
    return report


def refusal_alarms(folder, campaign: str | None = None) -> list[str]:
    """One sentence per mailbox provider that refused the practice's mail (spam-like,
    blocked, policy…), of `campaign` or, without it, of every campaign (each named): a
    deliverability alarm, never a patient's fault. What `report` and `check` say."""
    from collections import Counter

    from chairside.returnpath.state import read_refusals

    groups = Counter(
        (r.provider, r.campaign or "an earlier campaign", r.reason)
        for r in read_refusals(folder)
        if campaign is None or r.campaign == campaign
    )
    return [
        f"{provider} refused {count} message{'s' * (count != 1)}"
        f"{'' if campaign else f' of {which}'} as {reason}: the practice's mail was refused, "
        "not the patients' addresses (they stay on the list). Check the sending domain's "
        "SPF, DKIM and DMARC, the unsubscribe link and the content before sending to them "
        "again."
        for (provider, which, reason), count in groups.most_common()
    ]


def _on_their_routes(events: list[Event], ledger: LedgerView) -> list[Event]:
    """Each bounce and complaint on the campaign of the route it came back on. One the
    mailbox could not tie to a message names the latest campaign sent to the address,
    whatever its route; it answers the latest sent over SMTP before it came, if any."""
    via = {(d.campaign, d.email.lower()): d.via for d in ledger.deliveries}
    moved = []
    for event in events:
        route = ROUTE_OF_SOURCE.get(event.source, event.source)
        if event.kind in ROUTED and via.get((event.campaign, event.email.lower())) != route:
            campaign = syncing.campaign_via(ledger, route, event.email, event.at)
            event = replace(event, campaign=campaign)
        moved.append(event)
    return moved


def _history(workspace, ledger, events, elsewhere, report: CampaignReport) -> list[Earlier]:
    """Every campaign sent, oldest first, with its counts; opens and clicks of an earlier one
    as its own last report found them (build/NAME/report.json), for this one as now."""
    by_campaign: dict[str, list[Delivery]] = {}
    for delivery in ledger.deliveries:
        by_campaign.setdefault(delivery.campaign, []).append(delivery)
    events_of: dict[str | None, list[Event]] = {}
    for event in events:  # each campaign's own, so many campaigns cost one pass
        events_of.setdefault(event.campaign, []).append(event)
    found = []
    for name, deliveries in by_campaign.items():
        sent = [d.at for d in deliveries if d.status == "sent"]
        if not sent:
            continue
        if name == report.campaign:
            found.append(Earlier(name, min(sent), report.overall, current=True))
            continue
        tally = _tally(name, deliveries, events_of.get(name, []), elsewhere, lambda d: "overall")
        tally.finish({})
        row = tally.row("overall")
        row.opens, row.clicks = _last_reported(workspace, name)
        found.append(Earlier(name, min(sent), row))
    return sorted(found, key=lambda e: e.first_sent)


def _last_reported(workspace: Workspace, name: str) -> tuple[int | None, int | None]:
    """Opens and clicks of campaign `name` as its last report saved them (None: unknown)."""
    try:
        overall = json.loads((workspace.build_dir / name / REPORT_JSON).read_text())["overall"]
    except (OSError, ValueError, KeyError, TypeError):
        return None, None
    opens, clicks = overall.get("opens"), overall.get("clicks")
    return (
        opens if isinstance(opens, int) else None,
        clicks if isinstance(clicks, int) else None,
    )


def _provider_stats(practice, folder, report, versions, campaign, deliveries, api_base, ask):
    """Opens, clicks, days and links from each provider the campaign went through; the
    deliveries they counted, by (version, route). A provider that cannot be asked is a note."""
    opaque = concern_tags(campaign)
    links: Counter[str] = Counter()
    days: Counter[str] = Counter()
    clicks_by_day: Counter[str] = Counter()
    delivered: dict[tuple[str, str], int] = {}
    for provider in report.routes:
        if provider not in syncing.PROVIDERS or (ask is not None and provider not in ask):
            continue
        api = syncing.module(provider)
        settings = dict(practice.providers.get(provider, {}), _name=provider)
        # Asked by the tags this push used (concern tags only if it was told to use them):
        # a concern name never goes to a provider that was not given it.
        tags = sorted({d.variant for d in deliveries if d.via == provider})
        try:
            http, context = api.connect(settings, {}, api_base)
            try:
                if provider == "mailchimp":
                    steps = _steps(folder, report.campaign, provider, "campaign")
                    found = api.stats(http, context, steps)
                else:
                    found = api.stats(http, context, tags, (report.first_sent or "")[:10])
            finally:
                http.close()
        except ChairsideError as exc:
            report.unanswered[provider] = exc.message
            continue
        for tag, numbers in found.tags.items():
            version = opaque.get(tag, tag)
            if version not in versions:
                continue
            row = versions[version]
            row.opens = (row.opens or 0) + numbers.opens
            row.clicks = (row.clicks or 0) + numbers.clicks
            if numbers.delivered is not None:
                key = (version, provider)
                delivered[key] = delivered.get(key, 0) + numbers.delivered
        links.update(found.links)
        report.notes += found.notes
        for day, (opened, clicked) in found.days.items():
            days[day] += opened
            clicks_by_day[day] += clicked
    report.days = [
        Day(day, days[day], clicks_by_day[day])
        for day in sorted(days)
        if days[day] or clicks_by_day[day]
    ]
    titles = {normalise_url(a.url): a.title for a in campaign.articles if a.url}
    merged: Counter[str] = Counter()
    for url, clicks in links.items():
        merged[normalise_url(url)] += clicks
    report.links = [
        Link(titles.get(url, url), url, clicks) for url, clicks in merged.most_common(10) if clicks
    ]
    return delivered


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value:.1%}"


def table_lines(report: CampaignReport) -> list[str]:
    """The report as a terminal table."""
    header = (
        f"{'version':<22}{'sent':>7}{'delivered':>10}{'failed':>8}{'bounced':>9}{'unsubs':>8}"
        f"{'complaints':>12}{'opened':>8}{'clicked':>8}"
    )
    lines = [f"{report.campaign}: sent through {', '.join(report.routes)}", header]
    for row in [*report.versions, report.overall]:
        name = f"{row.id} ({row.label})" if row.label else row.id
        bounced = row.bounced + row.soft_bounced
        opens = _percent(row.rate(row.opens)) or "-"
        clicks = _percent(row.rate(row.clicks)) or "-"
        lines.append(
            f"{name[:21]:<22}{row.sent:>7}{row.delivered:>10}{row.failed:>8}{bounced:>9}"
            f"{row.unsubscribed:>8}{row.complaints:>12}{opens:>8}{clicks:>8}"
        )
    if report.links:
        lines.append("most clicked:")
        lines += [f"  {link.clicks:>6}  {link.title}" for link in report.links]
    earlier = [e for e in report.history if not e.current]
    if earlier:
        lines.append("beside earlier campaigns (sent, delivered, unsubscribed, opened):")
        for entry in report.history[-6:]:
            row = entry.row
            mark = "  <- this one" if entry.current else ""
            lines.append(
                f"  {entry.campaign:<20}{row.sent:>7}{_percent(row.rate(row.delivered)):>9}"
                f"{_percent(row.rate(row.unsubscribed)):>9}"
                f"{_percent(row.rate(row.opens)) or '-':>9}{mark}"
            )
    lines += [f"note: {note}" for note in report.notes]
    lines += [f"note: {p}: no opens or clicks ({why})" for p, why in report.unanswered.items()]
    return lines
