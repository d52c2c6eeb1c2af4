"""What comes back: `inbox` and `sync` read unsubscribes, bounces and complaints; `report`
says how a campaign went."""

from __future__ import annotations

import click

from chairside.commands.options import Options, audience_option, pass_options


@click.command()
@audience_option
@click.option("--dry-run", is_flag=True, help="Show what would be done; change nothing.")
@click.option("--show", is_flag=True, help="Print addresses in full (masked otherwise).")
@click.option(
    "--review", is_flag=True, help="List what is held for review (the mailbox is not read)."
)
@click.option(
    "--apply",
    "apply_ids",
    type=int,
    multiple=True,
    metavar="N",
    help="Apply held item N as if it were proven (suppress or count); repeatable.",
)
@click.option(
    "--dismiss",
    "dismiss_ids",
    type=int,
    multiple=True,
    metavar="N",
    help="Dismiss held item N: nothing changes for that patient; repeatable.",
)
@pass_options
def inbox(
    options: Options,
    audience_file,
    dry_run: bool,
    show: bool,
    review: bool,
    apply_ids: tuple[int, ...],
    dismiss_ids: tuple[int, ...],
) -> None:
    """Read the practice's mailbox: unsubscribe requests, bounces and spam complaints.

    Connects to the mailbox in [imap] in practice.toml (password from the environment
    variable CHAIRSIDE_IMAP_PASSWORD or the keychain) and, for every message not read before,
    acts only on what it can prove came back from mail Chairside sent that patient (the
    returned message's Message-ID in the send record, the patient's unsubscribe code in it,
    or their own return address):

    \b
    - an unsubscribe request with the patient's code, or from their address when your
      mail server confirmed the sender (DKIM, SPF or DMARC pass): the patient is added
      to audiences/suppressed.csv;
    - a bounce: only the address's own permanent failure (no such mailbox or domain)
      suppresses it; a temporary one (mailbox full) is counted, and 3 in a row suppress;
      a refusal of the practice's mail (spam-like, blocked, policy, authentication) never
      counts against the patient: it is listed per campaign and mail provider;
    - a spam complaint (ARF abuse, fraud, virus, other, opt-out): the patient is
      suppressed. DMARC failure reports (auth-failure) are about the practice's mail.

    Anything about a patient that it cannot prove (a forged bounce, an unsubscribe from a
    spoofed address) is held for review, never applied silently: --review lists it with
    the reason and the evidence, --apply N or --dismiss N decides. Out-of-office replies
    never unsubscribe anyone. Handled messages are marked read, or moved
    (after = "move:FOLDER"); replies are left for you. Mail is never deleted, and running
    it again does nothing twice.

    The connection is encrypted (tls = true, port 993; or tls = "starttls", port 143) and
    the server's certificate is checked; for a mail server with a private certificate,
    name its authority's PEM file with ca_file = "..." in [imap]. When your mail server
    writes Authentication-Results under a name of its own below another server's, name it
    with authserv_id = "mx.example.com" in [imap].

    \b
    Examples:
      CHAIRSIDE_IMAP_PASSWORD=... chairside inbox --dry-run
      CHAIRSIDE_IMAP_PASSWORD=... chairside inbox
      chairside inbox --review
      chairside inbox --apply 3 --dismiss 4
    """
    from chairside.delivery import state_dir
    from chairside.returnpath.mailbox import read_mailbox
    from chairside.returnpath.state import one_at_a_time

    workspace = options.workspace()
    state_path = state_dir(workspace)
    if review or apply_ids or dismiss_ids:
        if dry_run:
            raise click.UsageError("--dry-run reads the mailbox; it cannot go with --review.")
        with one_at_a_time(state_path, "inbox --review"):
            _review(workspace, state_path, apply_ids, dismiss_ids, show=show)
        return
    report, user = read_mailbox(
        workspace,
        state_path,
        audience_file=audience_file,
        dry_run=dry_run,
        warn=lambda message: click.echo(f"warning: {message}", err=True),
    )
    _echo_inbox(workspace, user, report, dry_run=dry_run, show=show)


