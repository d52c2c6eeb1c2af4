"""Practice tables as offices really have them: encodings, title lines, spreadsheets, columns."""

from __future__ import annotations

import codecs
import datetime
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chairside.audience.encoding import detect_encoding
from chairside.audience.names import name_case
from tests.support import assert_user_error

NAMES = ["José", "Zoë", "Renée", "Ñuño", "Françoise", "Jürgen"]


def patients_text(newline: str = "\r\n") -> str:
    rows = ["First Name,Email,Concerns,Email Opt In"]
    rows += [f"{name},p{i}@example.com,TMJ,Y" for i, name in enumerate(NAMES)]
    return newline.join(rows) + newline


def audience(run, root: Path, path: Path, *args: str) -> dict:
    result = run("audience", "--json", "--show", "--audience", str(path), *args, cwd=root)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (patients_text().encode("utf-8"), "UTF-8"),
        (codecs.BOM_UTF8 + patients_text().encode("utf-8"), "UTF-8 with BOM"),
        (patients_text().encode("cp1252"), "Windows-1252"),
        (patients_text("\r").encode("mac_roman"), "Mac Roman"),
        (patients_text().encode("mac_roman"), "Mac Roman"),
        (patients_text().encode("utf-16"), "UTF-16"),
        (patients_text().encode("utf-16-le"), "UTF-16"),
        (patients_text().encode("utf-16-be"), "UTF-16"),
    ],
    ids=["utf8", "utf8-bom", "cp1252", "mac-roman-cr", "mac-roman", "utf16", "utf16le", "utf16be"],
)
def test_every_common_encoding_gives_the_right_names(
    tmp_workspace: Path, run, data: bytes, encoding: str
):
    path = tmp_workspace / "export.csv"
    path.write_bytes(data)
    report = audience(run, tmp_workspace, path)
    assert report["encoding"] == encoding
    assert [p["first_name"] for p in report["patients"]] == NAMES
    assert report["rejected"] == []


def test_mac_roman_is_told_from_windows_1252_by_its_letters(tmp_path: Path):
    # Mac Roman é (0x8E) is "Ž" in Windows-1252: "JosŽ" would be a capital after a small letter.
    path = tmp_path / "mac.csv"
    path.write_bytes("Email,First Name\nj@example.com,José\n".encode("mac_roman"))
    assert detect_encoding(path).codec == "mac_roman"
    path.write_bytes("Email,First Name\nj@example.com,José\n".encode("cp1252"))
    assert detect_encoding(path).codec == "cp1252"


@pytest.mark.parametrize(
    "name",
    ["José", "O’Brien", "Jürgen", "Björn", "Müller", "Søren", "“VIP”", "JOSÉ", "D’ANGELO", "Noël"],
)
@pytest.mark.parametrize("codec", ["cp1252", "mac_roman"])
def test_one_accented_name_is_enough_to_tell_the_encoding(tmp_path: Path, name: str, codec: str):
    path = tmp_path / "one.csv"
    path.write_bytes(f"Email,First Name\na@example.com,{name}\n".encode(codec))
    assert detect_encoding(path).codec == codec


def test_a_stray_byte_in_a_utf8_file_is_reported_with_its_line(tmp_workspace: Path, run):
    data = (
        b"First Name,Email,Email Opt In\n"
        + "Zoë,zoe@example.com,Y\n".encode()
        + b"Jos\xe9,jose@example.com,Y\n"  # one cell saved by another program
        + b"Ann,ann@example.com,Y\n"
    )
    path = tmp_workspace / "export.csv"
    path.write_bytes(data)
    report = audience(run, tmp_workspace, path)
    assert report["encoding"] == "UTF-8 (with unreadable bytes)"
    assert [p["first_name"] for p in report["patients"]] == ["Zoë", "Ann"]  # never "ZoÃ«"
    assert [(r["line"], r["reason"][:13]) for r in report["rejected"]] == [(3, "byte 0xE9 is ")]
    assert report["rows"] == 3


def test_an_unreadable_byte_alone_is_not_guessed(tmp_workspace: Path, run):
    # 0x81 means nothing in Windows-1252 and "Å" after a small letter in Mac Roman.
    path = tmp_workspace / "export.csv"
    path.write_bytes(b"Email,Email Opt In\nann@example.com,Y\nbo\x81@example.com,Y\n")
    report = audience(run, tmp_workspace, path)
    assert report["sendable"] == 1
    assert report["rejected"][0]["line"] == 3 and "0x81" in report["rejected"][0]["reason"]


def test_title_lines_above_the_header_and_line_numbers(tmp_workspace: Path, run):
    text = (
        "Harbor Lane Dental, patient report\r\n"
        "Printed 2026-11-30; all providers\r\n"
        "\r\n"
        "Patient #;First Name;E-Mail;Email OK (Y/N)\r\n"
        "1;Ann;ann@example.com;Y\r\n"
        "2;Bo;not-an-address;Y\r\n"
    )
    path = tmp_workspace / "report.csv"
    path.write_text(text, encoding="utf-8", newline="")
    report = audience(run, tmp_workspace, path)
    assert (report["delimiter"], report["sendable"]) == ("semicolon", 1)
    assert report["rejected"][0]["line"] == 6


