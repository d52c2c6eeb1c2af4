"""The command line: parse, call the library, print. Nothing else lives here.

This module holds the `chairside` group and its `-C` option; each command lives in
`chairside.commands` (one module per command or per related pair) and is added below.
"""

from __future__ import annotations

from pathlib import Path

import click

from chairside import __version__
from chairside.commands.audience import audience, unsubscribe
from chairside.commands.autopilot import approve, due, schedule, unapprove
from chairside.commands.campaign import build, check, new, preview
from chairside.commands.campaigns import campaign
from chairside.commands.doctor import dkim, doctor
from chairside.commands.export import export, providers
from chairside.commands.options import Options
from chairside.commands.practice import init, templates
from chairside.commands.returnpath import inbox, report, sync
from chairside.commands.secrets import secrets
from chairside.commands.send import rebuild_ledger, send, status
from chairside.commands.studio import studio


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "-C",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=".",
    show_default=False,
    help="Run in this practice folder instead of the current one.",
)
@click.version_option(__version__, prog_name="chairside")
@click.pass_context
def cli(ctx: click.Context, directory: Path) -> None:
    """Turn your practice's blog posts into its patient-education newsletter.

    Work happens in a practice folder (the one holding practice.toml; Chairside looks in
    the current folder and the folders above it, like git).

    A concern is what a patient has (jaw/TMJ, neck & shoulder); each concern's patients get
    their own version of the email, leading with the posts about it, and everyone else the
    general version.

    \b
    Typical month:
      chairside new 2026-12 --feed https://your-practice.com/feed --since 2026-11-01
      chairside build 2026-12
      chairside preview 2026-12 --open
      chairside audience --campaign 2026-12
      chairside check 2026-12
      chairside doctor
      chairside send 2026-12 --test office@your-practice.com
      chairside send 2026-12
      chairside inbox && chairside report 2026-12

    \b
    From then on, on autopilot:
      chairside new --next
      chairside approve 2027-01
      chairside schedule 2027-01 --at "2027-01-05 09:00"

    Or do the same month in your browser: chairside studio
    """
    ctx.obj = Options(directory)


for _command in (
    init,
    new,
    campaign,
    build,
    check,
    preview,
    templates,
    audience,
    unsubscribe,
    export,
    providers,
    send,
    status,
    rebuild_ledger,
    inbox,
    sync,
    report,
    studio,
    secrets,
    approve,
    unapprove,
    schedule,
    due,
    doctor,
    dkim,
):
    cli.add_command(_command)


def main() -> None:
    cli(prog_name="chairside")
