"""The patient list: `audience` checks it, `unsubscribe` takes people off it for good."""

from __future__ import annotations

from email.utils import parseaddr
from pathlib import Path

import click

from chairside.commands.options import Options, audience_option, pass_options


@click.command()
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


@click.command()
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
    # "Maria Lopez <maria@example.com>", as copied from a mail program, means the address.
    entries = [(parseaddr(email)[1] or email, reason, repr(email)) for email in emails]
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
