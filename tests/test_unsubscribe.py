"""`chairside unsubscribe`: suppressions appended once, read back at every use."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tests.support import assert_user_error


def suppressed_rows(root: Path) -> list[dict[str, str]]:
    with (root / "audiences/suppressed.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def sendable(run, root: Path) -> set[str]:
    result = run("audience", "--json", "--show", cwd=root)
    return {p["email"].lower() for p in json.loads(result.output)["patients"]}


def test_unsubscribe_is_appended_once_and_respected(tmp_workspace: Path, run):
    assert "maria.lopez@example.com" in sendable(run, tmp_workspace)
    before = len(suppressed_rows(tmp_workspace))
    result = run(
        "unsubscribe", "Maria.Lopez@example.com", "grace.kim@example.com", cwd=tmp_workspace
    )
    assert result.exit_code == 0, result.output
    assert "2 added, 0 already there" in result.output
    again = run("unsubscribe", "maria.lopez@EXAMPLE.com", cwd=tmp_workspace)
    assert "0 added, 1 already there" in again.output
    rows = suppressed_rows(tmp_workspace)
    assert len(rows) == before + 2
    assert rows[-2]["email"] == "Maria.Lopez@example.com"
    assert rows[-2]["reason"] == "unsubscribed" and rows[-2]["date"]
    assert "maria.lopez@example.com" not in sendable(run, tmp_workspace)


def test_import_a_provider_export_with_hostile_cells(tmp_workspace: Path, tmp_path: Path, run):
    export = tmp_path / "mailchimp.csv"
    export.write_text(
        "Email Address,First Name,UNSUB_REASON\n"
        'priya.raman@example.com,Priya,=HYPERLINK("http://evil.example","x")\n'
        "kevin.tran@example.com,Kevin,\n"  # already suppressed in the demo
        "not an address,X,\n"
    )
    result = run("unsubscribe", "--import", str(export), cwd=tmp_workspace)
    assert_user_error(result, "1 added, 1 already there", "mailchimp.csv, line 4")
    last = suppressed_rows(tmp_workspace)[-1]
    assert last["email"] == "priya.raman@example.com"
    # The provider's reason is kept, after the file it came from: never a formula.
    assert last["reason"] == 'imported from mailchimp.csv: =HYPERLINK("http://evil.example"'
    assert "priya.raman@example.com" not in sendable(run, tmp_workspace)


def test_import_a_mailgun_bounce_export(tmp_workspace: Path, tmp_path: Path, run):
    export = tmp_path / "bounces.csv"
    export.write_text(
        "address,code,error,created_at\nzoe.martinez@example.com,550,"
        "mailbox unavailable,2026-11-01\n"
    )
    result = run("unsubscribe", "--import", str(export), cwd=tmp_workspace)
    assert result.exit_code == 0, result.output
    last = suppressed_rows(tmp_workspace)[-1]
    assert last["reason"] == "imported from bounces.csv: mailbox unavailable"


def test_a_suppression_file_created_from_nothing(tmp_workspace: Path, run):
    (tmp_workspace / "audiences/suppressed.csv").unlink()
    assert run("unsubscribe", "a@example.com", cwd=tmp_workspace).exit_code == 0
    text = (tmp_workspace / "audiences/suppressed.csv").read_text()
    assert text.startswith("email,reason,date\na@example.com,unsubscribed,")


def test_unsubscribe_needs_something(tmp_workspace: Path, run):
    assert run("unsubscribe", cwd=tmp_workspace).exit_code == 2
    assert_user_error(run("unsubscribe", "nope", cwd=tmp_workspace), "'nope'")
