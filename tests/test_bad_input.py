"""Inputs an office meets by accident: each gets a clear message and loses nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support import assert_user_error, posts_line

CAMPAIGN = "campaigns/2026-12/campaign.toml"


def replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_init_placeholders_never_reach_patients(tmp_path, run):
    folder = tmp_path / "new"
    assert (
        run(
            "init",
            str(folder),
            "--name",
            "Hill Clinic",
            "--address",
            "1 Hill Rd, Town",
            "--email",
            "news@hill.example.com",
        ).exit_code
        == 0
    )
    campaign = next(folder.glob("campaigns/*")).name
    findings = json.loads(run("check", campaign, "--json", cwd=folder).output)
    todo = {f["where"] for f in findings if f["rule"] == "practice-todo"}
    assert todo == {"practice.toml phone", "practice.toml website"}
    out = tmp_path / "out"
    result = run("export", campaign, "--to", "eml", "--out", str(out), cwd=folder)
    assert_user_error(result, "practice-todo")


def test_mbox_never_overwrites_another_file(tmp_workspace, run):
    precious = tmp_workspace / "notes.csv"
    precious.write_text("keep,me\n")
    result = run("export", "2026-12", "--to", "mbox", "--out", str(precious), cwd=tmp_workspace)
    assert_user_error(result, "is not a mailbox file")
    assert precious.read_text() == "keep,me\n"
    mbox = tmp_workspace / "december.mbox"
    for _ in range(2):  # an earlier export is replaced
        assert (
            run(
                "export", "2026-12", "--to", "mbox", "--out", str(mbox), cwd=tmp_workspace
            ).exit_code
            == 0
        )


def test_an_emptied_suppression_list_suppresses_nobody(tmp_workspace, run):
    (tmp_workspace / "audiences/suppressed.csv").write_text("")
    assert run("audience", cwd=tmp_workspace).exit_code == 0
    assert run("unsubscribe", "a@example.com", cwd=tmp_workspace).exit_code == 0
    text = (tmp_workspace / "audiences/suppressed.csv").read_text()
    assert text.startswith("email,reason,date\na@example.com,")


def test_a_template_not_saved_as_utf8(tmp_workspace, run):
    source = (Path(__file__).parent.parent / "src/chairside/theme/article.mjml").read_text()
    (tmp_workspace / "templates/article.mjml").write_bytes(
        source.replace("{{ article.title }}", "© {{ article.title }}").encode("cp1252")
    )
    assert_user_error(run("build", "2026-12", cwd=tmp_workspace), "not saved as UTF-8")


def test_an_export_folder_that_cannot_be_made(tmp_workspace, run):
    blocker = tmp_workspace / "a-file"
    blocker.write_text("x")
    result = run(
        "export", "2026-12", "--to", "eml", "--out", str(blocker / "out"), cwd=tmp_workspace
    )
    assert_user_error(result, "Cannot write", "Choose a folder")


def test_a_build_folder_that_is_a_file(tmp_workspace, run):
    (tmp_workspace / "build").write_text("not a folder")
    assert_user_error(run("build", "2026-12", cwd=tmp_workspace), "Cannot write")


def test_headers_must_be_one_line(tmp_workspace, run):
    replace(
        tmp_workspace / CAMPAIGN,
        'subject = "December at Harbor Lane: easing everyday aches"',
        'subject = "December\\r\\nBcc: everyone@example.com"',
    )
    assert_user_error(
        run("build", "2026-12", cwd=tmp_workspace), "subject: contains a carriage return"
    )
    replace(
        tmp_workspace / "practice.toml",
        'from_name = "Harbor Lane Dental"',
        'from_name = """Harbor Lane\nDental"""',
    )
    assert_user_error(
        run("build", "2026-12", cwd=tmp_workspace), "[email] from_name: contains a line break"
    )


def test_damaged_state_files_stop_before_sending(tmp_workspace, run):
    state = tmp_workspace / ".chairside"
    state.mkdir()
    (state / "state.db").write_bytes(b"this is not a database" * 100)
    assert_user_error(run("status", "2026-12", cwd=tmp_workspace), "state.db is damaged")
    (state / "state.db").unlink()
    (state / "secret.key").write_text("zz-not-hex")
    out = tmp_workspace / "out"
    result = run("export", "2026-12", "--to", "eml", "--out", str(out), cwd=tmp_workspace)
    assert_user_error(result, "secret.key is damaged")


def test_a_very_long_campaign_name(tmp_workspace, run):
    assert_user_error(run("new", "x" * 300, cwd=tmp_workspace), "up to 64")


def test_hidden_files_in_posts_are_skipped(tmp_workspace, run):
    campaign = tmp_workspace / "campaigns/2027-02"
    assert run("new", "2027-02", cwd=tmp_workspace).exit_code == 0
    (campaign / "posts/note.md").write_text("---\ntitle: Note\n---\nOffice news for all.\n")
    (campaign / "posts/._note.md").write_bytes(b"\x00\x05\x16\x07 mac resource fork")
    result = run("build", "2027-02", cwd=tmp_workspace)
    assert result.exit_code == 0, result.output


def test_init_into_a_folder_of_other_files(tmp_path, run):
    (tmp_path / "taxes.pdf").write_bytes(b"%PDF")
    result = run("init", str(tmp_path), "--name", "X")
    assert_user_error(result, "already holds other files")
    assert [p.name for p in tmp_path.iterdir()] == ["taxes.pdf"]


def test_a_test_address_must_be_an_address(tmp_workspace, run):
    result = run("send", "2026-12", "--test", "not an email", cwd=tmp_workspace)
    assert result.exit_code == 2 and "--test" in result.output


def test_unsubscribe_an_address_copied_with_its_name(tmp_workspace, run):
    result = run("unsubscribe", "Maria Lopez <maria.lopez@example.com>", cwd=tmp_workspace)
    assert result.exit_code == 0, result.output
    assert "maria.lopez@example.com" in (tmp_workspace / "audiences/suppressed.csv").read_text()


def test_a_misspelt_setting_is_named_with_the_right_one(tmp_workspace, run):
    replace(tmp_workspace / CAMPAIGN, 'format = "auto"', 'fromat = "excerpt"')
    result = run("build", "2026-12", cwd=tmp_workspace)
    assert_user_error(result, "fromat: unknown setting (did you mean format?)", "line ")
    replace(tmp_workspace / CAMPAIGN, 'fromat = "excerpt"', 'format = "auto"')
    replace(tmp_workspace / "practice.toml", 'color = "#0B5D6B"', 'colour = "#0B5D6B"')
    assert_user_error(
        run("build", "2026-12", cwd=tmp_workspace),
        "[brand] colour: unknown setting (did you mean color?)",
    )


def test_front_matter_that_never_closes(tmp_workspace, run):
    post = tmp_workspace / "campaigns/2026-12/posts/holiday-hours.md"
    post.write_text("---\ntitle: Hello\ndate: 2026-12-01\nBody text without a closing line.\n")
    assert_user_error(
        run("build", "2026-12", cwd=tmp_workspace),
        "holiday-hours.md, line 1: the front matter opens with '---' but never closes",
    )


def test_dash_c_to_a_folder_that_does_not_exist(tmp_workspace, run):
    result = run("status", "2026-12", cwd=tmp_workspace / "typo-folder")
    assert_user_error(result, "typo-folder: there is no such folder")


def test_an_emptied_ledger_is_not_read_as_nothing_sent(tmp_workspace, run):
    state = tmp_workspace / ".chairside"
    state.mkdir()
    (state / "state.db").write_bytes(b"")  # e.g. a sync service's conflict copy
    assert_user_error(run("status", "2026-12", cwd=tmp_workspace), "state.db is empty")
    assert_user_error(
        run("send", "2026-12", "--smtp-port", "9", cwd=tmp_workspace),
        "state.db is empty",
        "nothing was sent",
    )


@pytest.mark.parametrize("where", ["absolute", "dotdot", "symlink", "symlink-no-list"])
def test_a_post_outside_the_campaign_folder_is_refused(tmp_workspace, run, tmp_path, where):
    secret = tmp_path / "notes.txt"
    secret.write_text("Private notes about a patient's jaw pain.\n", encoding="utf-8")
    posts = tmp_workspace / "campaigns/2026-12/posts"
    toml = tmp_workspace / CAMPAIGN
    if where.startswith("symlink"):
        (posts / "notes.txt").symlink_to(secret)
        name = "notes.txt"
    else:
        name = str(secret) if where == "absolute" else "../../../../notes.txt"
    if where == "symlink-no-list":  # no [[posts]]: every file in posts/ is read
        text = toml.read_text()
        toml.write_text(text[: text.index("[[posts]]")])
    else:
        replace(toml, 'file = "holiday-hours.md"', f"file = {json.dumps(name)}")
    number = 0 if where == "symlink-no-list" else posts_line(toml, name)
    result = run("build", "2026-12", cwd=tmp_workspace)
    line = "" if where == "symlink-no-list" else f"line {number}"
    assert_user_error(result, CAMPAIGN, line, "outside the campaign's folder")
    assert "Private notes" not in result.output
    assert not (tmp_workspace / "build").exists()
