"""Patients page over plain HTTP: a bad upload never costs the current list."""

from __future__ import annotations

import pytest

from tests.support import StudioServer, copy_demo, csrf_of


@pytest.fixture
def studio(tmp_path):
    server = StudioServer(copy_demo(tmp_path / "practice"))
    yield server
    server.close()


def upload(studio: StudioServer, name: str, data: bytes):
    client = studio.client()
    token = csrf_of(client.get("/patients").text)
    return client.post(
        "/patients/upload", data={"csrf": token}, files={"export": (name, data, "text/csv")}
    )


@pytest.mark.parametrize(
    ("name", "data", "said"),
    [
        ("list.xlsx", b"PK\x03\x04 a workbook", "is an Excel workbook"),
        ("empty.csv", b"", "is empty"),
        ("nomail.csv", b"Name,Phone\nAnn,555\n", "no email column"),
    ],
)
def test_a_failed_upload_leaves_the_list_as_it_was(studio, name, data, said):
    patients = studio.root / "audiences/patients.csv"
    before = patients.read_bytes()
    answer = upload(studio, name, data)
    assert answer.status_code == 400
    assert said in answer.text
    assert "Traceback" not in answer.text
    assert patients.read_bytes() == before
    assert not list((studio.root / "audiences").glob(".upload-*"))


def test_a_good_upload_replaces_the_list_whole(studio):
    answer = upload(studio, "new.csv", b"Email,First Name,Email Opt In\nann@example.com,Ann,Y\n")
    assert answer.status_code == 200
    assert "Uploaded" in answer.text
    assert (studio.root / "audiences/patients.csv").read_bytes().startswith(b"Email,First Name")
    assert 'data-count="sendable">1<' in answer.text
    assert "ann@example.com" not in answer.text


def test_columns_that_do_not_fit_the_list_are_not_saved(studio):
    segments = studio.root / "audiences/segments.toml"
    before = segments.read_bytes()
    client = studio.client()
    token = csrf_of(client.get("/patients").text)
    answer = client.post("/patients/columns", data={"csrf": token, "col_email": "No Such"})
    assert answer.status_code == 400
    assert "has no such column" in answer.text
    assert segments.read_bytes() == before


def test_a_waiting_upload_can_be_discarded(studio):
    client = studio.client()
    token = csrf_of(client.get("/patients").text)
    answer = client.post(
        "/patients/upload",
        data={"csrf": token},
        files={"export": ("odd.csv", b"Pt Mail,Given\nann@example.com,Ann\n", "text/csv")},
    )
    assert answer.status_code == 400 and "Discard this upload" in answer.text
    waiting = studio.root / ".chairside/studio-upload.csv"
    assert waiting.is_file()
    answer = client.post("/patients/upload/discard", data={"csrf": token})
    assert "discarded" in answer.text
    assert not waiting.exists()