def write_xlsx(path: Path, rows: list[list[object]]) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    book.active.title = "Summary"
    book.active.append(["nothing to see here"])
    sheet = book.create_sheet("Patients")
    for row in rows:
        sheet.append(row)
    book.save(path)


SHEET = [
    ["Harbor Lane Dental - active patients"],
    [],
    ["Last Name", "First Name", "Preferred Name", "Email", "Allow Email", "Medical Alerts"],
    ["O'BRIEN", "ROBERT", "Bobby", "rob@example.com", True, "TMJ"],
    ["MCDONALD", "MARY-JANE", None, "mj@example.com", 1, "neck pain"],
    [None, None, None, None, None, None],
    ["Lee", "sam", "", "sam@example.com", "N", ""],
    ["Ng", "Al", "", "bad@", "Y", ""],
]


def check_sheet(report: dict, first_row_line: int) -> None:
    assert report["encoding"].startswith("spreadsheet")
    assert [(p["first_name"], p["segment"]) for p in report["patients"]] == [
        ("Bobby", "tmj"),
        ("Mary-Jane", "neck_shoulder"),
    ]
    assert (report["rows"], report["no_consent"]) == (4, 1)
    assert report["rejected"][0]["line"] == first_row_line


def test_an_xlsx_export_with_a_title_and_typed_cells(tmp_workspace: Path, run):
    path = tmp_workspace / "patients.xlsx"
    write_xlsx(path, SHEET)
    check_sheet(audience(run, tmp_workspace, path), 8)
    # Saved under a .csv name, it is still read as the spreadsheet it is.
    renamed = tmp_workspace / "patients-export.csv"
    renamed.write_bytes(path.read_bytes())
    check_sheet(audience(run, tmp_workspace, renamed), 8)


def test_an_ods_export(tmp_workspace: Path, run):
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import Table, TableCell, TableRow
    from odf.text import P

    doc = OpenDocumentSpreadsheet()
    table = Table(name="Patients")
    for row in SHEET:
        cells = TableRow()
        for value in row or [""]:
            if isinstance(value, bool | int):
                cell = TableCell(valuetype="float", value=int(value))
            else:
                cell = TableCell(valuetype="string")
            cell.addElement(P(text="" if value is None else str(value)))
            cells.addElement(cell)
        table.addElement(cells)
    doc.spreadsheet.addElement(table)
    path = tmp_workspace / "patients.ods"
    doc.save(str(path))
    check_sheet(audience(run, tmp_workspace, path), 8)


def test_an_old_xls_export(tmp_workspace: Path, run):
    import xlwt

    book = xlwt.Workbook()
    sheet = book.add_sheet("Patients")
    for r, row in enumerate(SHEET):
        for c, value in enumerate(row):
            if value is not None:
                sheet.write(r, c, int(value) if isinstance(value, bool) else value)
    path = tmp_workspace / "patients.xls"
    book.save(str(path))
    check_sheet(audience(run, tmp_workspace, path), 8)


def test_csv_text_saved_as_xls_is_read_as_text(tmp_workspace: Path, run):
    path = tmp_workspace / "export.xls"
    path.write_text("Email\tConsent\r\na@example.com\tY\r\n", encoding="cp1252")
    assert audience(run, tmp_workspace, path)["sendable"] == 1


def test_a_broken_spreadsheet_is_a_clear_error(tmp_workspace: Path, run):
    path = tmp_workspace / "patients.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    result = run("audience", "--audience", str(path), cwd=tmp_workspace)
    assert_user_error(result, "cannot be read as a spreadsheet", "save it as CSV")


def test_dates_and_numbers_read_as_a_csv_export_would(tmp_workspace: Path, run):
    path = tmp_workspace / "p.xlsx"
    write_xlsx(
        path,
        [
            ["Email", "Consent", "Last Visit", "Concerns"],
            ["a@example.com", 1.0, datetime.date(2026, 1, 2), 42],
        ],
    )
    report = audience(run, tmp_workspace, path)
    assert report["sendable"] == 1


