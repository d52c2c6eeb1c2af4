"""`chairside init`: a new practice folder that builds straight away."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from chairside.scaffold import next_month
from tests.support import assert_user_error

OPTIONS = (
    "--name",
    "Lakeside Dental",
    "--address",
    "12 Main St, Springfield, IL 62701",
    "--phone",
    "(217) 555-0100",
    "--email",
    "news@lakeside.example.com",
    "--website",
    "https://lakeside.example.com",
)


def test_init_with_options_builds_straight_away(tmp_path: Path, run):
    folder = tmp_path / "lakeside"
    result = run("init", str(folder), *OPTIONS)
    assert result.exit_code == 0, result.output
    practice = tomllib.loads((folder / "practice.toml").read_text())
    assert practice["name"] == "Lakeside Dental"
    assert practice["email"]["from"] == "news@lakeside.example.com"
    segments = tomllib.loads((folder / "audiences/segments.toml").read_text())["segments"]
    assert list(segments) == ["tmj", "neck_shoulder", "general"]
    for name in ("audiences/patients.csv", "audiences/suppressed.csv", "templates/README.md"):
        assert (folder / name).is_file()
    campaign = next(folder.glob("campaigns/*/campaign.toml")).parent.name
    assert campaign == next_month(__import__("datetime").date.today())
    result = run("build", campaign, cwd=folder)
    assert result.exit_code == 0, result.output
    assert "TODO" not in result.output
    assert "12 Main St, Springfield" in (folder / f"build/{campaign}/general.html").read_text()


def test_init_without_a_terminal_leaves_placeholders_build_reports(tmp_path: Path, run):
    folder = tmp_path / "p"
    result = run("init", str(folder), "--name", "Hill Clinic")
    assert result.exit_code == 0, result.output
    assert "still to fill in" in result.output and "address" in result.output
    text = (folder / "practice.toml").read_text()
    assert 'name = "Hill Clinic"' in text and "TODO" in text
    campaign = next(folder.glob("campaigns/*")).name
    built = run("build", campaign, cwd=folder)
    assert built.exit_code == 0, built.output
    assert "TODO values: address, phone, website, [email] from" in built.output


def test_init_asks_in_a_terminal(tmp_path: Path, run, monkeypatch):
    monkeypatch.setattr("chairside.commands.options.stdin_is_terminal", lambda: True)
    answers = "\n".join(
        [
            "Bay Clinic",
            "1 Bay Rd, Eastport, ME 04631",
            "207-555-0101",
            "not-an-email",  # asked again
            "hi@bay.example.com",
            "bay.example.com",
        ]
    )
    result = run("init", str(tmp_path / "bay"), input=answers)
    assert result.exit_code == 0, result.output
    practice = tomllib.loads((tmp_path / "bay/practice.toml").read_text())
    assert practice["website"] == "https://bay.example.com"
    assert practice["email"]["from"] == "hi@bay.example.com"
    assert "TODO" not in (tmp_path / "bay/practice.toml").read_text()


def test_init_never_overwrites(tmp_workspace: Path, run):
    before = (tmp_workspace / "practice.toml").read_text()
    result = run("init", str(tmp_workspace), *OPTIONS)
    assert_user_error(result, "already holds a practice", "practice.toml")
    assert (tmp_workspace / "practice.toml").read_text() == before


@pytest.mark.parametrize(("option", "value"), [("--email", "nope"), ("--website", "ftp://x")])
def test_init_rejects_a_bad_option(tmp_path: Path, run, option: str, value: str):
    result = run("init", str(tmp_path / "x"), option, value)
    assert result.exit_code == 2
    assert option in result.output
    assert not (tmp_path / "x" / "practice.toml").exists()


def test_init_writes_the_mail_server_and_mailbox_commented_ready_to_fill_in(tmp_path, run):
    folder = tmp_path / "lakeside"
    assert run("init", str(folder), *OPTIONS).exit_code == 0
    text = (folder / "practice.toml").read_text()
    assert "# [smtp]" in text and "# [imap]" in text
    assert "smtp" not in tomllib.loads(text) and "imap" not in tomllib.loads(text)
    # Removing the "# " in front of the section's lines gives settings that load as they are.
    opened = "\n".join(
        line[2:] if line.startswith(("# [smtp]", "# [imap]", "# host", "# port", "# security",
                                     "# user", "# folder")) else line
        for line in text.splitlines()
    )  # fmt: skip
    (folder / "practice.toml").write_text(opened)
    from chairside.returnpath.inbox import load_imap
    from chairside.workspace import Workspace, load_practice

    smtp = load_practice(Workspace(folder)).smtp
    assert (smtp.host, smtp.port, smtp.security) == ("smtp.lakeside.example.com", 587, "starttls")
    assert smtp.user == "news@lakeside.example.com"
    assert load_imap(Workspace(folder)).host == "imap.lakeside.example.com"


def test_init_names_the_first_newsletter_and_how_to_add_posts_to_it(tmp_path, run):
    result = run("init", str(tmp_path / "p"), *OPTIONS)
    campaign = next_month(__import__("datetime").date.today())
    assert f"your first newsletter: {campaign}" in result.output
    assert f"chairside new {campaign} --add --post FILE" in result.output
