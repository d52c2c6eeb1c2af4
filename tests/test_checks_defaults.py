"""`default-copy`: `chairside new`'s preheader and intro, kept where they promise too much."""

from __future__ import annotations

import shutil
from pathlib import Path

from chairside.checks import WARNING, build_context
from chairside.checks.defaults import default_copy
from chairside.workspace import Workspace

POSTS = Path("campaigns/2026-12/posts")


def new_campaign(root: Path, run, *posts: str) -> list:
    args = []
    for name in posts:
        shutil.copy(root / POSTS / name, root / name)
        args += ["--post", str(root / name)]
    result = run("new", "2027-01", *args, cwd=root)
    assert result.exit_code == 0, result.output
    return list(default_copy(build_context(Workspace(root), "2027-01")))


def test_one_post_and_no_office_news_is_reported(tmp_workspace: Path, run):
    findings = new_campaign(tmp_workspace, run, "night-guards-for-grinding.md")
    keys = {(f.where.rsplit(" ", 1)[-1], f.variant) for f in findings}
    assert ("preheader", "tmj") in keys and any(k == "intro" for k, _ in keys)
    assert {f.severity for f in findings} == {WARNING}
    message = next(f.message for f in findings if f.where.endswith("preheader"))
    assert "there is 1 post" in message and "no post is office news" in message
    assert "campaigns/2027-01/campaign.toml" in message


def test_defaults_that_fit_the_posts_are_left_alone(tmp_workspace: Path, run):
    findings = new_campaign(
        tmp_workspace,
        run,
        "night-guards-for-grinding.md",
        "jaw-and-neck-tension.txt",
        "desk-posture-and-neck-pain.html",
        "holiday-hours.md",
    )
    # Every version has two posts or more and the office news: the defaults are true.
    assert findings == []


def test_the_demo_has_its_own_copy(tmp_workspace: Path):
    assert list(default_copy(build_context(Workspace(tmp_workspace), "2026-12"))) == []
