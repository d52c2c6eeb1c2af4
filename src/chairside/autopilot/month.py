"""Where a campaign is along the month, for a person: drafted, tested, approved, scheduled,
held, sending, sent, closed — with what comes next."""

from __future__ import annotations

from chairside import clock
from chairside.autopilot.schedule import describe_schedule, went_out
from chairside.autopilot.status import (
    Stage,
    fingerprint,
    is_approved,
    is_tested,
    read_status,
)
from chairside.workspace import Workspace


def stage(workspace: Workspace, name: str, current: str | None = None) -> Stage:
    """Where `name` is along the month: drafted, tested, approved, scheduled, held, sent,
    closed — with what comes next. `current`: its fingerprint, when the caller has it."""
    status = read_status(workspace, name)
    current = current or fingerprint(workspace, name)
    if status.done_at:
        return _after_sending(workspace, name, status.done_at)
    if not status.started_at and (first := went_out(workspace, name)):
        return _after_sending(workspace, name, first)  # sent by hand, not by the schedule
    if status.started_at:
        return Stage("sending", "It started going out; the next run of the schedule goes on.")
    if status.held_reason:
        return Stage("held", status.held_reason)
    approved, tested = is_approved(status, current), is_tested(status, current)
    if status.scheduled_at:
        plan = describe_schedule(workspace, status)
        if approved:
            return Stage("scheduled", f"Approved by {status.approved_by}; goes {plan}.")
        return Stage("scheduled", f"Goes {plan}, once approved (it is not yet).")
    if approved:
        return Stage("approved", f"Approved by {status.approved_by}; not scheduled yet.")
    if tested:
        return Stage("tested", "A test was sent; approve it when it looks right.")
    if status.approved_at:
        return Stage("drafted", "Changed since it was approved: test and approve it again.")
    return Stage("drafted", "Send a test, then approve it.")


def _after_sending(workspace: Workspace, name: str, sent_at: str) -> Stage:
    from chairside.delivery import state_dir
    from chairside.returnpath.state import read_last_synced

    sent = clock.stored(sent_at)
    read = read_last_synced(state_dir(workspace)).get("inbox", "")
    report = workspace.build_dir / name / "report.html"
    if read and clock.stored(read) >= sent and report.is_file():
        return Stage("closed", "Sent; the mailbox was read since and the report made.")
    return Stage("sent", "Sent. Read the mailbox, then look at the report, to close the month.")
