"""Delivering over SMTP: `send`, and `status` to see how far it has got."""

from __future__ import annotations

from pathlib import Path

import click

from chairside.commands.options import Options, audience_option, concern_option, pass_options
from chairside.words import plural


def smtp_options(command):
    """The SMTP server options of `send`; each overrides [smtp] in practice.toml."""
    for option in reversed(
        [
            click.option("--smtp-host", help="Mail server name (default: [smtp] host)."),
            click.option(
                "--smtp-port",
                type=click.IntRange(1, 65535),
                help="Mail server port (default: [smtp] port, or the usual one).",
            ),
            click.option(
                "--smtp-user",
                help="Login name; the password comes from CHAIRSIDE_SMTP_PASSWORD or this "
                "computer's keychain (chairside secrets set smtp).",
            ),
            click.option(
                "--starttls",
                "security",
                flag_value="starttls",
                help="Start plain, then switch to encryption before logging in (called "
                "STARTTLS; usually port 587).",
            ),
            click.option(
                "--ssl",
                "security",
                flag_value="ssl",
                help="Encrypted from the start (called SSL or TLS; usually port 465).",
            ),
            click.option(
                "--no-tls",
                "security",
                flag_value="none",
                help="No encryption: only for a test server on this computer.",
            ),
        ]
    ):
        command = option(command)
    return command


