"""suppressed.csv as Excel leaves it: appended in its own dialect, read back, never lost."""

from __future__ import annotations

import codecs
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from chairside.audience.suppression import add_suppressions, read_suppressed
from tests.support import assert_user_error

EXISTING = ["kevin.tran@example.com", "zoë@example.com"]


def sendable(run, root: Path) -> set[str]:
    result = run("audience", "--json", "--show", cwd=root)
    assert result.exit_code == 0, result.output
    return {p["email"].lower() for p in json.loads(result.output)["patients"]}


@pytest.mark.parametrize(
    ("codec", "prefix", "text", "added"),
    [
        (
            "utf-8",
            b"",
            "email,reason,date\n{0},unsubscribed,2026-10-30\n{1},x,2026-10-30\n",
            "{m},por teléfono,{d}\n",
        ),
        (
            "utf-8",
            b"",
            "sep=;\r\nemail;reason;date\r\n{0};unsubscribed;30/10/2026\r\n{1};x;30/10/2026\r\n",
            "{m};por teléfono;{d}\r\n",
        ),
        (
            "cp1252",
            b"",
            "Email;Reason;Date\r\n{0};désabonné;2026-10-30\r\n{1};x;2026-10-30",
            "\r\n{m};por teléfono;{d}\r\n",
        ),
        (
            "mac_roman",
            b"",
            "email,reason,date\r{0},Zoë asked,2026-10-30\r{1},x,2026-10-30\r",
            "{m},por teléfono,{d}\r",
        ),
        (
            "utf-16-le",
            codecs.BOM_UTF16_LE,
            "email\treason\tdate\r\n{0}\tx\t\r\n{1}\tx\t\r\n",
            "{m}\tpor teléfono\t{d}\r\n",
        ),
        (
            "utf-16-be",
            codecs.BOM_UTF16_BE,
            "email\treason\tdate\r\n{0}\tx\t\r\n{1}\tx\t\r\n",
            "{m}\tpor teléfono\t{d}\r\n",
        ),
        (
            "utf-16-le",
            b"",
            "email\treason\tdate\r\n{0}\tx\t\r\n{1}\tx\t\r\n",
            "{m}\tpor teléfono\t{d}\r\n",
        ),
        (
            "utf-8",
            codecs.BOM_UTF8,
            "Reason,Email Address\r\nold,{0}\r\nold,{1}\r\n",
            "por teléfono,{m}\r\n",
        ),
    ],
    ids=["plain", "excel-sep", "cp1252", "mac-roman", "utf16le", "utf16be", "utf16-nobom", "bom"],
)
def test_unsubscribes_are_appended_in_the_files_own_dialect(
    tmp_workspace: Path, run, codec: str, prefix: bytes, text: str, added: str
):
    path = tmp_workspace / "audiences/suppressed.csv"
    existing = EXISTING if codec not in ("cp1252", "mac_roman") else EXISTING[:1] * 2
    before = prefix + text.format(*existing).encode(codec)
    path.write_bytes(before)
    assert "maria.lopez@example.com" in sendable(run, tmp_workspace)
    result = run(
        "unsubscribe", "maria.lopez@example.com", "--reason", "por teléfono", cwd=tmp_workspace
    )
    assert result.exit_code == 0, result.output
    assert "1 added" in result.output
    data = path.read_bytes()
    assert data.startswith(before)  # appended, nothing rewritten
    expected = added.format(m="maria.lopez@example.com", d=date.today().isoformat())
    assert data[len(before) :] == expected.encode(codec)  # same dialect, no second BOM
    assert "maria.lopez@example.com" not in sendable(run, tmp_workspace)
    assert {e.lower() for e in existing} <= read_suppressed(path)
    again = run("unsubscribe", "maria.lopez@example.com", cwd=tmp_workspace)
    assert "0 added, 1 already there" in again.output


def test_a_bounce_during_send_goes_through_the_same_append(tmp_workspace: Path):
    # sending.py records a permanent refusal with exactly this call.
    path = tmp_workspace / "audiences/suppressed.csv"
    path.write_bytes("sep=;\r\nemail;reason;date\r\nzoë@example.com;x;\r\n".encode("utf-16"))
    email, reply = "grace.kim@example.com", "550 5.1.1 <grace.kim@example.com>: no such user"
    add_suppressions(path, [(email, f"bounced: {reply}", email)])
    text = path.read_bytes().decode("utf-16")
    assert text.endswith(f"grace.kim@example.com;bounced: {reply};{date.today().isoformat()}\r\n")
    assert read_suppressed(path) == {"zoë@example.com", "grace.kim@example.com"}


