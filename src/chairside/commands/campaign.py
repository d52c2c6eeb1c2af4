"""Making a campaign: `new`, then `build`, `check` and `preview` it."""

from __future__ import annotations

from pathlib import Path

import click

from chairside.commands.options import Options, concern_option, pass_options
from chairside.words import plural


@click.command()
@click.argument("name", required=False)
@click.option(
    "--next",
    "next_month",
    is_flag=True,
    help="Draft next month's campaign from the posts published on the blog ([feed] url in "
    "practice.toml, or --feed) since the last campaign went out, and email the office a test.",
)
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
    metavar="URL|FILE",
    help="Your blog's RSS or Atom feed: its address (https://example.com/feed/, fetched "
    "now) or a saved file. Repeatable.",
)
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="With --feed: only posts published on or after this date (YYYY-MM-DD).",
)
@click.option(
    "--base-url",
    metavar="URL",
    help="With --post: the web address the post was published at, for a saved page or "
    "post that does not say (its relative links and images are resolved against it).",
)
@click.option(
    "--add",
    is_flag=True,
    help="Add the posts to campaign NAME, which already exists (such as the one "
    "`chairside init` started), after the posts it has.",
)
@pass_options
def new(
    options: Options,
    name: str,
    posts: tuple[Path, ...],
    feeds: tuple[str, ...],
    since,
    base_url: str | None,
    add: bool,
    next_month: bool,
) -> None:
    """Start campaign NAME from blog posts and feeds (or next month's with --next).

    Copies the posts into campaigns/NAME/posts/, and writes campaigns/NAME/campaign.toml
    with a subject, preheader and intro to edit, and each post's concerns (tags) found
    from its words. For each post it prints the concerns given with the three phrases that
    weighed most and where they stood (title, heading, body, list), and any concern it
    almost gave. A feed given by its address is fetched now (the only time Chairside
    reads posts from the internet); `build` and everything after work offline.

    \b
    Examples:
      chairside new 2027-01 --feed https://blog.example.com/feed/ --since 2026-12-01
      chairside new 2027-01 --feed ~/Downloads/feed.xml --post ~/notes/jaw.md
      chairside new 2027-01 --post saved-page.html \\
          --base-url https://blog.example.com/2026/12/jaw-pain/
      chairside new --next
    """
    from chairside.newcampaign import add_posts, create_campaign

    if next_month:
        if name or posts or since or base_url or add or len(feeds) > 1:
            raise click.UsageError(
                "--next names the campaign and finds the posts itself; "
                "give it alone (or with one --feed)."
            )
        _new_next(options, feeds[0] if feeds else None)
        return
    if not name:
        raise click.UsageError("Name the campaign (e.g. 2027-01), or use --next.")

    if since and not feeds:
        raise click.UsageError("--since filters feed entries; give it with --feed.")
    if base_url and not posts:
        raise click.UsageError("--base-url is the address of the --post files; give them too.")
    if add and not (posts or feeds):
        raise click.UsageError("--add adds posts: give them with --post FILE or --feed URL|FILE.")
    result = (add_posts if add else create_campaign)(
        options.workspace(),
        name,
        posts=posts,
        feeds=feeds,
        since=since.date() if since else None,
        base_url=base_url,
    )
    _echo_created(result, added=add)
    click.echo(
        f"Edit the subject and intro in {result.folder}/campaign.toml, then: chairside build {name}"
    )


def _new_next(options: Options, feed: str | None) -> None:
    from chairside.autopilot.draft import draft_next
    from chairside.autopilot.office import send_proof

    workspace = options.workspace()
    drafted = draft_next(workspace, feed=feed)
    _echo_created(drafted.created)
    click.echo(f"  posts published since {drafted.since:%d %B %Y} ({drafted.since_why})")
    click.echo("  subject, preview text and intro drafted from the posts: read them over")
    proof = send_proof(workspace, drafted.name, why=f"{drafted.name} was drafted from the blog.")
    click.echo(f"  {proof}")
    click.echo(f"Next: chairside approve {drafted.name}, then chairside schedule {drafted.name}")


def _echo_created(result, *, added: bool = False) -> None:
    count = len(result.posts)
    posts_shown = f"{count} post{'' if count == 1 else 's'}"
    if added:
        click.echo(f"Added {posts_shown} to {result.folder}:")
    else:
        click.echo(f"Created {result.folder} with {posts_shown}:")
    for post in result.posts:
        tags = ", ".join(post.tags) or "office news (everyone)"
        click.echo(f"  {post.file}: {tags}")
        for line in post.tagging.lines():
            click.echo(f"      {line}")
    for note in result.notes:
        click.echo(f"  {note}" if note.startswith("warning:") else f"  note: {note}")


