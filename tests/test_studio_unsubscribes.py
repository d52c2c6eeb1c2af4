"""Unsubscribes page over plain HTTP: the CLI's words, nothing added twice."""

from __future__ import annotations

import pytest

from chairside.audience.suppression import read_suppressed
from tests.support import StudioServer, copy_demo, csrf_of


@pytest.fixture
def studio(tmp_path):
    server = StudioServer(copy_demo(tmp_path / "practice"))
    yield server
    server.close()


def test_import_a_provider_export_twice_adds_once(studio):
    client = studio.client()
    token = csrf_of(client.get("/unsubscribes").text)
    export = b"Email Address,Reason\nnew.one@example.com,unsubscribed\nnot-an-address,x\n"
    for expected in ("1 added, 0 already there", "0 added, 1 already there"):
        answer = client.post(
            "/unsubscribes/import",
            data={"csrf": token},
            files={"export": ("unsubscribed_members.csv", export, "text/csv")},
        )
        assert expected in answer.text
        assert answer.status_code == 400  # the unreadable line is reported, in the CLI's words
        assert "1 not added, not an address" in answer.text
        assert "unsubscribed_members.csv, line 3" in answer.text
    assert "new.one@example.com" in read_suppressed(studio.root / "audiences/suppressed.csv")


def test_adding_nothing_is_explained(studio):
    client = studio.client()
    token = csrf_of(client.get("/unsubscribes").text)
    answer = client.post("/unsubscribes/add", data={"csrf": token, "addresses": "  \n"})
    assert answer.status_code == 400
    assert "Type one or more addresses" in answer.text
