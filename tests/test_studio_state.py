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