def _review(workspace, state_path, apply_ids, dismiss_ids, *, show: bool) -> None:
    from chairside.returnpath.review import decide, held_lines, masked, refusal_lines
    from chairside.returnpath.state import LedgerView, ReturnState

    state = ReturnState(state_path)
    try:
        if apply_ids or dismiss_ids:
            overlap = set(apply_ids) & set(dismiss_ids)
            if overlap:
                raise click.UsageError(
                    f"{', '.join(map(str, sorted(overlap)))}: both --apply and --dismiss."
                )
            ledger = LedgerView(state_path)
            decisions = decide(workspace, state, ledger, list(apply_ids), apply=True)
            decisions += decide(workspace, state, ledger, list(dismiss_ids), apply=False)
            for decision in decisions:
                who = masked(decision.held.email, show=show)
                click.echo(f"#{decision.held.id} {who}: {decision.done}")
            return
        items = state.held()
        click.echo(f"{len(items)} held for review" + (":" if items else ": nothing to decide."))
        for line in held_lines(items, show=show):
            click.echo(line)
        if items:
            click.echo("Apply one with `chairside inbox --apply N`, or --dismiss N.")
        refusals = state.refusals()
        if refusals:
            click.echo("Refusals of the practice's mail (they count against no patient):")
            for line in refusal_lines(refusals):
                click.echo(line)
    finally:
        state.close()


def _echo_inbox(workspace, user: str, report, *, dry_run: bool, show: bool) -> None:
    from chairside.returnpath.inbox import lines_for

    would = "would be " if dry_run else ""
    click.echo(
        f"{user} {report.folder}: {report.new} new message{'s' * (report.new != 1)}, "
        f"{report.skipped} read before."
    )
    for line in lines_for(report, show=show):
        click.echo(line)
    target = workspace.relative(workspace.suppressed_file)
    click.echo(f"{target}: {len(report.suppressed)} {would}added.")
    if report.waiting:
        click.echo(
            f"{report.waiting} held for review in all (not proven to be about mail Chairside "
            "sent): see them with `chairside inbox --review`."
        )
    if dry_run:
        click.echo("Dry run: nothing was changed in the mailbox or the practice folder.")