@pytest.mark.parametrize(
    ("headers", "row", "name", "segment"),
    [
        ("E-mail Address,First Name,Email OK (Y/N),Chief Complaint", "Ann,Y,TMJ", "Ann", "tmj"),
        ("Email,FName,OK to Email,Medical Alerts / Patient Notes", "Ann,Yes,neck", "Ann", "neck"),
        ("Pt Email,Nickname,Marketing Opt-In,Patient Notes", "Annie,1,bruxism", "Annie", "tmj"),
        ("EMAIL_ADDRESS,FIRST_NAME,EMAIL_CONSENT,CONDITIONS", "ANN,TRUE,jaw", "Ann", "tmj"),
        ("Email,Preferred,Allow Email,Medical Alerts", "Al,Y,whiplash", "Al", "neck"),
        ("Email,Goes By,Email Consent,Dx", "Al,Y,", "Al", "general"),
    ],
)
def test_columns_as_practice_software_names_them(
    tmp_workspace: Path, run, headers: str, row: str, name: str, segment: str
):
    cells = row.split(",")
    line = ",".join(["a@example.com", *cells])
    path = tmp_workspace / "p.csv"
    path.write_text(f"{headers}\n{line}\n")
    report = audience(run, tmp_workspace, path)
    segment = {"neck": "neck_shoulder"}.get(segment, segment)
    assert report["patients"] == [
        {"line": 2, "email": "a@example.com", "first_name": name, "segment": segment}
    ]
    assert report["notes"] == []


def test_alerts_and_notes_both_count(tmp_workspace: Path, run):
    path = tmp_workspace / "p.csv"
    path.write_text("Email,Consent,Medical Alerts,Patient Notes\na@example.com,Y,,TMJ splint\n")
    assert audience(run, tmp_workspace, path)["segments"]["tmj"] == 1


def test_no_consent_column_says_which_line_to_add(tmp_workspace: Path, run):
    path = tmp_workspace / "p.csv"
    path.write_text(
        "Email,Home Email,First Name,Newsletter OK?,Concerns\na@example.com,,Ann,Y,TMJ\n"
    )
    result = run("audience", "--audience", str(path), cwd=tmp_workspace)
    assert_user_error(
        result,
        "'Email', 'Home Email', 'First Name', 'Newsletter OK?'",
        'consent = "Newsletter OK?"',
    )
    segments = tmp_workspace / "audiences/segments.toml"
    segments.write_text(segments.read_text() + '\n[patients.columns]\nconsent = "Newsletter OK?"\n')
    assert audience(run, tmp_workspace, path)["sendable"] == 1


def test_no_concerns_column_is_a_warning_with_the_line_to_add(tmp_workspace: Path, run):
    path = tmp_workspace / "p.csv"
    path.write_text("Email,Consent,Ortho Remarks\na@example.com,Y,TMJ\n")
    result = run("audience", "--audience", str(path), cwd=tmp_workspace)
    assert result.exit_code == 0, result.output
    assert "no concerns column" in result.output and "'Ortho Remarks'" in result.output
    assert 'concerns = "Your Column Name"' in result.output
    segments = tmp_workspace / "audiences/segments.toml"
    segments.write_text(segments.read_text() + '\n[patients.columns]\nconcerns = "Ortho Remarks"\n')
    report = audience(run, tmp_workspace, path)
    assert report["segments"]["tmj"] == 1 and report["notes"] == []


def test_a_provider_style_tags_column_is_not_mistaken_for_consent(tmp_workspace: Path, run):
    path = tmp_workspace / "p.csv"
    path.write_text("Email (Y/N),Email Address,Consent\nY,a@example.com,Y\n")
    report = audience(run, tmp_workspace, path)
    assert report["patients"][0]["email"] == "a@example.com"


@pytest.mark.parametrize(
    ("typed", "greeted"),
    [
        ("ROBERT", "Robert"),
        ("o'brien", "O'Brien"),
        ("O’NEILL", "O’Neill"),
        ("MCDONALD", "McDonald"),
        ("mary-jane", "Mary-Jane"),
        ("anna van der berg", "Anna van der Berg"),
        ("MARIA DE LA CRUZ", "Maria de la Cruz"),
        ("D'ANGELO", "D'Angelo"),
        ("ZOË", "Zoë"),
        ("DeShawn", "DeShawn"),  # mixed case is the patient's own spelling
        ("McKenzie", "McKenzie"),
        ("van Dyke", "van Dyke"),
    ],
)
def test_names_in_one_case_are_put_in_name_case(typed: str, greeted: str):
    assert name_case(typed) == greeted


@pytest.mark.parametrize(
    ("damage", "line"),
    [(lambda data: data[:-1], 6), (lambda data: data[:40] + b"\x00\xd8" + data[40:], 2)],
    ids=["cut-short", "lone-surrogate"],
)
def test_a_damaged_utf16_file_names_the_line(tmp_workspace: Path, run, damage, line: int):
    text = "Email\tConsent\r\n" + "".join(f"p{i}@example.com\tY\r\n" for i in range(5))
    path = tmp_workspace / "export.txt"
    path.write_bytes(damage(text.encode("utf-16")))
    result = run("audience", "--audience", str(path), cwd=tmp_workspace)
    assert_user_error(result, f"export.txt, line {line}: bytes that are not UTF-16 text")


@given(st.text(alphabet=st.sampled_from("abcxyzÉéÖö'’- MCmc"), max_size=20))
def test_name_case_keeps_the_letters_and_settles(typed: str):
    cased = name_case(typed)
    assert cased.lower() == typed.lower() and len(cased) == len(typed)
    assert name_case(cased) == cased
