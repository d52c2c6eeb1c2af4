"""Shared fixtures: a copy of the demo practice, and the CLI run as a user runs it."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import lxml.html
import pytest
from click.testing import CliRunner, Result

from chairside.cli import cli
from chairside.content import Article, read_post

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
CONTENT = DATA / "content"
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


def assert_user_error(result: Result, *fragments: str) -> None:
    """Exit 1, a message that says what is wrong, and no traceback."""
    assert result.exit_code == 1, (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    for fragment in fragments:
        assert fragment in result.output, (fragment, result.output)


def tree(fragment: str) -> lxml.html.HtmlElement:
    """An HTML fragment parsed under one <div>, to assert on its structure."""
    return lxml.html.fragment_fromstring(fragment, create_parent="div")


def read_written(tmp_path: Path, name: str, text: str) -> Article:
    """Write a post file and read it with the reader for its extension."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return read_post(path)
