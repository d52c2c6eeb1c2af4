"""What the studio reads from the large files is kept across restarts (in .chairside/cache/)
while they do not change, read again once they do, and never trusted when damaged; a page
whose heavy part is not ready shows the rest at once and loads that part as a fragment."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from chairside.ledger import SENT, open_ledger
from chairside.studio import state
from chairside.workspace import Workspace
from tests.support import StudioServer, copy_demo


@pytest.fixture
def reads(monkeypatch) -> list[str]:
    """Every read of the patient list, from a cache emptied as a restart empties it."""
    found: list[str] = []
    real = state.load_audience

    def counted(workspace, *args, **kwargs):
        found.append(str(workspace.patients_file))
        return real(workspace, *args, **kwargs)

    monkeypatch.setattr(state, "load_audience", counted)
    state.CACHE.clear()
    return found


def restart() -> None:
    state.CACHE.clear()  # what a new studio process starts with


def test_the_list_is_read_once_across_restarts_and_again_after_it_changes(tmp_path, reads):
    workspace = Workspace(copy_demo(tmp_path / "practice"))
    first = state.list_summary(workspace)
    restart()
    assert state.list_summary(workspace) == first
    assert len(reads) == 1
    with workspace.patients_file.open("a", encoding="utf-8") as handle:
        handle.write("HLD-99999,New,Patient,new@example.com,,Y,2026-11-01\n")
    restart()
    assert state.list_summary(workspace)["rows"] == first["rows"] + 1
    assert len(reads) == 2


def test_a_change_the_files_stats_hide_is_seen_after_a_restart(tmp_path, reads):
    """Same size, same inode, mtime put back: the content hash tells."""
    workspace = Workspace(copy_demo(tmp_path / "practice"))
    path = workspace.patients_file
    first = state.list_summary(workspace)
    before = path.stat()
    text = path.read_text(encoding="utf-8")
    assert ",Y," in text
    with path.open("r+", encoding="utf-8") as handle:
        handle.write(text.replace(",Y,", ",N,", 1))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (
        before.st_ino, before.st_size, before.st_mtime_ns,
    )  # fmt: skip
    restart()
    assert state.list_summary(workspace)["no_consent"] == first["no_consent"] + 1
    assert len(reads) == 2


@pytest.mark.parametrize("damage", ["not json {", '{"key": 1}', "[]", "", "value"])
def test_a_damaged_cache_is_ignored_and_replaced(tmp_path, reads, damage):
    import json

    workspace = Workspace(copy_demo(tmp_path / "practice"))
    first = state.list_summary(workspace)
    kept = list((workspace.root / ".chairside" / "cache").glob("*.json"))
    assert kept
    for path in kept:
        if damage == "value":  # the files still match, the value lost a field
            entry = json.loads(path.read_text(encoding="utf-8"))
            del entry["value"]["sendable"]
            path.write_text(json.dumps(entry), encoding="utf-8")
        else:
            path.write_text(damage, encoding="utf-8")
    restart()
    assert state.list_summary(workspace) == first
    assert len(reads) == 2
    restart()
    assert state.list_summary(workspace) == first
    assert len(reads) == 2  # written again, whole


def test_the_send_record_is_checked_once_across_restarts_and_again_after_a_send(
    tmp_path, monkeypatch
):
    workspace = Workspace(copy_demo(tmp_path / "practice"))
    with open_ledger(workspace.root / ".chairside") as ledger:
        ledger.mark_sending("2026-12", "ann@example.com", "ann@example.com", "v1")
        ledger.finish("2026-12", "ann@example.com", SENT, reply="250 ok")
    checks: list[str] = []
    real = state._delivered

    def counted(where, name):
        checks.append(name)
        return real(where, name)

    monkeypatch.setattr(state, "_delivered", counted)
    restart()
    assert state.delivery(workspace, "2026-12").sent == 1
    restart()
    assert state.delivery(workspace, "2026-12").sent == 1
    assert len(checks) == 1
    with open_ledger(workspace.root / ".chairside") as ledger:
        ledger.mark_sending("2026-12", "bo@example.com", "bo@example.com", "v1")
        ledger.finish("2026-12", "bo@example.com", SENT, reply="250 ok")
    restart()
    assert state.delivery(workspace, "2026-12").sent == 2
    assert len(checks) == 2


def test_addresses_shown_on_request_are_not_kept_on_disk(tmp_path):
    workspace = Workspace(copy_demo(tmp_path / "practice"))
    state.CACHE.clear()
    state.status(workspace, "2026-12", show=True)
    state.list_summary(workspace)
    kept = "".join(p.read_text() for p in (workspace.root / ".chairside/cache").glob("*"))
    first = workspace.patients_file.read_text(encoding="utf-8").splitlines()[1].split(",")[3]
    assert "@" in first and first not in kept


@pytest.fixture
def held(monkeypatch):
    """The patient list's read held until the test releases it: a slow list, arranged."""
    release = threading.Event()
    real = state.load_audience

    def slow(workspace, *args, **kwargs):
        assert release.wait(30)
        return real(workspace, *args, **kwargs)

    monkeypatch.setattr(state, "load_audience", slow)
    monkeypatch.setattr(state, "WAIT", 0.0)
    state.CACHE.clear()
    yield release
    release.set()


