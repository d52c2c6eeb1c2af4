"""Handing a campaign to another program: `export`, and `providers` to list where."""

from __future__ import annotations

from pathlib import Path

import click

from chairside.commands.options import Options, audience_option, pass_options


@click.command()
@click.argument("name")
@click.option(
    "--to",
    "destination",
    type=click.Choice(["eml", "mbox", "mailchimp", "sendgrid", "mailgun"]),
    required=True,
    help="eml: a folder of .eml files; mbox: one mailbox file; mailchimp, sendgrid, "
    "mailgun: a bundle to upload to that provider (or --push it).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="The folder (eml and providers) or file (mbox) to write.",
)
@click.option(
    "--push",
    is_flag=True,
    help="Send to the provider's API instead of writing files (key from "
    "MAILCHIMP_API_KEY, SENDGRID_API_KEY or MAILGUN_API_KEY, or this computer's keychain: "
    "chairside secrets set mailchimp|sendgrid|mailgun).",
)
@click.option(
    "--api-base",
    metavar="URL",
    help="Push to this API address instead (or CHAIRSIDE_<PROVIDER>_API_BASE).",
)
@click.option(
    "--audience-id",
    help="Mailchimp audience (list) id (or [providers.mailchimp] "
    "audience_id, or MAILCHIMP_AUDIENCE_ID).",
)
@click.option(
    "--domain", help="Mailgun sending domain (or [providers.mailgun] domain, or MAILGUN_DOMAIN)."
)
@click.option(
    "--schedule",
    metavar="TIME",
    help="With --push: deliver at TIME (ISO 8601 with a time zone, e.g. "
    "2026-12-01T09:00-05:00). SendGrid: up to 72 h ahead; Mailgun: 3 days (schedule_days); "
    "Mailchimp: on a quarter hour. Checked before anything is sent.",
)
@click.option(
    "--resend-unknown",
    is_flag=True,
    help='Also push patients a crashed push left in doubt, "unknown" (they may get it twice).',
)
@click.option(
    "--continue-from-copy",
    is_flag=True,
    help="With --push: this folder is the latest copy of the practice; continue a push "
    "started from another computer or copy (see `chairside send --help`).",
)
@click.option(
    "--without-baa",
    is_flag=True,
    help="Push (or write a bundle of) a concern's version for a provider without a business "
    "associate agreement (BAA: the HIPAA contract that lets a provider hold health "
    "information).",
)
@click.option(
    "--concern-tags",
    is_flag=True,
    help="Name the tags after concerns (2026-12-tmj) instead of codes that say nothing "
    "about a patient (2026-12-a).",
)
@click.option("--force", is_flag=True, help="Export even while `chairside check` finds errors.")
@click.option(
    "--retry-delay",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    metavar="SECONDS",
    help="First wait before retrying a request that never arrived or only read; doubles each time.",
)
@audience_option
@pass_options
def export(
    options: Options,
    name: str,
    destination: str,
    out: Path | None,
    push: bool,
    api_base: str | None,
    audience_id: str | None,
    domain: str | None,
    schedule: str | None,
    resend_unknown: bool,
    continue_from_copy: bool,
    without_baa: bool,
    concern_tags: bool,
    force: bool,
    retry_delay: float,
    audience_file: Path | None,
) -> None:
    """Write campaign NAME for another program: files, or an email provider.

    --to eml/mbox writes the exact messages `chairside send` would deliver, one per
    sendable patient (file names carry no address). --to mailchimp/sendgrid/mailgun writes
    a bundle to upload by hand: each version's HTML and text with the provider's merge
    tags, the audience in the provider's import format, and README.txt saying which file
    goes where; with --push it goes through the provider's API instead, resumably.

    Only address, first name and a tag naming the version by a code that says nothing
    about the patient (2026-12-a) leave the computer. Pushing a concern's version, or
    writing it into a bundle, tells the provider something about those patients' health,
    so it needs baa = true under [providers.NAME] in practice.toml (the practice has a
    business associate agreement, BAA, with the provider: the HIPAA contract for holding
    health information) or --without-baa.

    A push holds the campaign's lock (a `send` or second push of it is refused meanwhile) and
    ends with one summary: handed over now, before, rejected, unknown (in doubt: the
    provider's answer never came back), pending. Exit code
    0: everyone handed over; 3: someone rejected, unknown or pending; 1: the push stopped
    (the message says why; run it again to resume).

    \b
    Examples:
      chairside export 2026-12 --to eml --out ~/Desktop/december
      chairside export 2026-12 --to mbox --out ~/Desktop/december.mbox
      chairside export 2026-12 --to mailchimp --out ~/Desktop/december-mailchimp
      chairside export 2026-12 --to mailchimp --push --audience-id a1b2c3
      chairside export 2026-12 --to sendgrid --push \\
          --schedule 2026-12-01T09:00-05:00
    """
    from chairside.delivery import prepare
    from chairside.providers import provider_class
    from chairside.providers.base import check_baa
    from chairside.providers.push import echo_report, finish
    from chairside.providers.push import push as run_push

    if push == (out is not None):
        raise click.UsageError("give --out FOLDER to write files, or --push (not both)")
    if push and destination in ("eml", "mbox"):
        raise click.UsageError(f"--push goes to a provider; {destination} is written with --out")
    if schedule and destination in ("eml", "mbox"):
        raise click.UsageError(
            f"--to {destination} cannot schedule: files are sent when someone sends them. "
            "Leave out --schedule. Nothing was written."
        )
    if schedule and not push:
        raise click.UsageError(
            "--schedule needs --push: an upload bundle cannot schedule itself (schedule the "
            "send in the provider after uploading). Nothing was written."
        )
    from chairside.checks import refuse_if_errors

    workspace = options.workspace()
    prepared = prepare(workspace, name, audience_file=audience_file)
    provider = provider_class(destination)(
        prepared,
        concern_tags=concern_tags,
        options={"audience_id": audience_id, "domain": domain, "retry_delay": str(retry_delay)},
    )
    provider.check(schedule)  # settings and --schedule, before anything is written or sent
    refuse_if_errors(workspace, prepared, force=force)
    # A bundle pairs each tag with its version's HTML as a push does: the same gate.
    if destination not in ("eml", "mbox"):
        warning = check_baa(provider, without_baa=without_baa, pushing=push)
        if warning:
            click.echo(warning, err=True)
    if not push:
        click.echo(f"Wrote {provider.export(out)}")
        return
    from chairside.returnpath.freshness import echo_unsynced

    echo_unsynced(workspace, campaign=name)
    report = run_push(
        workspace,
        provider,
        api_base=api_base,
        resend_unknown=resend_unknown,
        continue_from_copy=continue_from_copy,
    )
    echo_report(report)
    finish(report)


@click.command()
def providers() -> None:
    """List where a campaign can go, and what each destination supports.

    \b
    Example:
      chairside providers
    """
    from chairside.providers import MODULES, provider_class

    for name in MODULES:
        cls = provider_class(name)
        click.echo(f"  {name:<10} {cls.title:<14} {'; '.join(cls.features())}")
