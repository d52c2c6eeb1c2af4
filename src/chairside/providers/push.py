"""Pushing a campaign through a provider's API: the loop every provider shares.

A push holds the campaign's lock (the same one `send` takes), so two deliveries of one
campaign never run at once, whatever their route. Every batch is recorded in the ledger
(`sending` before the request, `sent` after). A batch whose request left but got no usable
answer stays `sending`: unknown, reported, resent only with --resend-unknown, and the push
stops there. A batch that certainly had no effect goes back to pending. Every push ends
with one summary: handed over now, before, rejected, unknown, pending.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import click

from chairside.audience.addresses import mask
from chairside.delivery import state_dir
from chairside.errors import ChairsideError, DeliveryIncomplete
from chairside.journal import status_record
from chairside.ledger import FAILED, SENDING, SENT, Ledger, campaign_lock, open_ledger
from chairside.providers.base import BatchResult, Content, Member, PartlyRefused, Provider, chunks
from chairside.providers.http import Http, RateLimited, RequestFailed, RequestUnknown
from chairside.words import plural
from chairside.workspace import Workspace

SHOWN = 20  # rejected addresses listed one by one; `chairside status` has them all


class BatchUnknown(RequestUnknown):
    """A batch's request left and no usable answer came: its patients stay `sending`."""


@dataclass
class PushReport:
    """Where every sendable patient stands after a push (addresses unmasked: mask to show)."""

    provider: str
    campaign: str
    handed: int = 0
    already: int = 0
    batches: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    pending: int = 0
    notes: list[str] = field(default_factory=list)
    stopped: str = ""
    """Why the push stopped before its end ("" when it ran to the end)."""


def push(
    workspace: Workspace,
    provider: Provider,
    *,
    api_base: str | None = None,
    resend_unknown: bool = False,
    continue_from_copy: bool = False,
    on_batch: Callable[[int], None] = lambda n: None,
) -> PushReport:
    """Hand every sendable patient to the provider once, batch by batch, resumably.

    Holds the campaign's lock throughout. Problems found before the first request raise
    ChairsideError (CopyDoubt for a copy of the practice folder that may not be the latest,
    unless `continue_from_copy`: see `Ledger.trust`); a push stopped later returns its
    report with `stopped` set, so the summary still says where everyone stands (see
    `finish`)."""
    name = provider.prepared.campaign.name
    report = PushReport(provider.name, name)
    members = provider.members()
    state = state_dir(workspace)
    holder = f"export --push {provider.name}"
    with campaign_lock(state, name, holder=holder), open_ledger(state) as ledger:
        report.notes += ledger.trust(name, confirmed=continue_from_copy)
        http = provider.connect(api_base)
        handed: set[str] = set()
        try:
            _keep_schedule(provider, ledger)
            _hand_over(provider, http, ledger, members, report, handed, resend_unknown, on_batch)
            statuses = ledger.statuses(name)
            tags = {m.tag for m in members if statuses.get(m.key) == SENT}
            wanted = [c for c in provider.contents() if c.tag in tags]
            report.notes += provider.after_batches(http, wanted, ledger)
        except BatchUnknown as exc:
            report.stopped = str(exc)
        except RequestUnknown as exc:
            report.stopped = (
                f"{exc}. {provider.title} may or may not have acted on it, so Chairside does "
                "not repeat it blindly. Run the same command again: it looks for what was "
                "made before making anything again."
            )
        except (RequestFailed, ChairsideError) as exc:
            report.stopped = _stop_reason(exc)
        finally:
            http.close()
        _tally(report, members, ledger, handed)
    return report


def _keep_schedule(provider: Provider, ledger: Ledger) -> None:
    """A resumed push whose batches carry a time keeps the time the first batches had."""
    if not provider.schedules_batches:
        return
    name = provider.prepared.campaign.name
    wanted = provider.schedule.isoformat() if provider.schedule else "now"
    earlier = ledger.step(name, provider.name, "schedule")
    started = any(s in (SENT, SENDING) for s in ledger.statuses(name).values())
    if earlier is None or not started:
        ledger.record_step(name, provider.name, "schedule", wanted)
    elif earlier != wanted:
        again = "without --schedule" if earlier == "now" else f"with --schedule {earlier}"
        raise ChairsideError(
            f"Earlier batches of this push went to {provider.title} for "
            f"{'immediate delivery' if earlier == 'now' else earlier}; so that every patient "
            f"gets it at the same time, run it again {again}. Nothing was sent."
        )


