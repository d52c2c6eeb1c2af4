"""Campaign operations after `new`: add and remove posts, copy as a start, delete a draft."""

from __future__ import annotations

import tomllib

import pytest

from chairside.campaignops import copy_campaign, delete_draft, remove_post
from chairside.errors import ChairsideError
from chairside.ledger import SENT, open_ledger
from chairside.newcampaign import add_posts
from chairside.workspace import Workspace
from tests.support import copy_demo
from tests.test_new import FEED


def settings(root, name="2026-12") -> dict:
    return tomllib.loads((root / f"campaigns/{name}/campaign.toml").read_text("utf-8"))


@pytest.fixture
def workspace(tmp_path) -> Workspace:
    return Workspace(copy_demo(tmp_path / "practice"))


def test_posts_are_added_at_the_end_tagged_and_comments_kept(workspace, tmp_path):
    post = tmp_path / "jaw-exercises.txt"
    post.write_text(
        "Gentle jaw exercises for TMJ pain\n\nFor a sore jaw and TMJ pain, try these each "
        "morning. Jaw pain that clicks or locks often eases with gentle stretches.\n"
    )
    feed = tmp_path / "feed.xml"
    feed.write_text(FEED)
    before = [p["file"] for p in settings(workspace.root)["posts"]]
    added = add_posts(workspace, "2026-12", posts=(post,), feeds=(str(feed),))
    after = settings(workspace.root)["posts"]
    assert [p["file"] for p in after][: len(before)] == before
    assert after[len(before)]["file"] == "jaw-exercises.txt"
    assert "tmj" in after[len(before)]["tags"]
    assert len(after) == len(before) + len(added.posts) and len(added.posts) > 1
    assert (workspace.root / "campaigns/2026-12/posts/jaw-exercises.txt").is_file()
    text = (workspace.root / "campaigns/2026-12/campaign.toml").read_text("utf-8")
    assert "# The December 2026 newsletter." in text


def test_a_post_of_the_same_name_gets_its_own_file(workspace, tmp_path):
    post = tmp_path / "holiday-hours.md"
    post.write_text("---\ntitle: New hours\n---\nWe open at 8.\n")
    added = add_posts(workspace, "2026-12", posts=(post,))
    assert added.posts[0].file == "holiday-hours-2.md"


def test_a_bad_post_adds_nothing(workspace, tmp_path):
    before = (workspace.root / "campaigns/2026-12/campaign.toml").read_bytes()
    with pytest.raises(ChairsideError, match="no such file"):
        add_posts(workspace, "2026-12", posts=(tmp_path / "missing.txt",))
    assert (workspace.root / "campaigns/2026-12/campaign.toml").read_bytes() == before


def test_a_post_is_removed_with_its_file(workspace):
    remove_post(workspace, "2026-12", "holiday-hours.md")
    assert "holiday-hours.md" not in [p["file"] for p in settings(workspace.root)["posts"]]
    assert not (workspace.root / "campaigns/2026-12/posts/holiday-hours.md").exists()
    with pytest.raises(ChairsideError, match="removed already"):
        remove_post(workspace, "2026-12", "holiday-hours.md")


def test_a_copy_takes_settings_and_posts_and_nothing_of_the_send_record(workspace):
    with open_ledger(workspace.root / ".chairside") as ledger:
        ledger.mark_sending("2026-12", "ann@example.com", "ann@example.com", "v1")
        ledger.finish("2026-12", "ann@example.com", SENT, reply="250 ok")
    copy_campaign(workspace, "2026-12", "2027-01")
    old, new = settings(workspace.root), settings(workspace.root, "2027-01")
    assert new["posts"] == old["posts"] and new["intro"] == old["intro"]
    assert sorted(p.name for p in (workspace.root / "campaigns/2027-01/posts").iterdir()) == (
        sorted(p.name for p in (workspace.root / "campaigns/2026-12/posts").iterdir())
    )
    from chairside.studio.state import delivery

    assert delivery(workspace, "2027-01").sent == 0 and delivery(workspace, "2026-12").sent == 1
    with pytest.raises(ChairsideError, match="already"):
        copy_campaign(workspace, "2026-12", "2027-01")


def test_a_draft_is_deleted_and_a_sent_campaign_is_refused(workspace):
    copy_campaign(workspace, "2026-12", "2027-01")
    delete_draft(workspace, "2027-01")
    assert not (workspace.root / "campaigns/2027-01").exists()
    with open_ledger(workspace.root / ".chairside") as ledger:
        ledger.mark_sending("2026-12", "ann@example.com", "ann@example.com", "v1")
    with pytest.raises(ChairsideError, match="cannot be deleted"):
        delete_draft(workspace, "2026-12")
    assert (workspace.root / "campaigns/2026-12/campaign.toml").is_file()


def test_a_campaign_whose_ledger_is_lost_is_not_deleted(workspace):
    with open_ledger(workspace.root / ".chairside") as ledger:
        ledger.mark_sending("2026-12", "ann@example.com", "ann@example.com", "v1")
        ledger.finish("2026-12", "ann@example.com", SENT, reply="250 ok")
    (workspace.root / ".chairside/state.db").unlink()  # the journal remembers
    with pytest.raises(ChairsideError, match="cannot be deleted"):
        delete_draft(workspace, "2026-12")
    assert (workspace.root / "campaigns/2026-12").is_dir()


def test_the_cli_face_adds_removes_copies_and_deletes(workspace, tmp_path, run):
    post = tmp_path / "jaw.txt"
    post.write_text("Jaw pain and TMJ\n\nFor a sore jaw and TMJ pain, rest it and ask us.\n")
    root = workspace.root
    added = run("new", "2026-12", "--add", "--post", str(post), cwd=root)
    assert added.exit_code == 0 and "jaw.txt: tmj" in added.output
    assert run("campaign", "remove", "2026-12", "jaw.txt", cwd=root).exit_code == 0
    assert run("campaign", "copy", "2026-12", "2027-01", cwd=root).exit_code == 0
    refused = run("campaign", "delete", "2027-01", cwd=root, input="n\n")
    assert refused.exit_code == 1 and (root / "campaigns/2027-01").is_dir()
    assert run("campaign", "delete", "2027-01", "--yes", cwd=root).exit_code == 0
    assert not (root / "campaigns/2027-01").exists()
    with open_ledger(root / ".chairside") as ledger:
        ledger.mark_sending("2026-12", "ann@example.com", "ann@example.com", "v1")
    kept = run("campaign", "delete", "2026-12", "--yes", cwd=root)
    assert kept.exit_code == 1 and "cannot be deleted" in kept.output
    assert "Traceback" not in kept.output
