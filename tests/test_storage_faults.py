"""Storage faults while sending: a full disk, a read-only folder, a ledger locked by another
program. Each is a clear error naming the file (exit 1, no traceback), and the next send
gives nobody the campaign twice."""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from chairside.sending import CONNECTIONS
from tests.support import assert_user_error
from tests.test_send import send, sendable, status


def assert_nobody_twice_after_rerun(run, root: Path, port: int, server) -> None:
    rerun = send(run, root, port)
    delivered = Counter(server.recipients())
    assert max(delivered.values()) == 1, "someone got the campaign twice"
    unknown = set(status(run, root)["unknown"])
    assert set(delivered) | unknown == set(sendable(run, root)), "someone was lost"
    assert len(unknown) <= CONNECTIONS  # at most the message in flight on each connection
    assert rerun.exit_code == (3 if unknown else 0), rerun.output


def test_a_ledger_locked_by_another_program(tmp_workspace, smtp_server, run, monkeypatch):
    server, port = smtp_server
    monkeypatch.setattr("chairside.ledger.LOCK_TIMEOUT", 0.2)
    assert send(run, tmp_workspace, port, "--dry-run").exit_code == 0  # state.db exists
    holder = sqlite3.connect(tmp_workspace / ".chairside/state.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # e.g. a backup tool, or a DB browser left open
    try:
        result = send(run, tmp_workspace, port)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert_user_error(result, ".chairside/state.db is locked by another program", "0.2 s")
    assert server.received == []
    assert_nobody_twice_after_rerun(run, tmp_workspace, port, server)


def test_a_full_disk_reported_by_fsync(tmp_workspace, smtp_server, run, monkeypatch):
    """ENOSPC at the OS call that makes the journal durable, in the middle of the run."""
    server, port = smtp_server
    real_fsync, calls = os.fsync, []

    def fsync(fd):
        calls.append(fd)
        if len(calls) > 5:  # commits are shared by the connections: ~1 per 1-4 messages
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    result = send(run, tmp_workspace, port)
    monkeypatch.undo()
    assert_user_error(result, "The disk holding", "campaigns/2026-12/sent-log.jsonl is full")
    assert 0 < len(server.received) < 31
    assert_nobody_twice_after_rerun(run, tmp_workspace, port, server)


@pytest.fixture
def small_disk(tmp_workspace):
    """.chairside on a real 1 MB filesystem (tmpfs), or skip where mounting is not allowed."""
    state = tmp_workspace / ".chairside"
    state.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(state)], capture_output=True
    )
    if mounted.returncode:
        pytest.skip("cannot mount a small filesystem here")
    try:
        yield state
    finally:
        subprocess.run(["umount", "-l", str(state)], check=False)


def test_a_disk_that_fills_up_while_sending(tmp_workspace, small_disk, smtp_server, run):
    server, port = smtp_server
    assert send(run, tmp_workspace, port, "--dry-run").exit_code == 0
    filler = small_disk / "filler"
    free = shutil.disk_usage(small_disk).free
    filler.write_bytes(b"\0" * (free - 80 * 1024))  # room for a few commits only
    result = send(run, tmp_workspace, port)
    assert_user_error(result, "The disk holding", "is full", "run the same command again")
    assert 0 < len(server.received) < 31  # it stopped part way
    filler.unlink()
    assert_nobody_twice_after_rerun(run, tmp_workspace, port, server)


@pytest.fixture
def read_only_state(tmp_workspace, run):
    """.chairside made immutable (chattr +i): read-only even for root, who ignores chmod."""
    assert run("send", "2026-12", "--dry-run", cwd=tmp_workspace).exit_code == 0
    state = tmp_workspace / ".chairside"
    if subprocess.run(["chattr", "+i", str(state)], capture_output=True).returncode:
        pytest.skip("chattr +i is not available here")
    try:
        yield state
    finally:
        subprocess.run(["chattr", "-i", str(state)], check=False)


def test_a_read_only_practice_folder(tmp_workspace, read_only_state, smtp_server, run):
    server, port = smtp_server
    result = send(run, tmp_workspace, port)
    assert_user_error(result, ".chairside/", "Make the practice folder writable")
    assert server.received == []
    subprocess.run(["chattr", "-i", str(read_only_state)], check=True)
    assert_nobody_twice_after_rerun(run, tmp_workspace, port, server)


def test_a_file_where_the_state_folder_belongs(tmp_workspace, smtp_server, run):
    server, port = smtp_server
    (tmp_workspace / ".chairside").write_text("a sync tool's placeholder")
    for command in (("send", "2026-12", "--smtp-port", str(port)), ("status", "2026-12")):
        result = run(*command, cwd=tmp_workspace)
        assert_user_error(result, ".chairside/", "is a file where Chairside keeps a folder")
    assert server.received == []
