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


def audience_option(command):
    """`--audience FILE`, for every command that reads the patient list."""
    return click.option(
        "--audience",
        "audience_file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Read patients from this CSV instead of audiences/patients.csv.",
    )(command)


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
    from chairside.checks import summary

    click.echo(f"Checks: {summary(result.check(workspace))} (details: chairside check {name})")
    click.echo(f"Preview: chairside preview {name} --open")


@cli.command()
@click.argument("name")
@audience_option
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of findings.")
@click.option("--strict", is_flag=True, help="Fail (exit 1) on warnings too, not only errors.")
@pass_options
def check(
    options: Options, name: str, audience_file: Path | None, as_json: bool, strict: bool
) -> None:
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

    workspace = options.workspace()
    findings = run_checks(workspace, name, audience_file=audience_file)
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
@click.option(
    "--token",
    "tokens",
    multiple=True,
    help="The code from an unsubscribe link or email (token=...). Repeatable.",
)
@click.option("--reason", default="unsubscribed", show_default=True, help="Why, for the record.")
@audience_option
@pass_options
def unsubscribe(
    options: Options,
    emails: tuple[str, ...],
    import_file: Path | None,
    tokens: tuple[str, ...],
    reason: str,
    audience_file: Path | None,
) -> None:
    """Never email these addresses again: add them to audiences/suppressed.csv.

    Safe to repeat: addresses already there are left as they are. Each email's unsubscribe
    link (and its List-Unsubscribe mailto) carries a code that names nobody; --token finds
    the patient it belongs to.

    \b
    Examples:
      chairside unsubscribe maria.lopez@example.com
      chairside unsubscribe --token 3f9a0c7e21b84d56a9e0c1f2b7
      chairside unsubscribe --import ~/Downloads/mailchimp-unsubscribed.csv
    """
    from chairside.audience.suppression import add_suppressions, entries_from_export
    from chairside.errors import ChairsideError

    if not emails and import_file is None and not tokens:
        raise click.UsageError("give one or more addresses, --token CODE or --import FILE")
    workspace = options.workspace()
    entries = [(email, reason, repr(email)) for email in emails]
    if tokens:
        entries += _resolve_tokens(workspace, tokens, reason, audience_file)
    if import_file is not None:
        entries += entries_from_export(import_file)
    result = add_suppressions(workspace.suppressed_file, entries)
    target = workspace.relative(workspace.suppressed_file)
    click.echo(f"{target}: {len(result.added)} added, {result.already} already there.")
    if result.invalid:
        listed = "\n".join(f"  {where}: {why}" for where, why in result.invalid)
        raise ChairsideError(f"{len(result.invalid)} not added, not an address:\n{listed}")


def _resolve_tokens(workspace, tokens, reason: str, audience_file: Path | None) -> list:
    """(address, reason, where) for each unsubscribe token, from the list and the ledger."""
    from chairside.audience.patients import load_audience
    from chairside.delivery import state_dir
    from chairside.errors import ChairsideError
    from chairside.ledger import open_ledger
    from chairside.tokens import Tokens, load_key

    state = state_dir(workspace)
    addresses = {p.email for p in load_audience(workspace, audience_file).patients}
    with open_ledger(state) as ledger:
        addresses |= ledger.emails()
    resolver = Tokens(load_key(state))
    found = []
    for token in tokens:
        email = resolver.resolve(token, addresses)
        if email is None:
            raise ChairsideError(
                f"No patient has the unsubscribe code {token!r}. Check it was copied whole; "
                "codes only work in the practice folder that sent the email."
            )
        found.append((email, reason, f"token {token}"))
    return found


