"""`chairside new NAME --add`: posts added to a campaign that exists, the rest kept."""

from __future__ import annotations

import tomllib
from pathlib import Path

from tests.support import CONTENT, assert_user_error


def test_add_appends_posts_after_the_existing_ones_and_keeps_the_file(tmp_workspace, run):
    toml = tmp_workspace / "campaigns/2026-12/campaign.toml"
    before = toml.read_text(encoding="utf-8")
    clash = tmp_workspace / "jaw-and-neck-tension.txt"  # same name as a post already there
    clash.write_text((CONTENT / "night-guards-for-jaw-pain.txt").read_text(), encoding="utf-8")
    result = run(
        "new", "2026-12", "--add", "--post", str(clash),
        "--feed", str(CONTENT / "harborview-atom.xml"), cwd=tmp_workspace,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Added 3 posts to campaigns/2026-12:" in result.output
    after = toml.read_text(encoding="utf-8")
    assert after.startswith(before.rstrip("\n").rsplit("\n# ", 1)[0])  # nothing above moved
    assert [c for c in before.splitlines() if c.startswith("#")] == [
        c for c in after.splitlines() if c.startswith("#")
    ]
    files = [post["file"] for post in tomllib.loads(after)["posts"]]
    assert files[:4] == [
        "jaw-and-neck-tension.txt",
        "night-guards-for-grinding.md",
        "desk-posture-and-neck-pain.html",
        "holiday-hours.md",
    ]
    assert files[4] == "jaw-and-neck-tension-2.txt"  # the one there is never overwritten
    assert len(files) == 7
    assert all((tmp_workspace / "campaigns/2026-12/posts" / f).is_file() for f in files)
    assert run("build", "2026-12", cwd=tmp_workspace).exit_code == 0


def test_add_to_a_campaign_that_does_not_exist_names_the_ones_that_do(tmp_workspace, run):
    post = CONTENT / "sealants-for-kids.md"
    result = run("new", "2031-01", "--add", "--post", str(post), cwd=tmp_workspace)
    assert_user_error(result, "No campaign '2031-01'", "Campaigns here: 2026-12")
    assert not (tmp_workspace / "campaigns/2031-01").exists()


def test_add_without_posts_is_a_usage_error(tmp_workspace, run):
    result = run("new", "2026-12", "--add", cwd=tmp_workspace)
    assert result.exit_code == 2
    assert "--add adds posts" in result.output


def test_a_bad_post_adds_nothing(tmp_workspace: Path, tmp_path: Path, run):
    toml = tmp_workspace / "campaigns/2026-12/campaign.toml"
    before = toml.read_bytes()
    posts = sorted((tmp_workspace / "campaigns/2026-12/posts").iterdir())
    bad = tmp_path / "notes.docx"
    bad.write_bytes(b"PK")
    good = CONTENT / "sealants-for-kids.md"
    result = run("new", "2026-12", "--add", "--post", str(good), "--post", str(bad),
                 cwd=tmp_workspace)  # fmt: skip
    assert_user_error(result, "notes.docx")
    assert toml.read_bytes() == before
    assert sorted((tmp_workspace / "campaigns/2026-12/posts").iterdir()) == posts


def test_new_on_an_existing_campaign_says_how_to_add_to_it(tmp_workspace, run):
    assert_user_error(run("new", "2026-12", cwd=tmp_workspace), "already exists", "--add")
