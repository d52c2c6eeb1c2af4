"""One approval before a campaign may go on its own: recorded who, what and when.

A campaign can be approved only when `chairside check` finds no error in it and a test of
it (every version, to the office) has been sent since its last change. Any later change to
what patients would receive voids the approval (see `status.fingerprint`).
"""

from __future__ import annotations

import getpass

from chairside import clock
from chairside.autopilot.status import (
    fingerprint,
    is_tested,
    read_status,
    write_status,
)
from chairside.errors import ChairsideError
from chairside.workspace import Workspace


def record_test(workspace: Workspace, name: str, address: str) -> None:
    """A test of every version of `name` went to `address` just now."""
    status = read_status(workspace, name)
    status.tested_at = clock.now().isoformat(timespec="seconds")
    status.tested_to = address
    status.tested_fingerprint = fingerprint(workspace, name)
    write_status(workspace, name, status)


def approve(workspace: Workspace, name: str, *, by: str = "") -> str:
    """Approve campaign `name` as it is now; returns who approved it.

    Refused while `check` finds an error, or when no test was sent since the last change.
    """
    from chairside.campaign import campaign_file
    from chairside.checks import ERROR, run_checks

    campaign_file(workspace, name)  # a clear error for a campaign that does not exist
    current = fingerprint(workspace, name)
    status = read_status(workspace, name)
    if not is_tested(status, current):
        what = "was changed since its last test" if status.tested_at else "has not been tested"
        raise ChairsideError(
            f"{name} {what}. Send a test first and look at it (every version goes to the "
            f"office): chairside send {name} --test office@your-practice.com — then approve it."
        )
    errors = [f for f in run_checks(workspace, name) if f.severity == ERROR]
    if errors:
        listed = "\n".join(f"  {f.variant}: {f.rule}: {f.message}" for f in errors[:10])
        raise ChairsideError(
            f"{name} cannot be approved: `chairside check {name}` finds "
            f"{len(errors)} error{'s' * (len(errors) != 1)}.\n{listed}"
        )
    status.approved_by = by.strip() or _who()
    status.approved_at = clock.now().isoformat(timespec="seconds")
    status.approved_fingerprint = current
    status.held_at = status.held_reason = ""
    write_status(workspace, name, status)
    return status.approved_by


def unapprove(workspace: Workspace, name: str) -> bool:
    """Withdraw the approval; False when there was none."""
    status = read_status(workspace, name)
    if not status.approved_at:
        return False
    status.approved_by = status.approved_at = status.approved_fingerprint = ""
    write_status(workspace, name, status)
    return True


def _who() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name known to the system (some containers, services)
        return "someone at this computer"