@cli.command()
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
    "MAILCHIMP_API_KEY, SENDGRID_API_KEY or MAILGUN_API_KEY).",
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
    help="Mailchimp: schedule the campaigns (ISO time, e.g. 2026-12-01T15:00:00Z) "
    "instead of leaving drafts.",
)
@click.option(
    "--resend-unknown",
    is_flag=True,
    help="Also push patients a crashed push left in doubt (they may get it twice).",
)
@click.option(
    "--without-baa",
    is_flag=True,
    help="Push concern variants to a provider without a business associate agreement.",
)
@click.option(
    "--concern-tags",
    is_flag=True,
    help="Name tags after segments (2026-12-tmj) instead of opaque ids (2026-12-a).",
)
@click.option("--force", is_flag=True, help="Export even while `chairside check` finds errors.")
@click.option(
    "--retry-delay",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    metavar="SECONDS",
    help="First wait after a provider error (5xx); doubles each time.",
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
    without_baa: bool,
    concern_tags: bool,
    force: bool,
    retry_delay: float,
    audience_file: Path | None,
) -> None:
    """Write campaign NAME for another program: files, or an email provider.

    --to eml/mbox writes the exact messages `chairside send` would deliver, one per
    sendable patient (file names carry no address). --to mailchimp/sendgrid/mailgun writes
    a bundle to upload by hand: each variant's HTML and text with the provider's merge
    tags, the audience in the provider's import format, and README.txt saying which file
    goes where; with --push it goes through the provider's API instead, resumably.

    Only address, first name and an opaque variant tag leave the computer. Pushing a
    concern's variant needs baa = true under [providers.NAME] in practice.toml (a business
    associate agreement) or --without-baa.

    \b
    Examples:
      chairside export 2026-12 --to eml --out ~/Desktop/december
      chairside export 2026-12 --to mbox --out ~/Desktop/december.mbox
      chairside export 2026-12 --to mailchimp --out ~/Desktop/december-mailchimp
      MAILCHIMP_API_KEY=... chairside export 2026-12 --to mailchimp --push --audience-id a1b2c3
    """
    from chairside.delivery import prepare
    from chairside.providers import provider_class
    from chairside.providers.base import check_baa, echo_report
    from chairside.providers.base import push as run_push

    if push == (out is not None):
        raise click.UsageError("give --out FOLDER to write files, or --push (not both)")
    if push and destination in ("eml", "mbox"):
        raise click.UsageError(f"--push goes to a provider; {destination} is written with --out")
    from chairside.checks import refuse_if_errors

    workspace = options.workspace()
    prepared = prepare(workspace, name, audience_file=audience_file)
    refuse_if_errors(
        workspace,
        name,
        force=force,
        audience_file=audience_file,
        rendered_campaign=prepared.rendered_campaign,
    )
    provider = provider_class(destination)(
        prepared,
        concern_tags=concern_tags,
        options={"audience_id": audience_id, "domain": domain, "retry_delay": str(retry_delay)},
    )
    if not push:
        click.echo(f"Wrote {provider.export(out)}")
        return
    warning = check_baa(provider, without_baa=without_baa)
    if warning:
        click.echo(warning, err=True)
    report = run_push(
        workspace, provider, api_base=api_base, schedule=schedule, resend_unknown=resend_unknown
    )
    echo_report(report)


