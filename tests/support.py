"""Helpers the tests share (fixtures live in conftest.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import lxml.html
from click.testing import Result

from chairside.content import Article, read_post

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
CONTENT = DATA / "content"
DEMO_PARTS = ("practice.toml", "audiences", "campaigns", "templates")


def copy_demo(root: Path) -> Path:
    """Copy the demo practice in the repository into `root` (created), safe to change."""
    root.mkdir(parents=True, exist_ok=True)
    for part in DEMO_PARTS:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, root / part)
        else:
            shutil.copy(source, root / part)
    return root


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
