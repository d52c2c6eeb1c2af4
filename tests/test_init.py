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
