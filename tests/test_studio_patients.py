"""Patients page over plain HTTP: a bad upload never costs the current list."""

from __future__ import annotations

import io
import re

import pytest

from chairside.audience.table import table_headers
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
        ("list.xlsx", b"PK\x03\x04 a workbook", "list.xlsx is not a patient list"),
        ("empty.csv", b"", "empty.csv is not a patient list"),
        ("nomail.csv", b"Name,Phone\nAnn,555\n", "nomail.csv is not a patient list"),
        ("photo.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, "photo.png is not a"),
    ],
)
def test_a_failed_upload_leaves_the_list_as_it_was(studio, name, data, said):
    patients = studio.root / "audiences/patients.csv"
    before = patients.read_bytes()
    answer = upload(studio, name, data)
    assert answer.status_code == 400
    assert said in answer.text
    assert "Traceback" not in answer.text
    assert ".upload-" not in answer.text  # the office's file is named, not where it was saved
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
    assert "has no such column" in answer.text and 'id="columns-error"' in answer.text
    assert "segments.toml" not in answer.text and "[patients.columns]" not in answer.text
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


def workbook(rows: list[list[object]]) -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Active patients, December"])  # a title above the header
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_a_spreadsheet_export_is_uploaded_and_read(studio, run):
    page = studio.client().get("/patients").text
    accepted = re.search(r'type="file" name="export" accept="([^"]+)"', page).group(1)
    assert {".xlsx", ".xls", ".ods", ".csv"} <= set(accepted.split(","))  # the picker shows them
    data = workbook(
        [
            ["Email", "First Name", "Allow Email", "Medical Alerts"],
            ["ann@example.com", "Ann", True, "TMJ"],
            ["bo@example.com", "Bo", 1, ""],
            ["not-an-address", "Cy", 1, ""],
        ]
    )
    answer = upload(studio, "Patients.xlsx", data)
    assert answer.status_code == 200, answer.text
    assert "Uploaded" in answer.text
    assert 'data-count="sendable">2<' in answer.text
    assert "spreadsheet" in answer.text  # read as one, not as text
    # Kept as the spreadsheet it is, under its own format's name, and read from there.
    assert (studio.root / "audiences/patients.xlsx").read_bytes() == data
    assert not (studio.root / "audiences/patients.csv").exists()
    assert "Patients.xlsx" in answer.text
    assert "ann@example.com" not in answer.text
    assert run("audience", cwd=studio.root).exit_code == 0  # the CLI finds it too


def test_a_spreadsheet_without_a_known_email_column_offers_its_own_headers(studio):
    data = workbook([["Pt Mail", "Given", "OK"], ["ann@example.com", "Ann", "Y"]])
    assert table_headers_of(studio, data) == ["Pt Mail", "Given", "OK"]
    client = studio.client()
    token = csrf_of(client.get("/patients").text)
    answer = client.post(
        "/patients/upload", data={"csrf": token}, files={"export": ("p.xlsx", data, "x")}
    )
    assert answer.status_code == 400
    assert 'value="Pt Mail"' in answer.text and "Active patients" not in answer.text
    answer = client.post(
        "/patients/upload/columns",
        data={
            "csrf": token,
            "col_email": "Pt Mail",
            "col_first_name": "Given",
            "col_consent": "OK",
        },
    )
    assert answer.status_code == 200, answer.text
    assert 'data-count="sendable">1<' in answer.text
    assert 'email = "Pt Mail"' in (studio.root / "audiences/segments.toml").read_text("utf-8")


def table_headers_of(studio: StudioServer, data: bytes) -> list[str]:
    path = studio.root / "probe.xlsx"
    path.write_bytes(data)
    return table_headers(path)


def test_a_column_choice_is_kept_for_its_own_headers_and_next_months_export_still_reads(studio):
    client = studio.client()
    token = csrf_of(client.get("/patients").text)
    odd = b"Pt Mail,Given,OK\nann@example.com,Ann,Y\n"
    answer = client.post(
        "/patients/upload", data={"csrf": token}, files={"export": ("odd.csv", odd, "text/csv")}
    )
    assert answer.status_code == 400
    chosen = {"csrf": token, "col_email": "Pt Mail", "col_consent": "OK"}
    answer = client.post("/patients/upload/columns", data=chosen)
    assert answer.status_code == 200 and "Forget this choice" in answer.text
    # Next month's export, from the usual software, with its own headers: read by name.
    usual = b"Email,First Name,Email Opt In\nbo@example.com,Bo,Y\ncy@example.com,Cy,Y\n"
    answer = upload(studio, "march.csv", usual)
    assert answer.status_code == 200, answer.text
    assert 'data-count="sendable">2<' in answer.text and "Forget this choice" not in answer.text
    # The odd export again: its choice still applies, and can be forgotten.
    answer = upload(studio, "odd again.csv", odd)
    assert answer.status_code == 200 and 'data-count="sendable">1<' in answer.text
    answer = client.post("/patients/columns/forget", data={"csrf": token})
    assert "forgotten" in answer.text and "Pt Mail" not in (
        studio.root / "audiences/segments.toml"
    ).read_text("utf-8")
