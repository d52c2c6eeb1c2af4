"""Setting up a practice folder: `init`, and `templates` to change the theme."""

from __future__ import annotations

from pathlib import Path

import click

from chairside.commands.options import Options, pass_options


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--name", help="The practice's name, as patients know it.")
@click.option(
    "--address",
    help='Postal address shown in every email, e.g. "12 Main St, Springfield, IL 62701".',
)
@click.option("--phone", help="The phone number patients call.")
@click.option("--email", "from_email", help="The address newsletters come from.")
@click.option("--website", help="The practice's website, e.g. https://example.com.")
def init(directory: Path, **answers: str | None) -> None:
    """Create a new practice folder, ready for its first newsletter.

    Writes practice.toml (with the mail server's and the mailbox's settings written out
    but commented, ready to fill in), the concerns, an empty patient list, and next
    month's newsletter (campaigns/YYYY-MM/) with a welcome post; add your own posts to it
    with `chairside new YYYY-MM --add --post FILE`. Asks for anything not given as an
    option when run in a terminal; otherwise leaves TODO placeholders in practice.toml for
    you to fill in. Never overwrites an existing practice folder.

    \b
    Example:
      chairside init ~/my-practice --name "Lakeside Dental" \\
          --address "12 Main St, Springfield, IL 62701" --phone "(217) 555-0100" \\
          --email news@lakesidedental.com --website https://lakesidedental.com
    """
    from chairside.commands import options  # looked up there: a test stands in for the terminal
    from chairside.scaffold import scaffold

    result = scaffold(directory, answers, interactive=options.stdin_is_terminal())
    click.echo(f"Created a practice folder in {result.root}")
    click.echo(
        f"  your first newsletter: {result.campaign} (campaigns/{result.campaign}/, with a "
        "welcome post to keep or remove)"
    )
    if result.todo:
        click.echo(f"  still to fill in, in practice.toml: {', '.join(result.todo)}")
    click.echo(
        f"Next: cd {directory}, add your posts with "
        f"`chairside new {result.campaign} --add --post FILE` (or --feed), then "
        f"`chairside build {result.campaign}`"
    )


@click.command()
@click.option(
    "--copy",
    "to_copy",
    multiple=True,
    metavar="FILE",
    help="Copy this built-in theme file into templates/ to edit it. Repeatable.",
)
@pass_options
def templates(options: Options, to_copy: tuple[str, ...]) -> None:
    """List the built-in theme files, or copy one into templates/ to change it.

    A file in your templates/ folder replaces the built-in file of the same name.

    \b
    Examples:
      chairside templates
      chairside templates --copy article.mjml
    """
    from chairside.templates import copy_template, theme_files

    workspace = options.workspace()
    for name in to_copy:
        target = copy_template(name, workspace.templates_dir)
        click.echo(f"Copied {name} to {workspace.relative(target)}: edit it, then build.")
    if to_copy:
        return
    for name in theme_files():
        mine = (workspace.templates_dir / name).is_file()
        click.echo(f"  {name:<18} {'yours: templates/' + name if mine else 'built-in'}")