@click.command()
@click.argument("name")
@audience_option
@smtp_options
@click.option(
    "--rate",
    type=click.FloatRange(min=0.1),
    metavar="N",
    help="Send at most N messages per minute (many providers limit this).",
)
@click.option(
    "--connections",
    type=click.IntRange(1, 10),  # chairside.sending.MAX_CONNECTIONS
    default=4,  # chairside.sending.CONNECTIONS (not imported here: the CLI starts light)
    show_default=True,
    metavar="N",
    help="Connections to the server at once (1-10; many relays allow 3-10 per account).",
)
@click.option(
    "--no-pipelining",
    is_flag=True,
    help="Wait for each of the server's replies before the next command, even when it "
    "offers to take several at once (PIPELINING).",
)
@click.option("--dry-run", is_flag=True, help="Show what would be sent; send nothing.")
@click.option(
    "--resend-unknown",
    is_flag=True,
    help='Also resend the messages a crash left in doubt, "unknown" (they may arrive twice).',
)
@click.option(
    "--retry-failed",
    is_flag=True,
    help="Also resend patients marked failed (after `unsubscribe --undo` of a wrong bounce).",
)
@click.option(
    "--continue-from-copy",
    is_flag=True,
    help="This folder is the latest copy of the practice: continue a campaign sent from "
    "another computer or copy of the folder (asked for when Chairside cannot tell).",
)
@click.option(
    "--test",
    "test_address",
    metavar="ADDRESS",
    help="Send each version once to ADDRESS, subject marked [TEST ...]; nothing is recorded.",
)
@concern_option("With --test: only the version this concern's patients get, e.g. tmj.")
@click.option("--force", is_flag=True, help="Send even while `chairside check` finds errors.")
@click.option(
    "--retries",
    type=click.IntRange(0, 20),
    default=4,
    show_default=True,
    help="Retries after a temporary refusal (4xx) or a dropped connection.",
)
@click.option(
    "--retry-delay",
    type=click.FloatRange(min=0),
    default=2.0,
    show_default=True,
    metavar="SECONDS",
    help="First retry delay; doubled each time, at most 60 s.",
)
@pass_options
def send(
    options: Options,
    name: str,
    audience_file: Path | None,
    smtp_host: str | None,
    smtp_port: int | None,
    smtp_user: str | None,
    security: str | None,
    rate: float | None,
    connections: int,
    no_pipelining: bool,
    dry_run: bool,
    resend_unknown: bool,
    retry_failed: bool,
    continue_from_copy: bool,
    test_address: str | None,
    concern: str | None,
    old_concern: str | None,
    force: bool,
    retries: int,
    retry_delay: float,
) -> None:
    """Send campaign NAME over SMTP: each sendable patient gets exactly one message.

    Safe to stop (Ctrl-C finishes the current message) and to run again: every patient is
    recorded in the campaign's sent log, campaigns/NAME/sent-log.jsonl (keep it with the
    folder), and in .chairside/state.db, and a rerun sends only to those not yet sent. If
    the computer crashed mid-message, those patients (at most one per connection) are
    reported as "unknown" (the message went out but the server's answer never came back,
    so nobody knows whether it arrived) and resent only with --resend-unknown. Only a
    mailbox's own permanent refusal (e.g. 550 5.1.1 unknown user) marks a patient failed
    and adds them to audiences/suppressed.csv; a refusal of the server or the account
    (login, relay, policy, content, size) stops the run, suppresses nobody and says what
    to fix.

    The practice folder can move: a copy that lost .chairside/ is rebuilt from the sent
    log. A copy older than what this computer sent (a restored backup) is refused; so is,
    until you confirm it is the latest copy with --continue-from-copy, a campaign this
    computer never sent that the folder says was sent (a new computer).

    Exit code: 0 everyone sendable has it; 3 the run ended but some are failed, deferred,
    unknown or pending; 1 the run stopped (server refusal, storage problem).

    The server comes from [smtp] in practice.toml (or the options); the password from
    the environment variable CHAIRSIDE_SMTP_PASSWORD or this computer's keychain
    (chairside secrets set smtp), never a file. Messages go over --connections connections
    at once (4 by default), each handing the server several commands without waiting for
    every reply when it offers that (PIPELINING); --rate
    counts all of them together. If the server refuses an extra connection, the others
    carry on; if your provider limits connections or messages a minute, set both lower.

    \b
    Examples:
      chairside send 2026-12 --test office@example.com
      chairside send 2026-12 --dry-run
      chairside send 2026-12 --rate 120
      chairside send 2026-12 --connections 2
      chairside send 2026-12 --retry-failed
      chairside send 2026-12 --continue-from-copy
    """
    import signal
    import sys
    import threading

    from chairside.checks import refuse_if_errors
    from chairside.commands.doctor import warn_if_blocked
    from chairside.delivery import prepare
    from chairside.errors import ChairsideError
    from chairside.providers.smtp import resolve
    from chairside.sending import RetryPolicy, send_campaign, send_tests
    from chairside.sendsummary import finish, summary

    segment = concern or old_concern
    if segment and not test_address:
        raise click.UsageError("--concern goes with --test")
    workspace = options.workspace()
    prepared = prepare(workspace, name, audience_file=audience_file)
    if not (test_address or dry_run):  # a test or a dry run is how errors get looked at
        refuse_if_errors(workspace, prepared, force=force)
    if segment and segment != prepared.campaign.segment_for(segment):
        raise ChairsideError(
            f"{segment}: no post this month, so its patients get the general version. "
            "Test that one with --concern general."
        )
    if segment and segment not in prepared.rendered:
        raise ChairsideError(
            f"No concern {segment!r} has a version here. The versions: "
            f"{', '.join(prepared.rendered)}."
        )
    warn_if_blocked(workspace)  # what `chairside doctor` last found about delivery
    if not test_address:
        from chairside.returnpath.freshness import echo_unsynced

        echo_unsynced(workspace, campaign=name)
    if dry_run:
        _print_dry_run(workspace, prepared, resend_unknown, retry_failed)
        return
    settings = resolve(
        prepared.practice.smtp, host=smtp_host, port=smtp_port, user=smtp_user, security=security
    )
    if test_address:
        from email_validator import EmailNotValidError, validate_email

        try:
            validate_email(test_address, check_deliverability=False)
        except EmailNotValidError as exc:
            raise click.BadParameter(str(exc), param_hint="--test") from None
        replies = send_tests(prepared, settings, test_address, segment=segment)
        for variant, reply in replies:
            click.echo(f"  [TEST {variant}] to {test_address}: {reply}")
        if not segment and not any(reply.startswith("not sent") for _, reply in replies):
            from chairside.autopilot.approval import record_test

            record_test(workspace, name, test_address)  # what `approve` asks for
        return

    stop = threading.Event()

    def finish_current(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        click.echo("\nStopping after the current message (Ctrl-C again to stop now)...", err=True)

    previous = {sig: signal.signal(sig, finish_current) for sig in (signal.SIGINT, signal.SIGTERM)}
    bar = None

    def on_start(total: int) -> None:
        nonlocal bar
        bar = click.progressbar(length=total, label=f"Sending {name}", file=sys.stderr)
        bar.__enter__()

    try:
        report = send_campaign(
            workspace,
            prepared,
            settings,
            retry=RetryPolicy(retries=retries, base=retry_delay),
            rate=rate,
            connections=connections,
            pipelining=not no_pipelining,
            resend_unknown=resend_unknown,
            retry_failed=retry_failed,
            continue_from_copy=continue_from_copy,
            stop=stop,
            on_start=on_start,
            on_message=lambda: bar.update(1) if bar else None,
        )
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo("\n".join(summary(report)))
    finish(report)  # the server's refusal (exit 1), or DeliveryIncomplete (exit 3)
    if report.stopped:
        raise SystemExit(130)


def _print_dry_run(workspace, prepared, resend_unknown: bool, retry_failed: bool) -> None:
    from chairside.delivery import state_dir
    from chairside.ledger import open_ledger
    from chairside.sending import plan

    with open_ledger(state_dir(workspace)) as ledger:
        for note in ledger.trust(
            prepared.campaign.name
        ):  # what the send would refuse, it refuses here too
            click.echo(note)
        work = plan(
            prepared,
            ledger.statuses(prepared.campaign.name),
            resend_unknown=resend_unknown,
            retry_failed=retry_failed,
        )
    click.echo(f"Dry run of {prepared.campaign.name}: nothing is sent.")
    click.echo(f"  would send {len(work.to_send)} messages from {prepared.practice.from_email}")
    counts: dict[str, int] = {}
    for patient in work.to_send:
        counts[patient.segment] = counts.get(patient.segment, 0) + 1
    for segment, rendered in prepared.rendered.items():
        click.echo(f"    {segment:<16} {counts.get(segment, 0):>6}  subject: {rendered.subject}")
    for segment, count in prepared.fallen_back.items():
        gets = f"{plural(count, 'patient')} {'gets' if count == 1 else 'get'}"
        click.echo(f"    {segment}: no post this month → {gets} the general version")
    click.echo(
        f"  already sent {work.already_sent}, unknown {len(work.unknown)}, "
        f"failed before {work.failed_before}"
    )


@click.command()
@click.argument("name")
@audience_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (for scripts).")
@click.option("--show", is_flag=True, help="Show full addresses (masked otherwise).")
@pass_options
def status(
    options: Options, name: str, audience_file: Path | None, as_json: bool, show: bool
) -> None:
    """Show how far sending campaign NAME has got: sent, failed, unknown, pending.

    Failed: the patient's mailbox refused it for good. Deferred: refused for now, tried
    again by the next send. Unknown: the message went out but the server's answer never
    came back (a crash or a dropped line), so it may or may not have arrived. Pending: not
    sent yet.

    \b
    Examples:
      chairside status 2026-12
      chairside status 2026-12 --json
    """
    import json

    from chairside.audience.patients import load_audience
    from chairside.campaign import campaign_file
    from chairside.delivery import state_dir
    from chairside.status import campaign_status

    workspace = options.workspace()
    campaign_file(workspace, name)  # a typo in NAME is an error, not an empty status
    audience = load_audience(workspace, audience_file)
    found = campaign_status(name, audience, state=state_dir(workspace), show=show)
    if as_json:
        click.echo(json.dumps(found.as_dict(), indent=2))
        return
    click.echo(f"{name}{' (sending now)' if found.running else ''}:")
    if found.copy_doubt:
        click.echo(f"  Note: {found.copy_doubt}")
    click.echo(f"  sent      {found.sent:>7}")
    click.echo(f"  failed    {len(found.failed):>7}")
    for item in found.failed:
        click.echo(f"    {item['email']}: {item['reason']}")
    click.echo(f"  deferred  {len(found.deferred):>7}  (tried again by the next send)")
    click.echo(
        f"  unknown   {len(found.unknown):>7}"
        + ("  (in flight)" if found.running else "  (resend with --resend-unknown)")
    )
    click.echo(f"  pending   {found.pending:>7}")


@click.command("rebuild-ledger")
@click.argument("name")
@pass_options
def rebuild_ledger(options: Options, name: str) -> None:
    """Rebuild the ledger of campaign NAME (who was sent it) from its journal.

    The ledger (.chairside/state.db) records each patient's message: sent, failed,
    deferred, unknown or pending. `status` refuses to go on when it has lost NAME's
    records, is older than its journal (the campaign's sent log,
    campaigns/NAME/sent-log.jsonl) or disagrees with it: sending then could give patients
    the campaign twice. (`send` and `export --push` rebuild it themselves when the ledger
    holds nothing the sent log lacks.) The journal is written before every message is
    handed over, so the rebuilt ledger forgets nobody who was sent it; patients who were
    in flight are reported as unknown (their message went out, but its answer never came
    back). A state.db that cannot be opened at all is moved aside
    (state.db.unusable-TIME), never deleted.

    \b
    Example:
      chairside rebuild-ledger 2026-12
      chairside status 2026-12
    """
    from chairside.campaign import check_name
    from chairside.delivery import state_dir
    from chairside.ledger import campaign_lock
    from chairside.ledger import rebuild_ledger as rebuild
    from chairside.sendsummary import rebuilt

    state = state_dir(options.workspace())
    check_name(name)  # a journal may outlive its campaign folder, so only the name is checked
    with campaign_lock(state, name, holder="rebuild-ledger"):
        counts, moved = rebuild(state, name)
    click.echo("\n".join(rebuilt(name, counts, moved)))
