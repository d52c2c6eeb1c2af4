"""Has what came back been read since the last campaign went out?

`unsynced_warnings` is the one hook `send`, `export --push` and `check` call: a campaign
sent before the unsubscribes of the previous one are read may reach people who asked to
leave (CAN-SPAM allows ten business days, Gmail and Yahoo two).
"""

from __future__ import annotations

import click

from chairside.delivery import state_dir
from chairside.errors import ChairsideError
from chairside.returnpath.state import latest_sends, read_last_synced
from chairside.returnpath.sync import PROVIDERS
from chairside.tomlfile import load_toml
from chairside.workspace import Workspace


def unsynced_warnings(workspace: Workspace, *, campaign: str | None = None) -> list[str]:
    """One sentence per source not read since the last campaign (other than `campaign`,
    the one being sent or checked) went out; [] when all is read or nothing was sent."""
    folder = state_dir(workspace)
    try:
        has_imap = isinstance(load_toml(workspace.practice_file).get("imap"), dict)
    except ChairsideError:
        return []  # a broken practice.toml is reported by the commands themselves
    latest = latest_sends(folder, excluding=campaign)
    if not latest:
        return []
    synced = read_last_synced(folder)
    last_campaign, last_at = max(latest.values(), key=lambda found: found[1])
    warnings = []
    when = f"{last_campaign} went out ({last_at[:10]})"
    if has_imap and synced.get("inbox", "") < last_at:
        warnings.append(
            f"The mailbox has not been read since {when}: run `chairside inbox` first, so "
            "the unsubscribes and bounces waiting there are honoured."
        )
    elif not has_imap and "smtp" in latest:
        warnings.append(
            "Unsubscribe emails and bounces of earlier campaigns are not read by Chairside "
            "(no [imap] in practice.toml): add the mailbox and run `chairside inbox`, or "
            "check it yourself and run `chairside unsubscribe` for each request."
        )
    for provider in sorted(set(latest) & set(PROVIDERS)):
        sent = latest[provider][1]
        if synced.get(provider, "") < sent:
            warnings.append(
                f"{provider} has not been synced since its last campaign ({sent[:10]}): run "
                f"`chairside sync --from {provider}` so its unsubscribes and bounces are "
                "honoured here too."
            )
    return warnings


def echo_unsynced(workspace: Workspace, *, campaign: str) -> None:
    """Print `unsynced_warnings` to stderr (what `send` and `export --push` call)."""
    for warning in unsynced_warnings(workspace, campaign=campaign):
        click.echo(f"warning: {warning}", err=True)