def _hand_over(
    provider: Provider,
    http: Http,
    ledger: Ledger,
    members: list[Member],
    report: PushReport,
    handed: set[str],
    resend_unknown: bool,
    on_batch: Callable[[int], None],
) -> None:
    name = provider.prepared.campaign.name
    contents = {c.tag: c for c in provider.contents()}
    statuses = ledger.statuses(name)
    todo: dict[str, list[Member]] = {tag: [] for tag in contents}
    for member in members:
        status = statuses.get(member.key)
        if status in (SENT, FAILED) or (status == SENDING and not resend_unknown):
            continue
        todo[member.tag].append(member)
    number = len(ledger.steps_like(name, provider.name, "batch"))
    for tag, waiting in todo.items():
        for batch in chunks(waiting, provider.batch_size):
            number += 1
            batch_id = f"{provider.name}:{tag}:{number}"
            ledger.record_step(name, provider.name, f"batch {number}", batch_id)
            ledger.mark_batch_sending(
                name, provider.name, batch_id, [(m.key, m.email, m.tag) for m in batch]
            )
            try:
                result = _send_batch(provider, http, ledger, contents[tag], batch)
            except RequestUnknown as exc:
                # Left `sending`: the provider may have accepted it. Stop, so a provider
                # that is failing does not turn the whole list into "unknown".
                statuses = ledger.statuses(name)  # less any it refused (PartlyRefused)
                left = sum(statuses.get(m.key) == SENDING for m in batch)
                raise BatchUnknown(
                    f"{exc}. Its {left} patients are recorded as unknown: they are not "
                    "sent again unless you run with --resend-unknown (check in "
                    f"{provider.title} first). Run the same command again for the rest."
                ) from None
            except (RequestFailed, ChairsideError) as exc:
                ledger.abandon_batch(name, batch_id, reply=_stop_reason(exc)[:300])
                raise
            ledger.finish_batch(name, batch_id, reply=result.reply, failed=result.rejected)
            report.batches += 1
            handed.update(m.key for m in batch if m.key not in result.rejected)
            on_batch(len(batch))


def _send_batch(
    provider: Provider, http: Http, ledger: Ledger, content: Content, batch: list[Member]
) -> BatchResult:
    """`provider.send_batch`; the recipients it refused are recorded failed, with its
    reason, even when sending the rest of the batch then failed (`PartlyRefused`)."""
    try:
        return provider.send_batch(http, content, batch)
    except PartlyRefused as partly:
        name = provider.prepared.campaign.name
        ledger.commit_group(
            name,
            [status_record(FAILED, keys=[key], reply=why) for key, why in partly.rejected.items()],
        )
        raise partly.cause from None


def _stop_reason(exc: Exception) -> str:
    text = exc.message if isinstance(exc, ChairsideError) else str(exc)
    if isinstance(exc, RateLimited):
        return f"{text}. Run the same command again later: it resumes where it stopped."
    if isinstance(exc, RequestFailed):
        return f"{text}. Nothing in that batch was handed over; run the same command again."
    return text


def _tally(report: PushReport, members: list[Member], ledger: Ledger, handed: set[str]) -> None:
    """Where each sendable patient stands now, read back from the ledger."""
    rows = {row.patient: row for row in ledger.rows(report.campaign)}
    for member in members:
        row = rows.get(member.key)
        status = row.status if row else None
        if status == SENT:
            if member.key in handed:
                report.handed += 1
            else:
                report.already += 1
        elif status == FAILED:
            report.rejected.append((member.email, (row.reply if row else "") or "refused"))
        elif status == SENDING:
            report.unknown.append(member.email)
        else:
            report.pending += 1


def finish(report: PushReport) -> None:
    """Raise what the run's end means: exit 1 when it stopped, 3 when it ran to its end
    but left someone rejected, unknown or pending; return when everyone was handed over."""
    if report.stopped:
        raise ChairsideError(f"{report.provider} push stopped: {report.stopped}")
    if report.rejected or report.unknown or report.pending:
        raise DeliveryIncomplete(
            f"Not every patient was handed over to {report.provider}: "
            f"{len(report.rejected)} rejected, {len(report.unknown)} unknown, "
            f"{report.pending} pending (see above)."
        )


def summary(report: PushReport) -> list[str]:
    """The one summary every push ends with; addresses masked."""
    lines = [
        f"{report.provider}: {plural(report.handed, 'patient')} handed over in "
        f"{plural(report.batches, 'batch', 'batches')}, {report.already} before; "
        f"{len(report.rejected)} rejected, "
        f"{len(report.unknown)} unknown, {report.pending} pending."
    ]
    for email, why in report.rejected[:SHOWN]:
        lines.append(f"  rejected by {report.provider}: {mask(email)}: {why}")
    if len(report.rejected) > 20:
        lines.append(f"  … and {len(report.rejected) - SHOWN} more rejected (chairside status)")
    if report.unknown:
        lines.append(
            f"  unknown: {len(report.unknown)} may or may not have been handed over; "
            "check in the provider, then run with --resend-unknown to send them again."
        )
    if report.pending:
        lines.append(
            f"  pending: {report.pending} not handed over yet; run the same command again."
        )
    lines += [f"  {note}" for note in report.notes]
    return lines


def echo_report(report: PushReport) -> None:
    for line in summary(report):
        click.echo(line)
