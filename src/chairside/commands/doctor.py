"""`chairside doctor` (will the newsletter arrive?) and `chairside dkim` (a signing key)."""

from __future__ import annotations

import json

import click

from chairside.commands.options import Options, pass_options

_MARKS = {"ok": "ok     ", "warning": "warning", "problem": "problem"}
_COLORS = {"ok": "green", "warning": "yellow", "problem": "red"}


def record_lines(record, indent: str = "    ") -> list[str]:
    """A DNS record as a DNS host's page asks for it: type, name, value."""
    where = "the domain itself" if record.name == "@" else record.full_name
    return [
        f"{indent}  Type   {record.type}",
        f"{indent}  Name   {record.name}   ({where})",
        f"{indent}  Value  {record.value}",
    ]


def print_report(report) -> None:
    area = None
    for check in report.checks:
        if check.area != area:
            area = check.area
            click.echo(("" if check is report.checks[0] else "\n") + area)
        mark = click.style(_MARKS[check.status], fg=_COLORS[check.status])
        click.echo(f"  {mark}  {check.name}: {check.message}")
        if check.fix:
            click.echo(f"             Fix: {check.fix}")
        for record in check.records:
            for line in record_lines(record, indent="             "):
                click.echo(line)
    problems, warnings = len(report.problems), len(report.warnings)
    words = [
        f"{problems} problem{'s' if problems != 1 else ''}",
        f"{warnings} warning{'s' if warnings != 1 else ''}",
    ]
    verdict = "nothing stops the newsletter" if not problems else "fix the problems above"
    click.echo(f"\n{', '.join(words)}: {verdict}.")


def warn_if_blocked(workspace) -> None:
    """One line on stderr when the last `doctor` found a problem that stops delivery (what
    `send` and `check` call: the kept result, no DNS asked)."""
    from chairside.doctor import blocking_note

    note = blocking_note(workspace)
    if note:
        click.echo(f"warning: {note}", err=True)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON, for scripts.")
@click.option("--online", is_flag=True, help="Also check the website and booking links answer.")
@pass_options
def doctor(options: Options, as_json: bool, online: bool) -> None:
    """Check that the newsletter can arrive: the From address's domain (MX, SPF, DKIM,
    DMARC, alignment), Gmail's and Yahoo's rules for 5,000+ patients, the mail server
    (connection, encryption, login; no mail is sent), the mailbox, each provider's API key,
    recent refusals of the practice's mail, and the practice's details.

    One line per check: ok, warning or problem; each problem says how to fix it, a DNS record
    as your DNS host's page asks for it (type, name, value). Exits 0 when nothing is a
    problem, 1 otherwise. DNS is this computer's, or CHAIRSIDE_NAMESERVER=HOST:PORT.

    \b
    Examples:
      chairside doctor
      chairside doctor --online
      chairside doctor --json > doctor.json
    """
    from chairside import doctor as the_doctor

    report = the_doctor.run(options.workspace(), online=online)
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    else:
        print_report(report)
    if report.problems:
        raise SystemExit(1)


@click.group()
def dkim() -> None:
    """Sign the newsletter with the practice's own DKIM key, for a mail server that does
    not sign it (a hosting company's relay; Microsoft 365, Google Workspace and the
    providers sign themselves once set up).

    `dkim new` makes the key, keeps it in this computer's keychain (never in a file of the
    practice), writes the selector to practice.toml and prints the DNS record to publish;
    from then on `send` signs every message. `chairside doctor` checks the published record
    matches the key.

    \b
    Examples:
      chairside dkim new cs2026
      chairside dkim show
    """


@dkim.command(name="new")
@click.argument("selector")
@click.option("--domain", help="Sign for this domain (default: the From address's).")
@click.option("--replace", is_flag=True, help="Replace a key already kept for this selector.")
@pass_options
def dkim_new(options: Options, selector: str, domain: str | None, replace: bool) -> None:
    """Make a signing key for SELECTOR (a name like cs2026) and print its DNS record."""
    from chairside import dkim as signing

    try:
        config, key = signing.make_key(
            options.workspace(), selector, domain=domain or "", replace=replace
        )
    except signing.KeyExists as exc:
        raise click.ClickException(f"{exc.message} Or pass --replace.") from None
    click.echo(
        f"Made a DKIM key for {config.domain} (selector {config.selector}), kept in this "
        "computer's keychain; practice.toml now names the selector."
    )
    _print_record(signing, config, key)
    click.echo(
        "Until the record is published, receivers cannot check the signature: publish it, "
        "then run `chairside doctor` before the next send."
    )


@dkim.command(name="show")
@pass_options
def dkim_show(options: Options) -> None:
    """Print the DNS record of the key in use (to publish it again)."""
    from chairside import dkim as signing
    from chairside.errors import ChairsideError
    from chairside.workspace import load_practice

    practice = load_practice(options.workspace())
    if practice.dkim is None:
        raise ChairsideError("Chairside does not sign yet: make a key with `chairside dkim new`.")
    signer = signing.signer_for(practice)
    _print_record(signing, practice.dkim, signer.key)


def _print_record(signing, config, key) -> None:
    from chairside.doctor.results import Record

    record = Record(
        "TXT", f"{config.selector}._domainkey", signing.record_value(key), config.domain
    )
    click.echo("")
    for line in record_lines(record, indent=""):
        click.echo(line)
    click.echo(
        "(The value is long: paste it whole, on one line; some DNS hosts cut it into\n"
        "quoted pieces themselves, which is fine.)\n"
    )
