"""The campaigns list's states come from library reads of the ledger, never the studio's SQL."""

from __future__ import annotations

from pathlib import Path

import chairside.studio
from chairside.ledger import SENT, open_ledger
from chairside.studio.state import delivery
from chairside.workspace import Workspace
from tests.support import copy_demo


def test_a_campaign_handed_to_a_provider_reads_as_pushed_and_one_sent_by_smtp_does_not(tmp_path):
    root = copy_demo(tmp_path / "practice")
    workspace = Workspace(root)
    with open_ledger(root / ".chairside") as ledger:
        ledger.mark_sending("2026-12", "ann@example.com", "ann@example.com", "v1")
        ledger.finish("2026-12", "ann@example.com", SENT, reply="250 ok")
        ledger.mark_batch_sending(
            "2026-11", "sendgrid", "b1", [("bo@example.com", "bo@example.com", "v1")]
        )
        ledger.finish_batch("2026-11", "b1", reply="202")
        assert ledger.routes("2026-12") == {"smtp"}
        assert ledger.routes("2026-11") == {"sendgrid"}
        assert ledger.routes("2026-10") == set()
    by_smtp, pushed = delivery(workspace, "2026-12"), delivery(workspace, "2026-11")
    assert (by_smtp.sent, by_smtp.pushed) == (1, False)
    assert (pushed.sent, pushed.pushed) == (1, True)


def test_the_studio_reads_the_ledger_only_through_the_library():
    studio = Path(chairside.studio.__file__).parent
    for source in studio.rglob("*.py"):
        text = source.read_text("utf-8")
        assert ".db." not in text and "SELECT " not in text, source


def test_pages_read_the_patient_list_once_and_again_only_after_it_changes(tmp_path, monkeypatch):
    """At 100,000 patients a read costs seconds: the pages share one, until the file changes."""
    from chairside.studio import state
    from tests.support import StudioServer

    reads: list[str] = []
    real = state.load_audience

    def counted(workspace, *args, **kwargs):
        reads.append(str(workspace.patients_file))
        return real(workspace, *args, **kwargs)

    monkeypatch.setattr(state, "load_audience", counted)
    state.CACHE.clear()
    root = copy_demo(tmp_path / "practice")
    studio = StudioServer(root)
    try:
        client = studio.client()
        for page in ("/patients", "/c/2026-12/send", "/patients", "/c/2026-12/send/progress"):
            assert client.get(page).status_code == 200
        assert len(reads) == 1
        patients = root / "audiences/patients.csv"
        patients.write_text(patients.read_text("utf-8") + "new.one@example.com,New,,Y\n")
        page = client.get("/patients").text
        assert len(reads) == 2 and "new.one@example.com" not in page  # read again, masked
        assert client.get("/c/2026-12/send").status_code == 200 and len(reads) == 2
    finally:
        studio.close()


def test_the_send_record_is_read_again_when_the_ledger_changes(tmp_path):
    from chairside.studio import state

    root = copy_demo(tmp_path / "practice")
    workspace = Workspace(root)
    assert state.delivery(workspace, "2026-12").sent == 0
    assert state.delivery(workspace, "2026-12").sent == 0  # from the cache
    with open_ledger(root / ".chairside") as ledger:
        ledger.mark_sending("2026-12", "ann@example.com", "ann@example.com", "v1")
        ledger.finish("2026-12", "ann@example.com", SENT, reply="250 ok")
    assert state.delivery(workspace, "2026-12").sent == 1
    assert state.status(workspace, "2026-12").sent == 1


def test_a_value_computed_while_its_file_changed_is_not_kept(tmp_path):
    from chairside.studio.state import FileCache

    path = tmp_path / "list.csv"
    path.write_text("a\n")
    cache, calls = FileCache(), []

    def compute() -> str:
        calls.append(1)
        text = path.read_text()
        path.write_text(text + "b\n")  # changed while it was being read
        return text

    assert cache.get(("k",), [path], compute) == "a\n"
    assert cache.get(("k",), [path], lambda: path.read_text()) == "a\nb\n"
    assert cache.get(("k",), [path], compute) == "a\nb\n" and len(calls) == 1


def test_a_progress_poll_during_a_send_reads_neither_the_list_nor_the_send_record(
    tmp_path, monkeypatch
):
    """Polled every second while a send runs: the run's counters in memory, nothing read.
    The race is arranged: the server holds its reply to the first message until released."""
    import asyncio
    import threading
    import time

    from aiosmtpd.controller import Controller

    from chairside.studio import state
    from tests.conftest import free_port
    from tests.support import SmtpRecorder, StudioServer, csrf_of

    release, holding = threading.Event(), threading.Event()

    class Held(SmtpRecorder):
        async def handle_DATA(self, server, session, envelope):
            holding.set()
            while not release.is_set():
                await asyncio.sleep(0.01)
            return await super().handle_DATA(server, session, envelope)

    recorder = Held()
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port())
    controller.start()
    root = copy_demo(tmp_path / "practice")
    practice = root / "practice.toml"
    practice.write_text(
        practice.read_text("utf-8").replace("port = 1025", f"port = {controller.port}")
    )
    reads: list[str] = []
    for name in ("load_audience", "campaign_status"):
        real = getattr(state, name)
        monkeypatch.setattr(
            state,
            name,
            lambda *a, _real=real, _name=name, **k: (reads.append(_name), _real(*a, **k))[1],
        )
    studio = StudioServer(root)
    try:
        client = studio.client()
        token = csrf_of(client.get("/c/2026-12/send").text)
        started = client.post("/c/2026-12/send/start", data={"csrf": token, "expected": "31"})
        assert started.status_code == 303
        assert holding.wait(20)
        before = list(reads)
        for _ in range(5):
            box = client.get("/c/2026-12/send/progress").text
            assert 'data-running="yes"' in box and 'data-count="pending">31<' in box
        assert reads == before  # five polls, no read of the list or the send record
        # The campaigns list says it is sending without checking the ledger against its
        # journal (which would take the ledger's write lock from the send).
        row = client.get("/").text.split('data-campaign="2026-12"')[1].split("</tr>")[0]
        assert "state-sending" in row and reads == before
        release.set()
        deadline = time.monotonic() + 30
        while 'data-running="no"' not in client.get("/c/2026-12/send/progress").text:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert 'data-count="sent">31<' in client.get("/c/2026-12/send").text
    finally:
        release.set()
        studio.close()
        controller.stop()