def test_pages_show_at_once_and_load_what_is_still_being_read(tmp_path, held):
    root = copy_demo(tmp_path / "practice")
    studio = StudioServer(root)
    try:
        client = studio.client()
        page = client.get("/patients")
        assert page.status_code == 200
        assert "Counting patients…" in page.text and 'hx-get="/patients/list"' in page.text
        assert 'id="counts"' not in page.text
        send = client.get("/c/2026-12/send")
        assert "Reading the send record…" in send.text
        assert 'hx-get="/c/2026-12/send/progress"' in send.text
        held.set()
        part = client.get("/patients/list")
        assert 'data-count="sendable"' in part.text and "<html" not in part.text
        progress = client.get("/c/2026-12/send/progress")
        assert 'data-count="pending"' in progress.text
        assert "Counting patients…" not in client.get("/patients").text
    finally:
        studio.close()


def test_the_confirmation_of_a_send_counts_afresh_and_never_waits_for_a_fragment(
    tmp_path, monkeypatch
):
    """A list changed after the page was read: the confirmation names the new number."""
    from tests.support import csrf_of

    monkeypatch.setattr(state, "WAIT", 0.0)
    root = copy_demo(tmp_path / "practice")
    studio = StudioServer(root)
    try:
        client = studio.client()
        client.get("/patients/list")  # read and kept
        with (root / "audiences/patients.csv").open("a", encoding="utf-8") as handle:
            handle.write("HLD-99999,New,Patient,new@example.com,,Y,2026-11-01\n")
        sendable = state.list_summary(Workspace(root))["sendable"]
        page = client.get("/c/2026-12/send")
        token = csrf_of(page.text)
        confirm = client.post("/c/2026-12/send/confirm", data={"csrf": token})
        assert f"Send 2026-12 to {sendable} patients now?" in confirm.text
        assert "Reading the send record…" not in confirm.text
    finally:
        studio.close()


def test_the_campaigns_list_loads_as_a_fragment_while_a_send_record_is_read(tmp_path, monkeypatch):
    release = threading.Event()
    real = state._delivered

    def slow(where: Path, name: str):
        assert release.wait(30)
        return real(where, name)

    monkeypatch.setattr(state, "_delivered", slow)
    monkeypatch.setattr(state, "WAIT", 0.0)
    state.CACHE.clear()
    root = copy_demo(tmp_path / "practice")
    with open_ledger(root / ".chairside") as ledger:
        ledger.mark_sending("2026-12", "ann@example.com", "ann@example.com", "v1")
        ledger.finish("2026-12", "ann@example.com", SENT, reply="250 ok")
    studio = StudioServer(root)
    try:
        client = studio.client()
        page = client.get("/")
        assert "Reading the send records…" in page.text and "(1 sent)" not in page.text
        edit = client.get("/c/2026-12/edit")
        assert 'hx-get="/c/2026-12/edit/sent"' in edit.text
        release.set()
        assert "(1 sent)" in client.get("/campaigns/list").text
        assert "1 patient already have" in client.get("/c/2026-12/edit/sent").text
    finally:
        release.set()
        studio.close()


def test_the_read_ahead_runs_in_a_child_process_and_the_studio_loads_what_it_kept(
    tmp_path, reads, monkeypatch
):
    """The 100k read takes no time from the studio's own thread: this process never
    reads the list, yet knows its counts."""
    monkeypatch.setattr(state, "AHEAD", True)
    workspace = Workspace(copy_demo(tmp_path / "practice"))
    state.read_ahead(workspace)
    summary = state.list_summary(workspace)
    assert summary["sendable"] > 0 and reads == []
    assert state.delivery(workspace, "2026-12").sent == 0 and reads == []
    assert state.status(workspace, "2026-12").pending == summary["sendable"]
    assert reads == []


def test_the_edit_page_shows_at_once_and_loads_the_form_once_the_campaign_is_checked(
    tmp_path, monkeypatch
):
    """A post changed in an editor: the campaign is built and checked again (a build
    held here until released), the page meanwhile says so; the form then has the change."""
    from chairside.studio.pages import edit

    root = copy_demo(tmp_path / "practice")
    studio = StudioServer(root)
    try:
        client = studio.client()
        assert 'id="check-summary"' in client.get("/c/2026-12/edit").text
        release = threading.Event()
        real = edit.build_and_check

        def held(workspace, name):
            assert release.wait(30)
            return real(workspace, name)

        monkeypatch.setattr(edit, "build_and_check", held)
        monkeypatch.setattr(state, "WAIT", 0.0)
        toml = root / "campaigns/2026-12/campaign.toml"
        toml.write_text(
            toml.read_text(encoding="utf-8").replace('subject = "', 'subject = "Changed: ', 1),
            encoding="utf-8",
        )
        page = client.get("/c/2026-12/edit")
        assert "Checking the campaign…" in page.text and "Changed: " not in page.text
        assert 'hx-get="/c/2026-12/edit/body"' in page.text
        release.set()
        body = client.get("/c/2026-12/edit/body").text
        assert "Changed: " in body and 'id="check-summary"' in body and "<html" not in body
    finally:
        studio.close()


def test_one_child_reads_every_campaigns_send_record_for_the_list(tmp_path, monkeypatch):
    import shutil
    import subprocess

    root = copy_demo(tmp_path / "practice")
    shutil.copytree(root / "campaigns/2026-12", root / "campaigns/2026-11")
    workspace = Workspace(root)
    children: list[list[str]] = []
    real = subprocess.run

    def counted(command, **kwargs):
        children.append(command)
        return real(command, **kwargs)

    monkeypatch.setattr(state, "AHEAD", True)
    monkeypatch.setattr(state.subprocess, "run", counted)
    state.CACHE.clear()
    state.deliveries_ready(workspace, ["2026-12", "2026-11"], 0)  # both read in background
    assert state.delivery(workspace, "2026-12").sent == 0  # waits for them
    assert state.delivery(workspace, "2026-11").sent == 0
    assert len(children) == 1
    assert children[0][-2:] == ["delivery:2026-12", "delivery:2026-11"]