def test_an_append_that_does_not_read_back_is_an_error_and_changes_nothing(
    tmp_workspace: Path, run
):
    # A quote opened on the last line and never closed swallows whatever follows it.
    path = tmp_workspace / "audiences/suppressed.csv"
    before = b'email,reason,date\nkevin.tran@example.com,"said: no more\n'
    path.write_bytes(before)
    result = run("unsubscribe", "maria.lopez@example.com", cwd=tmp_workspace)
    assert_user_error(result, "could not record 1", "back as it was")
    assert path.read_bytes() == before
    assert "maria.lopez@example.com" in sendable(run, tmp_workspace)


def test_an_address_the_files_encoding_cannot_hold_is_an_error(tmp_workspace: Path, run):
    path = tmp_workspace / "audiences/suppressed.csv"
    before = "email,reason,date\nrené@example.com,x,\n".encode("cp1252")
    path.write_bytes(before)
    result = run("unsubscribe", "łukasz@example.com", cwd=tmp_workspace)
    assert_user_error(result, "Windows-1252", "CSV UTF-8")
    assert path.read_bytes() == before


def test_a_suppression_spreadsheet_is_read_but_never_written(tmp_workspace: Path, run):
    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["Email", "Reason"])
    book.active.append(["maria.lopez@example.com", "unsubscribed"])
    path = tmp_workspace / "audiences/suppressed.csv"
    book.save(path)
    assert "maria.lopez@example.com" not in sendable(run, tmp_workspace)
    before = path.read_bytes()
    result = run("unsubscribe", "grace.kim@example.com", cwd=tmp_workspace)
    assert_user_error(result, "is a spreadsheet", "save it as CSV")
    assert path.read_bytes() == before


def test_undo_is_recorded_and_the_latest_line_wins(tmp_workspace: Path, run):
    path = tmp_workspace / "audiences/suppressed.csv"
    assert "kevin.tran@example.com" not in sendable(run, tmp_workspace)
    result = run(
        "unsubscribe",
        "--undo",
        "Kevin.Tran@example.com",
        "--undo",
        "nobody@example.com",
        "--reason",
        "asked at the desk",
        cwd=tmp_workspace,
    )
    assert result.exit_code == 0, result.output
    assert "1 resubscribed, 1 were not suppressed" in result.output
    assert (
        path.read_text()
        .splitlines()[-1]
        .startswith("kevin.tran@example.com,resubscribed: asked at the desk,")
    )
    assert "kevin.tran@example.com" in sendable(run, tmp_workspace)
    assert run("unsubscribe", "kevin.tran@example.com", cwd=tmp_workspace).exit_code == 0
    assert "kevin.tran@example.com" not in sendable(run, tmp_workspace)
    assert len(path.read_text().splitlines()) == 4  # only ever appended


def test_a_reason_cannot_undo_a_suppression(tmp_workspace: Path, tmp_path: Path, run):
    export = tmp_path / "unsubscribed.csv"
    export.write_text("Email,Reason\nmaria.lopez@example.com,resubscribed\n")
    assert run("unsubscribe", "--import", str(export), cwd=tmp_workspace).exit_code == 0
    run("unsubscribe", "grace.kim@example.com", "--reason", "Resubscribed", cwd=tmp_workspace)
    found = sendable(run, tmp_workspace)
    assert "maria.lopez@example.com" not in found and "grace.kim@example.com" not in found


def test_importing_the_patient_list_is_refused_then_undone(tmp_workspace: Path, run):
    patients = tmp_workspace / "audiences/patients.csv"
    before = sendable(run, tmp_workspace)
    result = run("unsubscribe", "--import", str(patients), cwd=tmp_workspace)
    assert_user_error(result, "looks like a patient list", "--yes")
    assert sendable(run, tmp_workspace) == before
    copy = tmp_workspace / "everyone.csv"  # not the patients file, but a consent column
    copy.write_bytes(patients.read_bytes())
    assert_user_error(
        run("unsubscribe", "--import", str(copy), cwd=tmp_workspace), "'Email Opt In'"
    )
    result = run("unsubscribe", "--import", str(copy), "--yes", cwd=tmp_workspace)
    assert "36 added, 3 already there" in result.output  # and the 3 rows without an address
    assert sendable(run, tmp_workspace) == set()
    result = run("unsubscribe", "--undo-import", str(copy), cwd=tmp_workspace)
    assert result.exit_code == 0, result.output
    assert sendable(run, tmp_workspace) == before  # kevin.tran, unsubscribed before, stays so


