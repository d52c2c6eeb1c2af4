"""What comes back: `inbox` and `sync` read unsubscribes, bounces and complaints; `report`
says how a campaign went."""

from __future__ import annotations

import contextlib
import imaplib

import click

from chairside.commands.options import Options, audience_option, pass_options


def _known_addresses(workspace, audience_file, ledger) -> set[str]:
    """Every address Chairside may have sent to: the patient list and the ledger."""
    from chairside.audience.patients import load_audience

    return {p.email for p in load_audience(workspace, audience_file).patients} | ledger.emails()


@click.command()
@audience_option
@click.option("--dry-run", is_flag=True, help="Show what would be done; change nothing.")
@click.option("--show", is_flag=True, help="Print addresses in full (masked otherwise).")
@pass_options
def inbox(options: Options, audience_file, dry_run: bool, show: bool) -> None:
    """Read the practice's mailbox: unsubscribe requests, bounces and spam complaints.

    Connects to the mailbox in [imap] in practice.toml (password from the environment
    variable CHAIRSIDE_IMAP_PASSWORD) and, for every message not read before:

    \b
    - an unsubscribe request (the List-Unsubscribe email, or "unsubscribe" from a
      patient's address): the patient is added to audiences/suppressed.csv;
    - a bounce: a permanent one (no such mailbox) suppresses the address; a temporary
      one (mailbox full) is counted, and 3 in a row suppress it;
    - a spam complaint (ARF report): the patient is suppressed.

    Those messages are then marked read, or moved (after = "move:FOLDER"). Anything else —
    replies, out-of-office notices — is left as it was, for you. Mail is never deleted,
    and running it again does nothing twice.

    \b
    Examples:
      CHAIRSIDE_IMAP_PASSWORD=... chairside inbox --dry-run
      CHAIRSIDE_IMAP_PASSWORD=... chairside inbox
    """
    from chairside.delivery import state_dir
    from chairside.returnpath.inbox import Resolver, connect, lines_for, load_imap, process
    from chairside.returnpath.state import LedgerView, ReturnState
    from chairside.tokens import Tokens, load_key
    from chairside.workspace import load_practice

    workspace = options.workspace()
    practice = load_practice(workspace)
    config = load_imap(workspace)
    state_path = state_dir(workspace)
    ledger = LedgerView(state_path)
    resolver = Resolver(
        Tokens(load_key(state_path)), _known_addresses(workspace, audience_file, ledger)
    )
    imap = connect(config)
    keeps_state = not dry_run or (state_path / "returnpath.db").exists()
    state = ReturnState(state_path) if keeps_state else None
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
    finally:
        if state is not None:
            state.close()
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            imap.logout()
    would = "would be " if dry_run else ""
    click.echo(
        f"{config.user} {report.folder}: {report.new} new message{'s' * (report.new != 1)}, "
        f"{report.skipped} read before."
    )
    for line in lines_for(report, show=show):
        click.echo(line)
    target = workspace.relative(workspace.suppressed_file)
    click.echo(f"{target}: {len(report.suppressed)} {would}added.")
    if dry_run:
        click.echo("Dry run: nothing was changed in the mailbox or the practice folder.")
