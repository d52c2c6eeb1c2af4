"""What several commands share: the practice folder (`-C`), and `--audience FILE`."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import click


@dataclass
class Options:
    directory: Path

    def workspace(self):
        from chairside.errors import WorkspaceError
        from chairside.workspace import find_workspace

        if not self.directory.is_dir():
            raise WorkspaceError(f"-C {self.directory}: there is no such folder.")
        return find_workspace(self.directory)


pass_options = click.make_pass_decorator(Options)


def stdin_is_terminal() -> bool:
    """Whether a person can answer questions (not a script, a pipe or CI).

    `init` looks it up here when it runs, so tests replace it here.
    """
    stdin = sys.stdin  # None when started without one (a service, some IDEs)
    return stdin is not None and stdin.isatty()


def audience_option(command):
    """`--audience FILE`, for every command that reads the patient list."""
    return click.option(
        "--audience",
        "audience_file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Read patients from this file (CSV or spreadsheet) instead of audiences/patients.csv.",
    )(command)


def concern_option(help_text: str, *, short: bool = False):
    """`--concern ID`, with `--segment` (its old name) still accepted but no longer listed:
    one word for one thing in --help, and scripts written for the old name keep working.
    The command gets both (`concern`, `old_concern`); `concern or old_concern` is the one."""

    def decorate(command):
        command = click.option("--segment", "old_concern", hidden=True)(command)
        names = ("--concern", "-s") if short else ("--concern",)
        return click.option(*names, "concern", metavar="ID", help=help_text)(command)

    return decorate
