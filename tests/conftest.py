"""Shared fixtures: a copy of the demo practice, and the CLI run as a user runs it."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from chairside.cli import cli
from tests.support import HttpRecorder, SmtpRecorder, copy_demo


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(autouse=True)
def keychain(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A keychain of this test's own (keyrings.alt's file backend in a temporary folder), so
    no test reads or writes the keychain of the computer it runs on; subprocesses inherit it."""
    import keyring

    home = tmp_path_factory.mktemp("keychain")
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    monkeypatch.setenv("XDG_DATA_HOME", str(home))
    keyring.set_keyring(keyring.core.load_keyring("keyrings.alt.file.PlaintextKeyring"))
    return home


@pytest.fixture
def smtp_server() -> Iterator[tuple[SmtpRecorder, int]]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1: (its recorder, its port)."""
    from aiosmtpd.controller import Controller

    recorder = SmtpRecorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port())
    controller.start()
    # asyncio's count of the connections the server holds (no public name): a test that
    # kills a sender waits for 0, so no message still in flight can arrive after it counts.
    recorder.open_connections = lambda: controller.server._active_count
    try:
        yield recorder, controller.port
    finally:
        recorder.release()  # a reply still held would keep the server from stopping
        controller.stop()


@pytest.fixture
def imap():
    """A real IMAP server (Debian's Dovecot) on 127.0.0.1, its mailboxes in a temporary
    folder (tests/imap_server.py)."""
    from tests.imap_server import DOVECOT, Dovecot
    from tests.support import need

    need("dovecot (apt-get install dovecot-imapd)", Path(DOVECOT).exists())
    server = Dovecot()
    server.start()
    try:
        yield server
    finally:
        server.stop()


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


@pytest.fixture
def http_server() -> Iterator[HttpRecorder]:
    """A real HTTP server on 127.0.0.1 standing in for a provider's API."""
    server = HttpRecorder()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(autouse=True)
def witness_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """This computer's witness of what it sent (chairside.witness), in a folder of this
    test's own: CHAIRSIDE_STATE_HOME, inherited by subprocesses. A test of a new computer
    points it at another folder. Set apart from the test's `monkeypatch`, so a test's
    `monkeypatch.undo()` never sends it to the real user folder."""
    home = tmp_path_factory.mktemp("state-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CHAIRSIDE_STATE_HOME", str(home))
        yield home


@pytest.fixture(autouse=True)
def studio_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Studio pages wait for their parts rather than loading them as fragments, so a page's
    content does not depend on how busy the machine is (tests of the fragments set it to 0),
    and read them in the test's process (a test of the child process sets AHEAD)."""
    from chairside.studio import state

    monkeypatch.setattr(state, "WAIT", 60.0)
    monkeypatch.setattr(state, "AHEAD", False)