@click.command()
@click.argument("name")
@pass_options
def build(options: Options, name: str) -> None:
    """Build campaign NAME into build/NAME/: one version of the email per concern, and a
    preview page.

    A concern is what a patient has (jaw/TMJ, neck & shoulder); each concern with a post
    this month gets its own version, and everyone else the general one. Writes
    build/NAME/<concern>.html and .txt (as a sample patient would see them; never a real
    patient's details), manifest.json and index.html.

    \b
    Example:
      chairside build 2026-12
    """
    from chairside.build import build as run_build

    workspace = options.workspace()
    result = run_build(workspace, name)
    click.echo(
        f"Built {name}: {plural(len(result.rendered), 'version')} in "
        f"{workspace.relative(result.out_dir)}/"
    )
    for variant, rendered in zip(result.campaign.variants, result.rendered, strict=True):
        size = len(rendered.html.encode()) / 1024
        posts = plural(len(variant.articles), "post")
        click.echo(f"  {variant.segment.id:<16} {posts:<8} {size:5.1f} KB  {variant.segment.name}")
    for segment in result.campaign.fallbacks:
        click.echo(f"  {segment.id:<16} no post this month → its patients get the general version")
    if result.practice.todo:
        click.echo(
            f"warning: practice.toml still has TODO values: {', '.join(result.practice.todo)}"
        )
    from chairside.checks import summary

    click.echo(f"Checks: {summary(result.check(workspace))} (details: chairside check {name})")
    click.echo(f"Preview: chairside preview {name} --open")


@click.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of findings.")
@click.option("--strict", is_flag=True, help="Fail (exit 1) on warnings too, not only errors.")
@pass_options
def check(options: Options, name: str, as_json: bool, strict: bool) -> None:
    """Check campaign NAME before it goes out: deliverability, compliance, privacy,
    accessibility and reading level.

    Errors (the newsletter must not go out like this) stop `send` and `export` until fixed,
    unless they are given --force. Warnings are worth fixing; --strict makes them count as
    errors. Exit code 1 when there are errors.

    \b
    Examples:
      chairside check 2026-12
      chairside check 2026-12 --strict --json
    """
    import json

    from chairside.checks import ERROR, run_checks, summary
    from chairside.commands.doctor import warn_if_blocked

    workspace = options.workspace()
    warn_if_blocked(workspace)  # what `chairside doctor` last found about delivery
    findings = run_checks(workspace, name)
    if as_json:
        click.echo(json.dumps([f.as_dict() for f in findings], indent=2))
    else:
        current = None
        for finding in findings:
            if finding.variant != current:
                current = finding.variant
                click.echo(f"{current}:")
            click.echo(f"  {finding.severity:<7} {finding.rule:<20} {finding.where}")
            click.echo(f"          {finding.message}")
        click.echo(f"{name}: {summary(findings)}.")
    failing = [f for f in findings if f.severity == ERROR or strict]
    if failing:
        raise SystemExit(1)


@click.command()
@click.argument("name")
@concern_option(
    "Show the version this concern's patients get, e.g. tmj (default: general, the one "
    "for everyone else).",
    short=True,
)
@click.option(
    "--text", "show_text", is_flag=True, help="Print the plain-text version (the default)."
)
@click.option(
    "--open", "open_browser", is_flag=True, help="Open the preview page in your web browser."
)
@pass_options
def preview(
    options: Options,
    name: str,
    concern: str | None,
    old_concern: str | None,
    show_text: bool,
    open_browser: bool,
) -> None:
    """Build campaign NAME and show it: the text version here, or the page in a browser.

    The preview page shows every version's sender, subject, preheader and number of
    patients, and the email at desktop (600 px) and mobile (375 px) width, beside its text
    version.

    \b
    Examples:
      chairside preview 2026-12 --open
      chairside preview 2026-12 --concern tmj --text
    """
    from chairside.build import build as run_build
    from chairside.build import patient_counts
    from chairside.errors import ChairsideError

    workspace = options.workspace()
    result = run_build(workspace, name, patients=patient_counts(workspace))
    ids = [v.segment.id for v in result.campaign.variants]
    segment = concern or old_concern
    chosen = segment or "general"
    if chosen != result.campaign.segment_for(chosen):
        click.echo(f"{chosen}: no post this month; its patients get the general version.")
        chosen = segment = "general"
    if chosen not in ids:
        raise ChairsideError(
            f"No concern {chosen!r} has a version in {name}. Its versions: {', '.join(ids)}."
        )
    if open_browser:
        page = result.out_dir / ("index.html" if segment is None else f"{chosen}.html")
        import webbrowser

        if webbrowser.open(page.resolve().as_uri()):
            click.echo(f"Opening {workspace.relative(page)}")
        else:
            click.echo(f"No web browser found here: open {page.resolve()} in one.")
        if not show_text:
            return
    click.echo((result.out_dir / f"{chosen}.txt").read_text(encoding="utf-8"), nl=False)
