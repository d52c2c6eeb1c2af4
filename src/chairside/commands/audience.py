"""The patient list: `audience` checks it, `unsubscribe` takes people off it for good."""

from __future__ import annotations

from pathlib import Path

import click

from chairside.commands.options import Options, audience_option, pass_options


@click.command()
@audience_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (for scripts).")
@click.option("--show", is_flag=True, help="Also print addresses and names (masked otherwise).")
@click.option(
    "--campaign",
    metavar="NAME",
    help="Also say which concerns have no post in campaign NAME (their patients get the "
    "general version).",
)
@pass_options
def audience(
    options: Options, audience_file: Path | None, as_json: bool, show: bool, campaign: str | None
) -> None:
    """Check the patient list: who can be emailed, which version each gets, and which rows
    can't be used.

    Reads audiences/patients.csv as your practice software or Excel saved it (CSV in any
    common encoding and separator, or .xlsx/.xls/.ods; column names as Dentrix, Eaglesoft
    and Open Dental give them), and reports rows read, patients per concern (what a patient
    has, such as jaw/TMJ: each concern's patients get their own version), rejected rows
    with their line and reason, duplicates merged, suppressed patients and patients
    without consent. Without a consent column it stops and says which line to add to
    audiences/segments.toml. Addresses are masked unless you pass --show.

    \b
    Examples:
      chairside audience
      chairside audience --audience ~/Downloads/export.csv --json
      chairside audience --audience ~/Downloads/Patients.xlsx --show
      chairside audience --campaign 2026-12
    """
    import json

    from chairside.audience import report
    from chairside.audience.patients import load_audience
    from chairside.audience.segments import load_segments

    workspace = options.workspace()
    found = load_audience(workspace, audience_file)
    segments = load_segments(workspace.segments_file)
    label = workspace.relative(found.source)
    fallbacks = ()
    if campaign:
        from chairside.campaign import load_campaign

        fallbacks = load_campaign(workspace, campaign, segments).fallbacks
    if as_json:
        data = report.as_dict(found, segments, label=label, show=show, fallbacks=fallbacks)
        click.echo(json.dumps(data, indent=2))
    else:
        lines = report.as_lines(found, segments, label=label, show=show, fallbacks=fallbacks)
        click.echo("\n".join(lines))


@click.command()
@click.argument("emails", nargs=-1)
@click.option(
    "--import",
    "import_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A provider's unsubscribe or bounce export (CSV or spreadsheet with an email column).",
)
@click.option(
    "--token",
    "tokens",
    multiple=True,
    help="The code from an unsubscribe link or email (token=...). Repeatable.",
)
@click.option(
    "--undo",
    "undo",
    multiple=True,
    metavar="ADDRESS",
    help="Take a suppression back: email this address again. Repeatable. Recorded in the file.",
)
@click.option(
    "--undo-import",
    "undo_import",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Take back every suppression an earlier --import of this file made.",
)
@click.option(
    "--reason", help="Why, for the record (default: unsubscribed; with --undo: resubscribed)."
)
@click.option("--yes", is_flag=True, help="Import a file even if it looks like a patient list.")
@audience_option
@pass_options
def unsubscribe(
    options: Options,
    emails: tuple[str, ...],
    import_file: Path | None,
    tokens: tuple[str, ...],
    undo: tuple[str, ...],
    undo_import: Path | None,
    reason: str | None,
    yes: bool,
    audience_file: Path | None,
) -> None:
    """Never email these addresses again: add them to audiences/suppressed.csv.

    Safe to repeat: addresses already there are left as they are. Each email's unsubscribe
    link (and its List-Unsubscribe mailto) carries a code that names nobody; --token finds
    the patient it belongs to. A file that looks like your patient list (a consent or
    concerns column, or most of your patients) is refused by --import unless you add --yes.

    Nothing is ever deleted from the file: --undo adds a "resubscribed" line, which
    later reads honour (the latest line for an address counts), and a new unsubscribe
    suppresses the address again.

    \b
    Examples:
      chairside unsubscribe maria.lopez@example.com
      chairside unsubscribe --token 3f9a0c7e21b84d56a9e0c1f2b7
      chairside unsubscribe --import ~/Downloads/mailchimp-unsubscribed.csv
      chairside unsubscribe --undo maria.lopez@example.com --reason "asked at the front desk"
      chairside unsubscribe --undo-import audiences/patients.csv
    """
    from chairside.audience.importguard import refuse_patient_list
    from chairside.audience.suppression import (
        add_suppressions,
        entries_from_export,
        imported_from,
        open_export,
        typed_address,
        typed_entries,
        undo_suppressions,
    )
    from chairside.errors import ChairsideError

    if not (emails or import_file or tokens or undo or undo_import):
        raise click.UsageError(
            "give one or more addresses, --token CODE, --import FILE, --undo ADDRESS "
            "or --undo-import FILE"
        )
    if (undo or undo_import) and (emails or import_file or tokens):
        raise click.UsageError("--undo and --undo-import cannot be mixed with adding addresses")
    workspace = options.workspace()
    target = workspace.relative(workspace.suppressed_file)
    if undo or undo_import:
        addresses = [typed_address(a) for a in undo]
        if undo_import is not None:
            addresses += imported_from(workspace.suppressed_file, undo_import.name)
        done = undo_suppressions(workspace.suppressed_file, addresses, why=reason or "")
        click.echo(
            f"{target}: {len(done.resubscribed)} resubscribed, "
            f"{len(done.not_suppressed)} were not suppressed."
        )
        return
    reason = reason or "unsubscribed"
    entries = typed_entries(emails, reason)
    bad_codes: list[tuple[str, str]] = []
    if tokens:
        from chairside.delivery import unsubscribe_codes

        found, bad_codes = unsubscribe_codes(workspace, list(tokens), reason, audience_file)
        entries += found
    if import_file is not None:
        table = open_export(import_file)
        imported = entries_from_export(table)
        refuse_patient_list(
            workspace,
            table,
            imported,
            label=str(import_file),
            confirmed=yes,
            how_to_confirm="run the command again with --yes (it can be undone with --undo-import)",
            audience_file=audience_file,
        )
        entries += imported
    result = add_suppressions(workspace.suppressed_file, entries)
    click.echo(f"{target}: {len(result.added)} added, {result.already} already there.")
    problems = []
    if result.invalid:
        listed = "\n".join(f"  {where}: {why}" for where, why in result.invalid)
        problems.append(f"{len(result.invalid)} not added, not an address:\n{listed}")
    if bad_codes:
        listed = "\n".join(f"  {given!r}: {why}" for given, why in bad_codes)
        problems.append(f"{len(bad_codes)} code(s) not added:\n{listed}")
    if problems:  # the good ones are added above; these are named, and the exit is 1
        raise ChairsideError("\n".join(problems))
