"""`chairside campaign`: what the studio's campaign operations do, from the command line."""

from __future__ import annotations

import click

from chairside.commands.options import Options, pass_options


@click.group()
def campaign() -> None:
    """Change a campaign after `new`: remove a post, copy it, delete a draft.

    The same operations as the studio's Campaigns and Edit pages; posts are added with
    `chairside new NAME --add`. The order of the posts is the order of their [[posts]]
    sections in campaign.toml.

    \b
    Examples:
      chairside new 2027-01 --add --post ~/notes/night-guards.md
      chairside campaign remove 2027-01 holiday-hours.md
      chairside campaign copy 2026-12 2027-01
      chairside campaign delete 2027-01
    """


@campaign.command("remove")
@click.argument("name")
@click.argument("file")
@pass_options
def remove(options: Options, name: str, file: str) -> None:
    """Take post FILE out of campaign NAME (its [[posts]] section and its file).

    \b
    Example:
      chairside campaign remove 2027-01 holiday-hours.md
    """
    from chairside.campaignops import remove_post

    remove_post(options.workspace(), name, file)
    click.echo(f"removed {file} from {name}")


@campaign.command("copy")
@click.argument("source")
@click.argument("name")
@pass_options
def copy(options: Options, source: str, name: str) -> None:
    """Start campaign NAME as a copy of SOURCE: its settings and posts, nothing of its
    sending.

    \b
    Example:
      chairside campaign copy 2026-12 2027-01
    """
    from chairside.campaignops import copy_campaign

    folder = copy_campaign(options.workspace(), source, name)
    click.echo(f"created {folder} from {source}: edit its subject, intro and posts")


@campaign.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Delete without asking.")
@pass_options
def delete(options: Options, name: str, yes: bool) -> None:
    """Delete campaign NAME, only if nothing of it was ever sent or pushed.

    \b
    Example:
      chairside campaign delete 2027-01 --yes
    """
    from chairside.campaignops import delete_draft

    workspace = options.workspace()
    if not yes:
        click.confirm(f"Delete {name}, its posts and its previews? It cannot be undone", abort=True)
    delete_draft(workspace, name)
    click.echo(f"deleted {name}")
