"""`chairside audience`: real practice exports in, exact counts and one variant per patient out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support import assert_user_error

PMS_EXPORT = (
    "Patient ID,Patient First Name,Patient Last Name,E-mail Address,Conditions,Email Opt In\r\n"
    "1001,Maria,Lopez,maria.lopez@example.com,TMJ; Bruxism,Y\r\n"
    "1002,James,Whit,james.w@example.com,,yes\r\n"
    "1003,Priya,Raman,PRIYA.RAMAN@EXAMPLE.COM,Shoulder/Neck,TRUE\r\n"
    "1004,Ana,Ruiz,priya.raman@example.com,,1\r\n"  # same address, another name: a family
    '1005,Li,Wei,li.wei@example.com,"Headaches, TMD",Y\r\n'
    "1006,Bo,Chen,,neck pain,Y\r\n"  # blank address
    "1007,Cy,Dale,cy.dale@example,jaw clicking,Y\r\n"  # no dot in the domain
    "1008,Di,Eng,di@example.com; eng@example.com,,Y\r\n"  # two addresses in one cell
    "1009,Ed,Fox,ed.fox@example.com,myofascial pain,\r\n"  # blank consent: no
    "1010,Flo,Gray,flo.gray@example.com,,N\r\n"
    "1011,Gus,Hall,Maria.Lopez@example.com,neck pain,N\r\n"  # duplicate that withdrew consent
    "1012,Hal,Ito,hal.ito@example.com,trigger points,Y\r\n"
    "1013,Ike,Jun,ike.jun@example.com,grinding,Y\r\n"  # in suppressed.csv
)


def write(root: Path, name: str, data: bytes) -> Path:
    path = root / name
    path.write_bytes(data)
    return path


def audience_json(run, root: Path, *args: str) -> dict:
    result = run("audience", "--json", *args, cwd=root)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def assert_counts_add_up(report: dict) -> None:
    """Every row lands in exactly one bucket."""
    buckets = ("duplicates", "suppressed", "no_consent", "sendable")
    assert report["rows"] == len(report["rejected"]) + sum(report[b] for b in buckets)
    assert report["sendable"] == sum(report["segments"].values())


@pytest.fixture
def practice(tmp_workspace: Path) -> Path:
    (tmp_workspace / "audiences/suppressed.csv").write_text(
        "email,reason,date\nIKE.JUN@example.com,unsubscribed,2026-10-01\n"
    )
    return tmp_workspace


def test_a_bom_export_with_practice_software_headers(practice: Path, run):
    export = write(practice, "export.csv", b"\xef\xbb\xbf" + PMS_EXPORT.encode())
    report = audience_json(run, practice, "--audience", str(export))
    assert report == {
        "file": "export.csv",
        "rows": 13,
        "encoding": "UTF-8 with BOM",
        "delimiter": "comma",
        "sendable": 4,
        "segments": {"tmj": 1, "neck_shoulder": 2, "general": 1},
        "rejected": [
            {"line": 7, "reason": "no email address"},
            {"line": 8, "reason": report["rejected"][1]["reason"]},
            {"line": 9, "reason": "several addresses in one cell; give each patient one address"},
        ],
        "duplicates": 2,
        "suppressed": 1,
        "no_consent": 3,
        "notes": [],
    }
    assert "period" in report["rejected"][1]["reason"]
    assert_counts_add_up(report)


def test_show_reveals_patients_and_each_gets_the_right_variant(practice: Path, run):
    export = write(practice, "export.csv", PMS_EXPORT.encode())
    report = audience_json(run, practice, "--audience", str(export), "--show")
    patients = {p["email"]: (p["first_name"], p["segment"]) for p in report["patients"]}
    assert patients == {
        "james.w@example.com": ("James", "general"),
        "PRIYA.RAMAN@example.com": ("", "neck_shoulder"),  # shared address: no one's name
        "li.wei@example.com": ("Li", "tmj"),
        "hal.ito@example.com": ("Hal", "neck_shoulder"),
    }
    assert report["rejected"][0]["value"] == ""
    assert report["rejected"][2]["value"] == "di@example.com; eng@example.com"


def test_without_show_no_name_or_full_address_is_printed(practice: Path, run):
    export = write(practice, "export.csv", PMS_EXPORT.encode())
    result = run("audience", "--audience", str(export), cwd=practice)
    assert result.exit_code == 0
    for secret in ("Maria", "Lopez", "maria.lopez@", "cy.dale@example", "di@example.com"):
        assert secret not in result.output
    assert "line 8:" in result.output and "cy***@example" in result.output
    assert "duplicates          2" in result.output


def test_semicolon_windows_1252_export(practice: Path, run):
    text = (
        "FNAME;LNAME;EMAIL;Tags;Opt-in\r\n"
        "José;Núñez;jose.nunez@example.com;TMJ;Y\r\n"
        "Zoë;Brontë;zoe@example.com;stiff neck;oui\r\n"
        "Renée;Côté;renee@example.com;;Y\r\n"
    )
    export = write(practice, "export.csv", text.encode("cp1252"))
    report = audience_json(run, practice, "--audience", str(export), "--show")
    assert (report["encoding"], report["delimiter"], report["sendable"]) == (
        "Windows-1252",
        "semicolon",
        3,
    )
    assert [p["first_name"] for p in report["patients"]] == ["José", "Zoë", "Renée"]
    assert report["segments"] == {"tmj": 1, "neck_shoulder": 1, "general": 1}


def test_utf16_tab_export_from_excel(practice: Path, run):
    text = "Email\tFirst Name\tConcerns\tConsent\r\nann@example.com\tAnn\tbruxism\tY\r\n"
    export = write(practice, "export.txt", text.encode("utf-16"))
    report = audience_json(run, practice, "--audience", str(export))
    assert (report["encoding"], report["delimiter"]) == ("UTF-16", "tab")
    assert report["segments"]["tmj"] == 1


def test_pipe_export_with_a_quoted_newline_keeps_line_numbers(practice: Path, run):
    text = (
        "Email|Name|Notes|Email Opt In\n"
        'a@example.com|"Lopez, Ann"|"first line\nsecond line"|Y\n'
        "\n"
        "not-an-address|Bob|x|Y\n"
    )
    export = write(practice, "export.csv", text.encode())
    report = audience_json(run, practice, "--audience", str(export), "--show")
    assert report["delimiter"] == "pipe"
    assert report["rejected"] == [
        {"line": 5, "reason": report["rejected"][0]["reason"], "value": "not-an-address"}
    ]
    assert report["patients"][0]["first_name"] == "Ann"  # "Last, First" full names


@pytest.mark.parametrize(
    ("concerns", "segment"),
    [
        ("TMJ; Bruxism", "tmj"),
        ("jaw clicking", "tmj"),
        ("Headaches, TMD", "tmj"),
        ("clenches at night", "tmj"),
        ("Shoulder/Neck", "neck_shoulder"),
        ("myofascial pain", "neck_shoulder"),
        ("neck pain", "neck_shoulder"),
        ("trigger-point therapy", "neck_shoulder"),
        ("TMJ, neck pain", "tmj"),  # both: the higher priority wins, one email
        ("Sensitivity", "general"),
        ("", "general"),
        ("necklace allergy", "general"),  # whole words only
    ],
)
def test_free_text_concerns_land_where_a_dentist_would_put_them(
    practice: Path, run, concerns: str, segment: str
):
    export = write(
        practice, "p.csv", f'Email,Concerns,Consent\nx@example.com,"{concerns}",Y\n'.encode()
    )
    report = audience_json(run, practice, "--audience", str(export))
    assert report["segments"][segment] == 1


@pytest.mark.parametrize(
    ("value", "sendable"),
    [
        ("Y", 1),
        ("yes", 1),
        ("TRUE", 1),
        ("1", 1),
        ("Opted in", 1),
        ("", 0),
        ("N", 0),
        ("no", 0),
        ("maybe", 0),
    ],
)
def test_consent_must_be_a_clear_yes(practice: Path, run, value: str, sendable: int):
    export = write(practice, "p.csv", f"Email,Consent\nx@example.com,{value}\n".encode())
    assert audience_json(run, practice, "--audience", str(export))["sendable"] == sendable


def test_an_opt_out_column_and_require_consent_off(practice: Path, run):
    export = write(practice, "p.csv", b"Email,Do Not Email\na@example.com,\nb@example.com,Y\n")
    assert audience_json(run, practice, "--audience", str(export))["sendable"] == 1
    plain = write(practice, "q.csv", b"Email\na@example.com\n")
    result = run("audience", "--audience", str(plain), cwd=practice)
    assert_user_error(result, "Its columns are: 'Email'.", "require_consent = false")
    segments = practice / "audiences/segments.toml"
    segments.write_text(
        segments.read_text().replace("require_consent = true", "require_consent = false")
    )
    assert audience_json(run, practice, "--audience", str(plain))["sendable"] == 1


def test_an_explicit_column_mapping(practice: Path, run):
    export = write(practice, "p.csv", b"Pt Mail,Given,Dx,Marketing OK\na@example.com,Ann,TMD,Y\n")
    segments = practice / "audiences/segments.toml"
    segments.write_text(
        segments.read_text()
        + '\n[patients.columns]\nemail = "Pt Mail"\nfirst_name = "Given"\n'
        + 'concerns = "Dx"\nconsent = "Marketing OK"\n'
    )
    report = audience_json(run, practice, "--audience", str(export), "--show")
    assert report["patients"] == [
        {"line": 2, "email": "a@example.com", "first_name": "Ann", "segment": "tmj"}
    ]
    segments.write_text(segments.read_text().replace('"Dx"', '"Diagnosis Code"'))
    result = run("audience", "--audience", str(export), cwd=practice)
    assert_user_error(result, "concerns = 'Diagnosis Code'", "Pt Mail, Given, Dx, Marketing OK")


def test_no_email_column_is_unusable(practice: Path, run):
    export = write(practice, "p.csv", b"Name,Phone\nAnn,555\n")
    result = run("audience", "--audience", str(export), cwd=practice)
    assert_user_error(result, "p.csv, line 1: no email column", "[patients.columns]")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file is empty"),
        (b'Email,Consent\n"a@example.com,Y\n' + b"x" * (1 << 21), "cannot be read as CSV"),
    ],
)
def test_unreadable_exports(practice: Path, run, data: bytes, message: str):
    export = write(practice, "p.csv", data)
    assert_user_error(run("audience", "--audience", str(export), cwd=practice), message)


def test_missing_export(practice: Path, run):
    result = run("audience", "--audience", str(practice / "nope.csv"), cwd=practice)
    assert_user_error(result, "nope.csv: file not found")


def test_the_demo_list_adds_up(tmp_workspace: Path, run):
    report = audience_json(run, tmp_workspace)
    assert report["file"] == "audiences/patients.csv"
    assert_counts_add_up(report)
    assert all(report[k] for k in ("duplicates", "suppressed", "no_consent", "rejected"))


def test_an_excel_sep_line_names_the_delimiter(practice: Path, run):
    export = write(
        practice,
        "p.csv",
        b"sep=;\r\nEmail;First Name;Consent\r\nann@example.com;Ann;Y\r\nbad;Bo;Y\r\n",
    )
    report = audience_json(run, practice, "--audience", str(export))
    assert (report["delimiter"], report["sendable"]) == ("semicolon", 1)
    assert report["rejected"][0]["line"] == 4


def test_an_email_column_blank_in_every_row_gets_one_hint(practice: Path, run):
    export = write(
        practice, "p.csv", b"Email,Mail Address,Consent\n,ann@example.com,Y\n,bo@example.com,Y\n"
    )
    report = audience_json(run, practice, "--audience", str(export))
    assert report["sendable"] == 0 and len(report["rejected"]) == 2
    assert "'Email' is empty in every row" in report["notes"][0]
