"""What a send over SMTP says when it ends, in one set of words for every face.

`summary` is the lines `chairside send` prints after a run (sent now, sent before, failed,
deferred, unknown, pending; addresses masked); `finish` raises what the run's end means: the
server's refusal that halted it (exit 1), or DeliveryIncomplete when it ran to its end but
left someone failed, deferred, unknown or pending (exit 3). A push has the same pair in
providers/push.py. `rebuilt` is what `chairside rebuild-ledger` says it did.
"""

from __future__ import annotations

from pathlib import Path

from chairside.audience.addresses import mask
from chairside.errors import ChairsideError, DeliveryIncomplete
from chairside.sending import SendReport
from chairside.status import mask_reply


def summary(report: SendReport) -> list[str]:
    """The summary every send ends with; addresses masked."""
    line = f"{report.campaign}: {report.sent} sent now, {report.already_sent} sent before"
    if report.totals is not None:
        t = report.totals
        line += (
            f"; failed {t.failed}, deferred {t.deferred}, unknown {t.unknown}, pending {t.pending}"
        )
    lines = [*report.notes, line + "."]
    for email, reply in report.failed:
        lines.append(f"  failed (suppressed from now on): {mask(email)}: {mask_reply(reply)}")
    for email, reply in report.deferred:
        lines.append(f"  deferred (tried again next run): {mask(email)}: {mask_reply(reply)}")
    if report.suppressed_midway:
        lines.append(f"  {report.suppressed_midway} unsubscribed while sending: skipped")
    if report.unknown:
        lines.append(
            f"  unknown: {len(report.unknown)} messages may or may not have arrived "
            "(the connection or the program stopped mid-message). They are not resent "
            "unless you run again with --resend-unknown."
        )
    if report.stopped:
        lines.append(f"Stopped. Run `chairside send {report.campaign}` again to continue.")
    return lines


def finish(report: SendReport) -> None:
    """Raise what the run's end means: ChairsideError when it halted itself (a refusal of
    the server or the account, a lost server, storage), DeliveryIncomplete when it ran to
    its end but not everyone has the campaign. Returns when everyone has it, or when the
    office stopped it (`report.stopped`: the caller says so its own way)."""
    if report.halted:
        raise ChairsideError(report.halted)
    if report.stopped:
        return
    totals = report.totals
    if totals is None or totals.complete:
        return
    name = report.campaign
    hints = [f"Run `chairside send {name}` again for deferred and pending"]
    if totals.unknown:
        hints.append("add --resend-unknown once you accept unknown may arrive twice")
    if totals.failed:
        hints.append("--retry-failed after `chairside unsubscribe --undo` of a wrong one")
    raise DeliveryIncomplete(
        f"Not everyone has {name} yet: {totals.failed} failed, {totals.deferred} deferred, "
        f"{totals.unknown} unknown, {totals.pending} pending. {'; '.join(hints)}; "
        f"`chairside status {name}` lists them."
    )


def rebuilt(name: str, counts: dict[str, int], moved: Path | None) -> list[str]:
    """What rebuilding `name`'s ledger from its journal did (`ledger.rebuild_ledger`'s
    counts by status, and where an unusable state.db was moved aside, if it was)."""
    lines = [f"Moved the unusable ledger aside to {moved}."] if moved is not None else []
    lines.append(
        f"Rebuilt the ledger of {name} from its journal: {counts.get('sent', 0)} sent, "
        f"{counts.get('failed', 0)} failed, {counts.get('deferred', 0)} deferred, "
        f"{counts.get('sending', 0)} unknown. Run `chairside status {name}` to check."
    )
    return lines
