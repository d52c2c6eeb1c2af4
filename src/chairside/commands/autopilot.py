"""The month on autopilot: `approve`, `unapprove`, `schedule` and `due`."""

from __future__ import annotations

import click

from chairside.commands.options import Options, pass_options


@click.command()
@click.argument("name")
@click.option("--by", default="", help="Who approves (default: your name on this computer).")
@pass_options
def approve(options: Options, name: str, by: str) -> None:
    """Approve campaign NAME to go out as it is now.

    Only when `chairside check` finds no error and a test has been sent since the last
    change (`chairside send NAME --test ADDRESS`). Any later change to its text, posts,
    the practice's details or look voids the approval; a scheduled campaign that is not
    approved is not sent.

    \b
    Example:
      chairside send 2027-01 --test office@your-practice.com
      chairside approve 2027-01
    """
    from chairside.autopilot.approval import approve as run_approve

    who = run_approve(options.workspace(), name, by=by)
    click.echo(f"{name} approved by {who}. Any change to it from now on needs a new approval.")


@click.command()
@click.argument("name")
@pass_options
def unapprove(options: Options, name: str) -> None:
    """Withdraw the approval of campaign NAME (a scheduled send then waits).

    \b
    Example:
      chairside unapprove 2027-01
    """
    from chairside.autopilot.approval import unapprove as run_unapprove

    if run_unapprove(options.workspace(), name):
        click.echo(f"{name} is no longer approved; it will not go out until approved again.")
    else:
        click.echo(f"{name} was not approved; nothing changed.")


@click.command()
@click.argument("name", required=False)
@click.option("--at", "at", metavar="TIME", help='When to send: "2027-01-05 09:00" (local time).')
@click.option(
    "--route",
    type=click.Choice(["smtp", "mailchimp", "sendgrid", "mailgun"]),
    default="smtp",
    show_default=True,
    help="How it goes: your mail server, or a provider.",
)
@click.option(
    "--window",
    type=click.FloatRange(min=0.25),
    default=24.0,
    show_default=True,
    metavar="HOURS",
    help="If the computer was off at the time, still send within this many hours after it.",
)
@click.option("--cancel", is_flag=True, help="Take NAME off the schedule.")
@click.option(
    "--install", is_flag=True, help="Make this computer run `chairside due` every 15 min."
)
@click.option("--uninstall", is_flag=True, help="Stop running `chairside due` for this folder.")
@click.option("--print", "print_only", is_flag=True, help="With --install: show, add nothing.")
@pass_options
def schedule(
    options: Options,
    name: str | None,
    at: str | None,
    route: str,
    window: float,
    cancel: bool,
    install: bool,
    uninstall: bool,
    print_only: bool,
) -> None:
    """Schedule campaign NAME to go out on its own at a time, once it is approved.

    The time is the practice's local time ([schedule] timezone in practice.toml, else
    this computer's), stored with its offset. `chairside due`, run every 15 minutes,
    sends it when the time comes — only if it is approved and `check` finds no error;
    otherwise it waits and the office is told by email. Without NAME, lists what is
    scheduled. `--install` adds `chairside due` to this computer's scheduler (systemd or
    cron on Linux, launchd on macOS, Task Scheduler on Windows).

    \b
    Examples:
      chairside schedule 2027-01 --at "2027-01-05 09:00"
      chairside schedule 2027-01 --at "2027-01-05 09:00" --route mailchimp
      chairside schedule 2027-01 --cancel
      chairside schedule --install --print
      chairside schedule --install
    """
    from chairside.autopilot import installer
    from chairside.autopilot.month import stage
    from chairside.autopilot.schedule import cancel as run_cancel
    from chairside.autopilot.schedule import schedule as run_schedule
    from chairside.autopilot.schedule import scheduled

    workspace = options.workspace()
    if install or uninstall:
        if name or at or cancel or (install and uninstall):
            raise click.UsageError("--install or --uninstall go alone (with --print).")
        if uninstall:
            removed = installer.uninstall(workspace)
            click.echo("Removed." if removed else "Nothing of this folder's was installed.")
            return
        if print_only:
            chosen = installer.plan(workspace)
            click.echo(f"It would add to {chosen.scheduler} {chosen.what}")
            return
        chosen = installer.install(workspace)
        click.echo(f"Added to {chosen.scheduler}: `chairside due` runs every 15 minutes.")
        return
    if print_only:
        raise click.UsageError("--print goes with --install.")
    if not name:
        if at or cancel:
            raise click.UsageError("Name the campaign: chairside schedule NAME --at TIME")
        found = scheduled(workspace)
        if not found:
            click.echo("Nothing is scheduled.")
        for campaign, _ in found:
            current = stage(workspace, campaign)
            click.echo(f"{campaign}: {current.word}. {current.detail}")
        return
    if cancel:
        if at:
            raise click.UsageError("--cancel and --at go separately.")
        done = run_cancel(workspace, name)
        click.echo(f"{name} is off the schedule." if done else f"{name} was not scheduled.")
        return
    if not at:
        raise click.UsageError('Say when: --at "2027-01-05 09:00" (or --cancel).')
    run_schedule(workspace, name, at, route=route, window_hours=window)
    current = stage(workspace, name)
    click.echo(f"{name}: {current.word}. {current.detail}")
    if current.word != "scheduled" or "once approved" in current.detail:
        click.echo(f"Approve it before then: chairside approve {name}")
    click.echo("`chairside due` must run every 15 minutes: chairside schedule --install")


@click.command()
@pass_options
def due(options: Options) -> None:
    """Send every approved campaign whose scheduled time has come, and nothing else.

    Meant to run every 15 minutes (`chairside schedule --install` sets that up). A
    campaign that is not approved, or whose checks now fail, is not sent: the reason is
    recorded and the office told by email. Running it twice at once, or again after it
    was stopped, sends nobody twice. Exit code 1 when a campaign was held or stopped.

    \b
    Example:
      chairside due
    """
    from chairside.autopilot.due import due as run_due

    outcomes = run_due(options.workspace())
    for outcome in outcomes:
        click.echo(f"{outcome.campaign}: {outcome.action}: {outcome.message}")
    if any(o.action in ("held", "error") for o in outcomes):
        raise SystemExit(1)
