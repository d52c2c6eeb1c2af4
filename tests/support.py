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


class SmtpRecorder:
    """An aiosmtpd handler that keeps what it receives and fails on demand.

    `refuse[address] = [451, 0]` answers RCPT for that address with 451 once, then accepts
    (0 = accept); `delay` slows every DATA reply, to catch a sender mid-run.
    """

    def __init__(self) -> None:
        self.received: list[tuple[str, bytes]] = []
        self.refuse: dict[str, list[int]] = {}
        self.delay = 0.0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        codes = self.refuse.get(address.lower())
        if codes:
            code = codes.pop(0)
            if code:
                return f"{code} {'try again later' if code < 500 else 'no such user'}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        # The message counts as taken once its data has arrived, as at a real server; the
        # reply comes after `delay`, so a sender killed meanwhile never learns it was taken.
        for rcpt in envelope.rcpt_tos:
            self.received.append((rcpt.lower(), envelope.original_content))
        if self.delay:
            import asyncio

            await asyncio.sleep(self.delay)
        return "250 Message accepted for delivery"

    def recipients(self) -> list[str]:
        return [rcpt for rcpt, _ in self.received]