@click.command()
@click.option(
    "--from",
    "provider",
    type=click.Choice(["mailchimp", "sendgrid", "mailgun"]),
    required=True,
    help="The provider to read (its key from MAILCHIMP_API_KEY, SENDGRID_API_KEY or "
    "MAILGUN_API_KEY).",
)
@click.option(
    "--api-base",
    metavar="URL",
    help="Ask this API address instead (or CHAIRSIDE_<PROVIDER>_API_BASE).",
)
@click.option(
    "--audience-id",
    help="Mailchimp audience (list) id (or [providers.mailchimp] audience_id, or "
    "MAILCHIMP_AUDIENCE_ID).",
)
@click.option(
    "--domain", help="Mailgun sending domain (or [providers.mailgun] domain, or MAILGUN_DOMAIN)."
)
@click.option("--dry-run", is_flag=True, help="Show what would be suppressed; change nothing.")
@click.option("--show", is_flag=True, help="Print addresses in full (masked otherwise).")
@pass_options
def sync(
    options: Options,
    provider: str,
    api_base: str | None,
    audience_id: str | None,
    domain: str | None,
    dry_run: bool,
    show: bool,
) -> None:
    """Bring a provider's unsubscribes, bounces and spam complaints into the practice.

    Reads Mailchimp's unsubscribed and cleaned members and abuse reports; SendGrid's
    unsubscribe, bounce, invalid address and spam report lists and the opt-outs of its
    unsubscribe group ([providers.sendgrid] unsubscribe_group), but not its blocks, which
    are SendGrid refusing the practice's mail; or Mailgun's unsubscribes, bounces and
    complaints: every page of them. Those patients are added to audiences/suppressed.csv, so
    no other route (SMTP, another provider) emails them again. Safe to repeat: nothing is
    added or counted twice. It says since when the practice is up to date.

    \b
    Examples:
      chairside sync --from mailchimp --audience-id a1b2c3d4e5
      chairside sync --from sendgrid --dry-run
      chairside sync --from mailgun --domain mg.example.com
    """
    from chairside.audience.addresses import mask
    from chairside.delivery import state_dir
    from chairside.returnpath.state import (
        BOUNCE,
        COMPLAINT,
        SOFT_BOUNCE,
        UNSUBSCRIBE,
        one_at_a_time,
    )
    from chairside.returnpath.sync import sync as run_sync
    from chairside.workspace import load_practice

    workspace = options.workspace()
    practice = load_practice(workspace)
    with one_at_a_time(state_dir(workspace), f"sync --from {provider}"):
        report = run_sync(
            workspace,
            practice,
            provider,
            api_base=api_base,
            options={"audience_id": audience_id, "domain": domain},
            dry_run=dry_run,
        )
    since = f"changes since {report.since}" if report.since else "everything (first sync)"
    click.echo(f"{provider}: read {report.records} records in {report.pages} pages: {since}.")
    new = [o for o in report.outcomes if o.new]
    counts = {
        kind: sum(1 for o in new if o.event.kind == kind)
        for kind in (UNSUBSCRIBE, BOUNCE, SOFT_BOUNCE, COMPLAINT)
    }
    click.echo(
        f"  new: {counts[UNSUBSCRIBE]} unsubscribes, {counts[BOUNCE]} bounces, "
        f"{counts[SOFT_BOUNCE]} soft bounces, {counts[COMPLAINT]} complaints "
        f"({len(report.outcomes) - len(new)} seen before)"
    )
    for outcome in new[:20] if not show else new:
        email = outcome.event.email if show else mask(outcome.event.email)
        click.echo(f"  {outcome.event.kind:<12} {email}  {outcome.event.detail}")
    if not show and len(new) > 20:
        click.echo(f"  … and {len(new) - 20} more (--show lists them all)")
    would = "would be " if dry_run else ""
    target = workspace.relative(workspace.suppressed_file)
    click.echo(
        f"{target}: {len(report.suppressed)} {would}added, "
        f"{report.already_suppressed} already there."
    )
    if dry_run:
        click.echo("Dry run: nothing was changed.")
    else:
        click.echo(f"{provider} is synced up to now; run it again after the next campaign.")


@click.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (for scripts).")
@click.option(
    "--show", is_flag=True, help="Name the concern each version is for (ids only otherwise)."
)
@click.option("--offline", is_flag=True, help="Do not ask the providers for opens and clicks.")
@click.option(
    "--api-base",
    metavar="URL",
    help="Ask this API address for opens and clicks (or CHAIRSIDE_<PROVIDER>_API_BASE).",
)
@pass_options
def report(
    options: Options, name: str, as_json: bool, show: bool, offline: bool, api_base: str | None
) -> None:
    """How campaign NAME went, per version and overall.

    A version is the email one concern's patients get. Sent, delivered and failed come from
    the send record; bounced, unsubscribed and spam complaints from what `chairside inbox`
    and `chairside sync` found (a bounce counts only on the route its message went by); for
    a campaign sent through Mailchimp, SendGrid or Mailgun, the unique opens and clicks that
    provider counted, by day too (its key from the environment or the keychain, unless
    --offline), and the most clicked articles. No rate is ever above 100 %. Beside it, the
    practice's earlier campaigns.

    Prints a table (or --json) and writes build/NAME/report.html, a page with charts that
    works offline, and build/NAME/report.json. No patient is named; versions are shown by
    their id (2026-12-a) unless --show adds the concern each is for.

    \b
    Examples:
      chairside report 2026-12
      chairside report 2026-12 --json --offline
    """
    import json

    from chairside.returnpath.report import build_report, table_lines
    from chairside.returnpath.reportpage import write_page
    from chairside.workspace import load_practice

    workspace = options.workspace()
    practice = load_practice(workspace)
    result = build_report(workspace, practice, name, show=show, offline=offline, api_base=api_base)
    page = workspace.build_dir / name / "report.html"
    write_page(result, page, shown=show)
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
        return
    click.echo("\n".join(table_lines(result)))
    click.echo(f"Page with charts: {workspace.relative(page)}")
