"""Scheduled campaigns, and `chairside due`: send each approved one when its time has come.

`due` is meant to run every 15 minutes (see `installer`). It sends a campaign only when it
is scheduled, its time has come and is no more than its window old, it is approved as it
is now, and `check` finds no error in it. Exactly once is the send record's and the
campaign lock's job, as for any send: two `due` at once, or one killed halfway and run
again, deliver each patient once. A campaign it may not send is *held*: the reason is
recorded (the studio and `chairside schedule` show it) and the office is told by email,
once per reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from chairside import clock
from chairside.autopilot.office import send_proof, tell_office
from chairside.autopilot.schedule import describe_schedule, practice_zone, scheduled
from chairside.autopilot.status import (
    Status,
    fingerprint,
    is_approved,
    read_status,
    write_status,
)
from chairside.errors import ChairsideError
from chairside.workspace import Workspace

REMIND_BEFORE = timedelta(days=1)


@dataclass(frozen=True)
class Outcome:
    campaign: str
    action: str
    """sent, held, waiting, reminded, busy, incomplete or error."""
    message: str


def due(workspace: Workspace) -> list[Outcome]:
    """Send every approved campaign whose time has come; hold and tell the rest."""
    outcomes = []
    from chairside.ledger import CopyDoubt

    for name, status in scheduled(workspace):
        try:
            outcomes.append(_one(workspace, name, status))
        except CopyDoubt as doubt:  # only a person can say this copy is the latest
            outcomes.append(
                _hold(
                    workspace,
                    name,
                    f"{doubt.plain} Open its Send page to confirm and resume it; the "
                    "schedule does not decide this on its own.",
                )
            )
        except ChairsideError as exc:
            outcomes.append(_hold(workspace, name, exc.format_message()))
    return outcomes


def _one(workspace: Workspace, name: str, status: Status) -> Outcome:
    now = clock.now()
    at = datetime.fromisoformat(status.scheduled_at)
    tz = practice_zone(workspace)
    current = fingerprint(workspace, name)
    approved = is_approved(status, current)
    if now < at:
        if now >= at - REMIND_BEFORE and not approved:
            return _remind(workspace, name, status, current, at)
        return Outcome(name, "waiting", f"goes {describe_schedule(workspace, status)}")
    late = now - at
    window = timedelta(hours=status.window_hours)
    if late > window and status.started_at:
        return _hold(
            workspace,
            name,
            f"It started going out on {clock.spoken(clock.stored(status.started_at), tz)} but did "
            f"not finish, and it is now more than {status.window_hours:g} hours past "
            "its time. It waits for a person: resume it from the Send page, which sends only "
            "to those who have not had it.",
        )
    if late > window:
        return _hold(
            workspace,
            name,
            f"It was due on {clock.spoken(at, tz)}, but Chairside did not run then (the "
            f"computer may have been off), and it is now more than {status.window_hours:g} "
            "hours late. It waits for a person: send it now, or schedule it again.",
        )
    if not approved:
        why = (
            "it was changed after it was approved"
            if status.approved_at
            else "nobody has approved it"
        )
        return _hold(
            workspace,
            name,
            f"It was due on {clock.spoken(at, tz)} but was not sent: {why}. Send a test, "
            "look at it, and approve it; it then goes at the next run (within "
            f"{status.window_hours:g} hours of its time).",
        )
    return _deliver(workspace, name, status)


def _deliver(workspace: Workspace, name: str, status: Status) -> Outcome:
    from chairside.checks import ERROR, run_checks
    from chairside.delivery import prepare

    prepared = prepare(workspace, name)
    errors = [
        f
        for f in run_checks(workspace, name, rendered_campaign=prepared.rendered_campaign)
        if f.severity == ERROR
    ]
    if errors:
        listed = "; ".join(f"{f.variant}: {f.message}" for f in errors[:5])
        return _hold(
            workspace,
            name,
            f"It was due but was not sent: the checks now find {len(errors)} "
            f"error{'s' * (len(errors) != 1)} (the patient list or a post may have changed): "
            f"{listed}",
        )
    status.started_at = status.started_at or clock.now().isoformat(timespec="seconds")
    status.held_at = status.held_reason = ""
    write_status(workspace, name, status)
    try:
        complete, unknown, summary = (_smtp if status.route == "smtp" else _push)(
            workspace, prepared, status.route
        )
    except ChairsideError as exc:
        if "already being delivered" in exc.format_message():
            return Outcome(name, "busy", "another run is delivering it right now")
        raise
    status = read_status(workspace, name)
    if complete:
        status.done_at = clock.now().isoformat(timespec="seconds")
        write_status(workspace, name, status)
        if unknown:
            _tell_once(
                workspace,
                name,
                f"unknown:{unknown}",
                f"{name} went out; some deliveries are in doubt",
                f"{name} went out, but for {unknown} patient{'s' * (unknown != 1)} it is not "
                "known whether the message arrived (the computer or the connection stopped "
                "mid-message). They were not sent it again; the Send page can, if you choose.",
            )
        return Outcome(name, "sent", summary)
    return Outcome(name, "incomplete", f"{summary}; the next run goes on")


def _smtp(workspace: Workspace, prepared, route: str) -> tuple[bool, int, str]:
    """(finished, unknown, summary): finished once nobody is left pending; patients a crash
    left in doubt are reported, never resent by a job nobody watches."""
    from chairside.providers.smtp import resolve
    from chairside.sending import send_campaign
    from chairside.sendsummary import summary

    settings = resolve(prepared.practice.smtp)
    report = send_campaign(workspace, prepared, settings)
    if report.halted:
        raise ChairsideError(f"The send stopped: {report.halted}")
    totals = report.totals
    complete = totals is not None and not totals.pending
    return complete, totals.unknown if totals else 0, " ".join(summary(report))


def _push(workspace: Workspace, prepared, route: str) -> tuple[bool, int, str]:
    from chairside.providers import provider_class
    from chairside.providers.base import check_baa
    from chairside.providers.push import push, summary

    provider = provider_class(route)(prepared, concern_tags=False, options={})
    provider.check(None)
    check_baa(provider, without_baa=False)
    report = push(workspace, provider)
    if report.stopped:
        raise ChairsideError(f"The hand-over to {provider.title} stopped: {report.stopped}")
    return not report.pending, len(report.unknown), " ".join(summary(report))


def _hold(workspace: Workspace, name: str, reason: str) -> Outcome:
    status = read_status(workspace, name)
    if status.held_reason != reason:
        status.held_at = clock.now().isoformat(timespec="seconds")
        status.held_reason = reason
    write_status(workspace, name, status)
    note = _tell_once(workspace, name, f"held:{reason}", f"{name} was not sent", reason)
    return Outcome(name, "held", reason + note)


def _tell_once(workspace: Workspace, name: str, key: str, subject: str, text: str) -> str:
    """Email the office `text` unless it was told `key` before; a note when it cannot."""
    status = read_status(workspace, name)
    if key in status.told:
        return ""
    try:
        sent = tell_office(workspace, subject, f"{name}: {text}")
    except ChairsideError as exc:
        return f" (the office could not be emailed: {exc.format_message()})"
    if not sent:
        return " (the office could not be emailed: no mail server is set up)"
    status.told.append(key)
    write_status(workspace, name, status)
    return ""


def _remind(workspace: Workspace, name: str, status: Status, current: str, at) -> Outcome:
    told = f"reminder:{current}"
    if told in status.told:
        return Outcome(
            name, "waiting", f"not approved yet; goes {describe_schedule(workspace, status)}"
        )
    note = send_proof(workspace, name, why="It is due within a day and not approved yet.")
    status = read_status(workspace, name)
    status.told.append(told)
    write_status(workspace, name, status)
    return Outcome(name, "reminded", note)
