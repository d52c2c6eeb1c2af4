"""`chairside sync --from PROVIDER`: the provider's unsubscribes, bounces and complaints,
page by page, into the same suppression and record as the inbox.

Each page is suppressed and recorded before the next is asked for, so an interrupted sync
keeps what it read. The first sync reads everything; later ones ask only for what changed
since the last complete one (where the API can filter by time) with a day's overlap, and
the record's keys make a record seen twice count once. A sync is "complete" (and its time
recorded) only when every list was read to its end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import import_module

from chairside.delivery import state_dir
from chairside.returnpath.record import Outcome, Recorder
from chairside.returnpath.state import Event, LedgerView, ReturnState, now
from chairside.workspace import Practice, Workspace

PROVIDERS = ("mailchimp", "sendgrid", "mailgun")


def module(name: str):
    return import_module(f"chairside.returnpath.{name}")


@dataclass
class SyncReport:
    provider: str
    since: str | None
    """When the previous complete sync was (None: the first)."""
    pages: int = 0
    records: int = 0
    outcomes: list[Outcome] = field(default_factory=list)
    suppressed: list[str] = field(default_factory=list)
    already_suppressed: int = 0


def campaign_via(ledger: LedgerView, route: str, email: str, at: str) -> str | None:
    """The latest campaign sent to `email` over `route` before `at`: what a provider says
    about an address answers only mail that provider carried (a SendGrid bounce never
    lands on a campaign sent over SMTP)."""
    sent = [d for d in ledger.sent_to(email) if d.via == route and d.at <= at]
    return sent[-1].campaign if sent else None


def sync(
    workspace: Workspace,
    practice: Practice,
    provider: str,
    *,
    api_base: str | None,
    options: dict,
    dry_run: bool,
) -> SyncReport:
    api = module(provider)
    settings = dict(practice.providers.get(provider, {}), _name=provider)
    http, context = api.connect(settings, options, api_base)
    folder = state_dir(workspace)
    keeps_state = not dry_run or (folder / "returnpath.db").exists()
    state = ReturnState(folder) if keeps_state else None
    try:
        since = state.last_synced().get(provider) if state is not None else None
        ask_since = (
            (datetime.fromisoformat(since) - timedelta(days=1)).isoformat() if since else None
        )
        report = SyncReport(provider, since)
        recorder = Recorder(workspace, state, LedgerView(folder), dry_run=dry_run)
        started = now()
        for page in api.suppressions(http, context, ask_since):
            report.pages += 1
            for record in page:
                if not isinstance(record.email, str):
                    continue  # a provider's malformed entry names nobody
                report.records += 1
                at = record.at or started  # a list without dates: when it was read
                event = Event(
                    key=f"{provider}:{record.kind}:{record.email.lower()}:{record.at}",
                    source=provider,
                    kind=record.kind,
                    email=record.email,
                    campaign=campaign_via(recorder.ledger, provider, record.email, at),
                    detail=record.detail,
                    at=at,
                )
                recorder.record(event)
            recorder.flush()
        if state is not None and not dry_run:
            state.synced(provider, started)
    finally:
        http.close()
        if state is not None:
            state.close()
    report.outcomes = recorder.tally.outcomes
    report.suppressed = recorder.tally.suppressed
    report.already_suppressed = recorder.tally.already_suppressed
    return report
