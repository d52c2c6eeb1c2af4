"""Shared fixtures: a copy of the demo practice, and the CLI run as a user runs it."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from chairside.cli import cli
from tests.support import REPO

DEMO_PARTS = ("practice.toml", "audiences", "campaigns", "templates")


@pytest.fixture
def tmp_workspace(tmp_path: Path) -> Path:
    """A copy of the demo practice in the repository, safe to change."""
    root = tmp_path / "practice"
    root.mkdir()
    for part in DEMO_PARTS:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, root / part)
        else:
            shutil.copy(source, root / part)
    return root


@pytest.fixture
def run() -> Callable[..., Result]:
    """Run `chairside ARGS` in-process; pass cwd= to run it in another folder."""

    def invoke(*args: str, cwd: Path | None = None, input: str | None = None) -> Result:
        runner = CliRunner()
        argv = (["-C", str(cwd)] if cwd is not None else []) + list(args)
        return runner.invoke(cli, argv, input=input, catch_exceptions=True)

    return invoke
