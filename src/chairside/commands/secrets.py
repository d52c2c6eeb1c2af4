"""`chairside secrets`: passwords and API keys in this computer's keychain, never in a file."""

from __future__ import annotations

import click

from chairside.commands.options import Options, pass_options
from chairside.secrets import KINDS

_KIND = click.Choice(sorted(KINDS))


@click.group()
def secrets() -> None:
    """Keep the mail server's and mailbox's passwords and the providers' API keys in this
    computer's keychain (Windows Credential Manager, macOS Keychain, the Secret Service on
    Linux), so no file of the practice ever holds one.

    An environment variable of the same secret wins over the keychain:
    CHAIRSIDE_SMTP_PASSWORD, CHAIRSIDE_IMAP_PASSWORD, MAILCHIMP_API_KEY, SENDGRID_API_KEY,
    MAILGUN_API_KEY.

    \b
    Examples:
      chairside secrets set smtp        # asks for the password; nothing is shown
      chairside secrets forget mailchimp
      chairside secrets list
    """


@secrets.command(name="set")
@click.argument("name", type=_KIND)
@pass_options
def set_secret(options: Options, name: str) -> None:
    """Save a password or key in the keychain (typed without being shown).

    The mail server's and mailbox's passwords are kept for the user and server named in
    practice.toml ([smtp] and [imap]); set those first.
    """
    from chairside import secrets as store

    account = store.account_for(name, options.workspace())
    value = click.prompt(
        f"{store.kind(name).what[0].upper()}{store.kind(name).what[1:]}",
        hide_input=True,
        default="",
        show_default=False,
    )
    store.store(name, value, account)
    click.echo(f"Saved {store.kind(name).what} in {store.keychain_name()}.")


@secrets.command()
@click.argument("name", type=_KIND)
@pass_options
def forget(options: Options, name: str) -> None:
    """Remove a password or key from the keychain."""
    from chairside import secrets as store

    account = store.account_for(name, options.workspace())
    if store.forget(name, account):
        click.echo(f"Removed {store.kind(name).what} from the keychain.")
    else:
        click.echo(f"The keychain held no {store.kind(name).what}; nothing to remove.")


@secrets.command(name="list")
@pass_options
def list_secrets(options: Options) -> None:
    """Say which secrets are set and where (never the secrets themselves)."""
    from chairside import secrets as store
    from chairside.errors import ChairsideError

    workspace = options.workspace()
    keychain = store.keychain_name()
    click.echo(f"Keychain: {keychain or 'none on this computer (use environment variables)'}")
    for name, kind in KINDS.items():
        try:
            account = store.account_for(name, workspace)
        except ChairsideError:
            account = ""
        state = f"set ({store.where(name)})" if store.get(name, account) else "not set"
        click.echo(f"  {name:<10} {kind.what}: {state}")
