"""One call that reads the practice's mailbox, for the CLI (`chairside inbox`) and the
studio's Inbox page alike: settings, the patients it may be about, one reader at a time,
the connection, and what went wrong at which step (each a `ChairsideError` of its own, so
each face can say it in its own words)."""

from __future__ import annotations

import contextlib
import imaplib
from collections.abc import Callable
from pathlib import Path

from chairside.errors import ChairsideError
from chairside.returnpath.inbox import InboxReport, Resolver, connect, load_imap, process
from chairside.returnpath.state import DB_FILE, LedgerView, ReturnState, one_at_a_time
from chairside.tokens import practice_tokens
from chairside.workspace import Workspace, load_practice


class MailboxNotSetUp(ChairsideError):
    """The [imap] settings are missing or wrong."""


class MailboxUnreachable(ChairsideError):
    """The server cannot be reached, or refused the login (nothing was read)."""


class MailboxLost(ChairsideError):
    """The connection dropped while reading: what was handled before is kept."""


def known_addresses(
    workspace: Workspace,
    audience_file: Path | None,
    ledger: LedgerView,
    warn: Callable[[str], None],
) -> set[str]:
    """Every address Chairside may have sent to: the patient list and the ledger.

    A patient list that cannot be read must not hold up the mailbox: the ledger still
    knows everyone a campaign went to (`warn` is told).
    """
    from chairside.audience.patients import load_audience

    try:
        patients = {p.email for p in load_audience(workspace, audience_file).patients}
    except ChairsideError as exc:
        warn(f"{exc.message}\n  (only patients already sent to are recognised)")
        patients = set()
    return patients | ledger.emails()


def read_mailbox(
    workspace: Workspace,
    state_dir: Path,
    *,
    audience_file: Path | None = None,
    dry_run: bool = False,
    warn: Callable[[str], None] = lambda _message: None,
) -> tuple[InboxReport, str]:
    """Read every message not read before; (what was done, the mailbox's user name)."""
    practice = load_practice(workspace)
    try:
        config = load_imap(workspace)
    except ChairsideError as exc:
        raise MailboxNotSetUp(exc.message) from None
    ledger = LedgerView(state_dir)
    resolver = Resolver(
        practice_tokens(workspace.root), known_addresses(workspace, audience_file, ledger, warn)
    )
    with one_at_a_time(state_dir, "inbox"):
        try:
            imap = connect(config)
        except ChairsideError as exc:
            raise MailboxUnreachable(exc.message) from None
        keeps_state = not dry_run or (state_dir / DB_FILE).exists()
        state = ReturnState(state_dir) if keeps_state else None
        try:
            report = process(
                workspace,
                practice,
                config,
                imap,
                resolver=resolver,
                state=state,
                ledger=ledger,
                dry_run=dry_run,
            )
        except (OSError, imaplib.IMAP4.error) as exc:
            raise MailboxLost(
                f"The connection to the mail server was lost ({exc}). Every message handled "
                "before that is recorded; run `chairside inbox` again to carry on."
            ) from None
        finally:
            if state is not None:
                state.close()
            with contextlib.suppress(OSError, imaplib.IMAP4.error):
                imap.logout()
    return report, config.user
