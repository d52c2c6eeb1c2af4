"""Shared fixtures: a copy of the demo practice, and the CLI run as a user runs it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from chairside.cli import cli
from tests.support import copy_demo


@pytest.fixture
def tmp_workspace(tmp_path: Path) -> Path:
    """A copy of the demo practice in the repository, safe to change."""
    return copy_demo(tmp_path / "practice")


@pytest.fixture
def run() -> Callable[..., Result]:
    """Run `chairside ARGS` in-process; pass cwd= to run it in another folder."""

    def invoke(*args: str, cwd: Path | None = None, input: str | None = None) -> Result:
        runner = CliRunner()
        argv = (["-C", str(cwd)] if cwd is not None else []) + list(args)
        return runner.invoke(cli, argv, input=input, catch_exceptions=True)

    return invoke
