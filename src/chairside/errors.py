"""The one family of errors a user may see.

Every problem the office can fix (a bad file, a missing setting) is raised as a subclass of
`ChairsideError`. Click prints its message without a traceback and exits with code 1.
Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from pathlib import Path

import click


class ChairsideError(click.ClickException):
    """A problem in the user's files or settings: message says what and what to do."""

    exit_code = 1

    def format_message(self) -> str:
        return self.message


class WorkspaceError(ChairsideError):
    """No workspace, or a workspace file that cannot be used."""

    problems: tuple[str, ...] = ()
    """Each problem of the file on its own ("[email] from: ..."), when there are several."""


class ContentError(ChairsideError):
    """A post or feed that cannot be read."""


class RenderError(ChairsideError):
    """A template that does not render."""


def where(path: Path | str, line: int | None = None) -> str:
    """`campaigns/2026-12/campaign.toml, line 4` — the prefix of a message about a file."""
    text = str(path)
    return f"{text}, line {line}" if line else text


class DeliveryIncomplete(ChairsideError):
    """A send or push that ran to its end, but left patients failed, deferred, unknown or
    pending. Its message is the run's summary; exit code 3 tells scripts to look."""

    exit_code = 3