@cli.command()
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
                "--smtp-user", help="Login name; the password is read from CHAIRSIDE_SMTP_PASSWORD."
            ),
            click.option(
                "--starttls",
                "security",
                flag_value="starttls",
                help="Upgrade the connection with STARTTLS (usually port 587).",
            ),
            click.option(
                "--ssl",
                "security",
                flag_value="ssl",
                help="Connect over TLS from the start (usually port 465).",
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


@cli.command()
@click.argument("name")
@audience_option
@smtp_options
@click.option(
    "--rate",
    type=click.FloatRange(min=0.1),
    metavar="N",
    help="Send at most N messages per minute (many providers limit this).",
)
@click.option("--dry-run", is_flag=True, help="Show what would be sent; send nothing.")
@click.option(
    "--resend-unknown",
    is_flag=True,
    help="Also resend messages a crash left in doubt (they may arrive twice).",
)
@click.option(
    "--test",
    "test_address",
    metavar="ADDRESS",
    help="Send each variant once to ADDRESS, subject marked [TEST ...]; nothing is recorded.",
)
@click.option("--segment", help="With --test: only this segment's variant.")
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
    dry_run: bool,
    resend_unknown: bool,
    test_address: str | None,
    segment: str | None,
    force: bool,
    retries: int,
    retry_delay: float,
) -> None:
    """Send campaign NAME over SMTP: each sendable patient gets exactly one message.

    Safe to stop (Ctrl-C finishes the current message) and to run again: every patient is
    recorded in .chairside/state.db, and a rerun sends only to those not yet sent. If the
    computer crashed mid-message, that patient is reported as unknown and resent only with
    --resend-unknown. Permanent refusals (5xx) are added to audiences/suppressed.csv.

    The server comes from [smtp] in practice.toml (or the options); the password only
    from the environment variable CHAIRSIDE_SMTP_PASSWORD.

    \b
    Examples:
      chairside send 2026-12 --test office@example.com
      chairside send 2026-12 --dry-run
      chairside send 2026-12 --rate 120
    """
    import os
    import signal
    import sys
    import threading

    from chairside.checks import refuse_if_errors
    from chairside.delivery import prepare
    from chairside.errors import ChairsideError
    from chairside.providers.smtp import resolve
    from chairside.sending import RetryPolicy, send_campaign, send_tests

    if segment and not test_address:
        raise click.UsageError("--segment goes with --test")
    workspace = options.workspace()
    prepared = prepare(workspace, name, audience_file=audience_file)
    if not (test_address or dry_run):  # a test or a dry run is how errors get looked at
        refuse_if_errors(
            workspace,
            name,
            force=force,
            audience_file=audience_file,
            rendered_campaign=prepared.rendered_campaign,
        )
    if segment and segment not in prepared.rendered:
        raise ChairsideError(f"No segment {segment!r}. Segments: {', '.join(prepared.rendered)}.")
    if dry_run:
        _print_dry_run(workspace, prepared, resend_unknown)
        return
    settings = resolve(
        host=smtp_host,
        port=smtp_port,
        user=smtp_user,
        security=security,
        practice_smtp=prepared.practice.smtp,
        password=os.environ.get("CHAIRSIDE_SMTP_PASSWORD", ""),
    )
    if test_address:
        for variant, reply in send_tests(prepared, settings, test_address, segment=segment):
            click.echo(f"  [TEST {variant}] to {test_address}: {reply}")
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
            resend_unknown=resend_unknown,
            stop=stop,
            on_start=on_start,
            on_message=lambda: bar.update(1) if bar else None,
        )
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    _print_send_report(report)
    if report.stopped:
        raise SystemExit(130)


def _print_dry_run(workspace, prepared, resend_unknown: bool) -> None:
    from chairside.delivery import state_dir
    from chairside.ledger import open_ledger
    from chairside.sending import plan

    with open_ledger(state_dir(workspace)) as ledger:
        work = plan(
            prepared, ledger.statuses(prepared.campaign.name), resend_unknown=resend_unknown
        )
    click.echo(f"Dry run of {prepared.campaign.name}: nothing is sent.")
    click.echo(f"  would send {len(work.to_send)} messages from {prepared.practice.from_email}")
    counts: dict[str, int] = {}
    for patient in work.to_send:
        counts[patient.segment] = counts.get(patient.segment, 0) + 1
    for segment, rendered in prepared.rendered.items():
        click.echo(f"    {segment:<16} {counts.get(segment, 0):>6}  subject: {rendered.subject}")
    click.echo(
        f"  already sent {work.already_sent}, unknown {len(work.unknown)}, "
        f"failed before {work.failed_before}"
    )


def _print_send_report(report) -> None:
    from chairside.audience.addresses import mask

    click.echo(f"{report.campaign}: {report.sent} sent now, {report.already_sent} sent before.")
    for email, reply in report.failed:
        click.echo(f"  failed (suppressed from now on): {mask(email)}: {reply}")
    for email, reply in report.deferred:
        click.echo(f"  deferred (tried again next run): {mask(email)}: {reply}")
    if report.suppressed_midway:
        click.echo(f"  {report.suppressed_midway} unsubscribed while sending: skipped")
    if report.unknown:
        click.echo(
            f"  unknown: {len(report.unknown)} messages may or may not have arrived "
            "(the connection or the program stopped mid-message). They are not resent "
            "unless you run again with --resend-unknown."
        )
    if report.stopped:
        click.echo(f"Stopped. Run `chairside send {report.campaign}` again to continue.")


@cli.command()
@click.argument("name")
@audience_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (for scripts).")
@click.option("--show", is_flag=True, help="Show full addresses (masked otherwise).")
@pass_options
def status(
    options: Options, name: str, audience_file: Path | None, as_json: bool, show: bool
) -> None:
    """Show how far sending campaign NAME has got: sent, failed, unknown, pending.

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
    found = campaign_status(workspace, name, audience, state=state_dir(workspace), show=show)
    if as_json:
        click.echo(json.dumps(found.as_dict(), indent=2))
        return
    click.echo(f"{name}{' (sending now)' if found.running else ''}:")
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


def main() -> None:
    cli(prog_name="chairside")
