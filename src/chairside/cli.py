"""The command line: parse, call the library, print. Nothing else lives here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click

from chairside import __version__


@dataclass
class Options:
    directory: Path

    def workspace(self):
        from chairside.workspace import find_workspace

        return find_workspace(self.directory)


pass_options = click.make_pass_decorator(Options)


def stdin_is_terminal() -> bool:
    """Whether a person can answer questions (not a script, a pipe or CI)."""
    return click.get_text_stream("stdin").isatty()


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

    \b
    Typical month:
      chairside new 2026-12 --post ~/Documents/jaw-pain.txt
      chairside build 2026-12
      chairside preview 2026-12 --open
    """
    ctx.obj = Options(directory)


@cli.command()
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

    Asks for anything not given as an option when run in a terminal; otherwise leaves
    TODO placeholders in practice.toml for you to fill in. Never overwrites an existing
    practice folder.

    \b
    Example:
      chairside init ~/my-practice --name "Lakeside Dental" \\
          --address "12 Main St, Springfield, IL 62701" --phone "(217) 555-0100" \\
          --email news@lakesidedental.com --website https://lakesidedental.com
    """
    from chairside.scaffold import scaffold

    result = scaffold(directory, answers, interactive=stdin_is_terminal())
    click.echo(f"Created a practice folder in {result.root}")
    click.echo(f"  first campaign: campaigns/{result.campaign}/")
    if result.todo:
        click.echo(f"  still to fill in, in practice.toml: {', '.join(result.todo)}")
    click.echo(f"Next: cd {directory} && chairside build {result.campaign}")


@cli.command()
@click.argument("name")
@click.option(
    "--post",
    "posts",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="A blog post file (.txt, .md, .html) to include. Repeat for several.",
)
@click.option(
    "--feed",
    "feeds",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="A saved RSS or Atom feed (e.g. your blog's /feed/ saved as feed.xml). Repeatable.",
)
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="With --feed: only posts published on or after this date (YYYY-MM-DD).",
)
@pass_options
def new(
    options: Options, name: str, posts: tuple[Path, ...], feeds: tuple[Path, ...], since
) -> None:
    """Start campaign NAME from blog posts and saved feeds.

    Copies the posts into campaigns/NAME/posts/, and writes campaigns/NAME/campaign.toml
    with a subject, preheader and intro to edit, and each post's concerns (tags) found
    from its words.

    \b
    Example:
      chairside new 2027-01 --feed ~/Downloads/feed.xml --since 2026-12-01 \\
          --post ~/notes/jaw.md
    """
    from chairside.newcampaign import create_campaign

    if since and not feeds:
        raise click.UsageError("--since filters feed entries; give it with --feed.")
    result = create_campaign(
        options.workspace(),
        name,
        posts=posts,
        feeds=feeds,
        since=since.date() if since else None,
    )
    count = len(result.posts)
    click.echo(f"Created {result.folder} with {count} post{'' if count == 1 else 's'}:")
    for post in result.posts:
        tags = ", ".join(post.tags) or "office news (everyone)"
        click.echo(f"  {post.file}: {tags}")
    for note in result.notes:
        click.echo(f"  note: {note}")
    click.echo(
        f"Edit the subject and intro in {result.folder}/campaign.toml, then: chairside build {name}"
    )


@cli.command()
@click.argument("name")
@pass_options
def build(options: Options, name: str) -> None:
    """Build campaign NAME into build/NAME/: one email per segment, and a preview page.

    Writes build/NAME/<segment>.html and .txt (as a sample patient would see them; never a
    real patient's details), manifest.json and index.html.

    \b
    Example:
      chairside build 2026-12
    """
    from chairside.build import build as run_build

    workspace = options.workspace()
    result = run_build(workspace, name)
    click.echo(
        f"Built {name}: {len(result.rendered)} variants in {workspace.relative(result.out_dir)}/"
    )
    for variant, rendered in zip(result.campaign.variants, result.rendered, strict=True):
        size = len(rendered.html.encode()) / 1024
        click.echo(
            f"  {variant.segment.id:<16} {len(variant.articles)} post(s)  {size:5.1f} KB  "
            f"{variant.segment.name}"
        )
    if result.practice.todo:
        click.echo(
            f"warning: practice.toml still has TODO values: {', '.join(result.practice.todo)}"
        )
    click.echo(f"Preview: chairside preview {name} --open")


@cli.command()
@click.argument("name")
@click.option("--segment", "-s", help="Show this segment's variant (default: general).")
@click.option(
    "--text", "show_text", is_flag=True, help="Print the plain-text version (the default)."
)
@click.option(
    "--open", "open_browser", is_flag=True, help="Open the preview page in your web browser."
)
@pass_options
def preview(
    options: Options, name: str, segment: str | None, show_text: bool, open_browser: bool
) -> None:
    """Build campaign NAME and show it: the text version here, or the page in a browser.

    The preview page shows every variant's subject, preheader, and the email at desktop
    (600 px) and mobile (375 px) width, beside its text version.

    \b
    Examples:
      chairside preview 2026-12 --open
      chairside preview 2026-12 --segment tmj --text
    """
    from chairside.build import build as run_build
    from chairside.errors import ChairsideError

    workspace = options.workspace()
    result = run_build(workspace, name)
    ids = [v.segment.id for v in result.campaign.variants]
    chosen = segment or "general"
    if chosen not in ids:
        raise ChairsideError(f"No segment {chosen!r} in {name}. Segments: {', '.join(ids)}.")
    if open_browser:
        page = result.out_dir / ("index.html" if segment is None else f"{chosen}.html")
        click.echo(f"Opening {workspace.relative(page)}")
        click.launch(str(page))
        if not show_text:
            return
    click.echo((result.out_dir / f"{chosen}.txt").read_text(encoding="utf-8"), nl=False)


@cli.command()
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


def audience_option(command):
    """`--audience FILE`, for every command that reads the patient list."""
    return click.option(
        "--audience",
        "audience_file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Read patients from this CSV instead of audiences/patients.csv.",
    )(command)


@cli.command()
@audience_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (for scripts).")
@click.option("--show", is_flag=True, help="Also print addresses and names (masked otherwise).")
@pass_options
def audience(options: Options, audience_file: Path | None, as_json: bool, show: bool) -> None:
    """Check the patient list: who can be emailed, in which segment, and which rows can't.

    Reads audiences/patients.csv as your practice software exported it (any common
    encoding, separator and column names), and reports rows read, patients per segment,
    rejected rows with their line and reason, duplicates merged, suppressed patients and
    patients without consent. Addresses are masked unless you pass --show.

    \b
    Examples:
      chairside audience
      chairside audience --audience ~/Downloads/export.csv --json
    """
    import json

    from chairside.audience import report
    from chairside.audience.patients import load_audience
    from chairside.audience.segments import load_segments

    workspace = options.workspace()
    found = load_audience(workspace, audience_file)
    segments = load_segments(workspace.segments_file)
    label = workspace.relative(found.source)
    if as_json:
        click.echo(json.dumps(report.as_dict(found, segments, label=label, show=show), indent=2))
    else:
        click.echo("\n".join(report.as_lines(found, segments, label=label, show=show)))


@cli.command()
@click.argument("emails", nargs=-1)
@click.option(
    "--import",
    "import_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A provider's unsubscribe or bounce export (CSV with an email column).",
)
@click.option("--reason", default="unsubscribed", show_default=True, help="Why, for the record.")
@pass_options
def unsubscribe(
    options: Options, emails: tuple[str, ...], import_file: Path | None, reason: str
) -> None:
    """Never email these addresses again: add them to audiences/suppressed.csv.

    Safe to repeat: addresses already there are left as they are.

    \b
    Examples:
      chairside unsubscribe maria.lopez@example.com
      chairside unsubscribe --import ~/Downloads/mailchimp-unsubscribed.csv
    """
    from chairside.audience.suppression import add_suppressions, entries_from_export
    from chairside.errors import ChairsideError

    if not emails and import_file is None:
        raise click.UsageError("give one or more addresses, or --import FILE")
    workspace = options.workspace()
    entries = [(email, reason, repr(email)) for email in emails]
    if import_file is not None:
        entries += entries_from_export(import_file)
    result = add_suppressions(workspace.suppressed_file, entries)
    target = workspace.relative(workspace.suppressed_file)
    click.echo(f"{target}: {len(result.added)} added, {result.already} already there.")
    if result.invalid:
        listed = "\n".join(f"  {where}: {why}" for where, why in result.invalid)
        raise ChairsideError(f"{len(result.invalid)} not added, not an address:\n{listed}")


def main() -> None:
    cli(prog_name="chairside")