def test_an_import_of_most_of_the_list_is_refused(tmp_workspace: Path, tmp_path: Path, run):
    export = tmp_path / "contacts.csv"
    everyone = sorted(sendable(run, tmp_workspace))
    export.write_text("Email\n" + "\n".join(everyone[:20]) + "\n")
    result = run("unsubscribe", "--import", str(export), cwd=tmp_workspace)
    assert_user_error(result, f"20 of the {len(everyone)} patients who can be emailed now")
    export.write_text("Email\n" + "\n".join(everyone[:10]) + "\n")  # a month's unsubscribes
    assert run("unsubscribe", "--import", str(export), cwd=tmp_workspace).exit_code == 0


def test_a_provider_export_with_tags_is_not_a_patient_list(
    tmp_workspace: Path, tmp_path: Path, run
):
    export = tmp_path / "members_export.csv"
    export.write_text(
        "Email Address,First Name,OPTIN_TIME,UNSUB_TIME,UNSUB_REASON,TAGS,NOTES\n"
        "maria.lopez@example.com,Maria,2026-01-01,2026-11-01,Too many emails,vip,\n"
    )
    result = run("unsubscribe", "--import", str(export), cwd=tmp_workspace)
    assert result.exit_code == 0, result.output
    assert "maria.lopez@example.com" not in sendable(run, tmp_workspace)


def test_undo_and_add_cannot_be_mixed(tmp_workspace: Path, run):
    result = run("unsubscribe", "a@example.com", "--undo", "b@example.com", cwd=tmp_workspace)
    assert result.exit_code == 2


def test_a_bounce_during_send_lands_in_an_excel_saved_utf16_file(
    tmp_workspace: Path, smtp_server, run
):
    server, port = smtp_server
    server.refuse["maria.lopez@example.com"] = [550]
    path = tmp_workspace / "audiences/suppressed.csv"
    before = "sep=;\r\nemail;reason;date\r\nkevin.tran@example.com;unsubscribed;\r\n"
    path.write_bytes(before.encode("utf-16"))
    result = run(
        "send", "2026-12", "--smtp-port", str(port), "--retry-delay", "0.01", cwd=tmp_workspace
    )
    assert "ma***@example.com: 550" in result.output, result.output
    text = path.read_bytes().decode("utf-16")
    assert text.startswith(before)
    assert text[len(before) :].startswith("maria.lopez@example.com;bounced: 550")
    assert read_suppressed(path) == {"kevin.tran@example.com", "maria.lopez@example.com"}


def test_appends_from_two_processes_at_once_are_all_kept(tmp_path: Path):
    path = tmp_path / "suppressed.csv"
    script = (
        "import sys; from pathlib import Path\n"
        "from chairside.audience.suppression import add_suppressions\n"
        "for i in range(25):\n"
        "    add_suppressions(Path(sys.argv[1]), [(f'{sys.argv[2]}{i}@example.com', 'x', '')])\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    workers = [
        subprocess.Popen([sys.executable, "-c", script, str(path), who], env=env)
        for who in ("a", "b")
    ]
    assert [w.wait(timeout=60) for w in workers] == [0, 0]
    assert len(read_suppressed(path)) == 50


def test_an_undo_that_a_file_without_reasons_cannot_hold_is_an_error(tmp_workspace: Path, run):
    path = tmp_workspace / "audiences/suppressed.csv"
    before = b"Email\r\nkevin.tran@example.com\r\n"  # a provider's bare list, saved over it
    path.write_bytes(before)
    result = run("unsubscribe", "--undo", "kevin.tran@example.com", cwd=tmp_workspace)
    assert_user_error(result, "has no reason column", "Add a column named reason")
    assert path.read_bytes() == before
    assert "kevin.tran@example.com" not in sendable(run, tmp_workspace)
