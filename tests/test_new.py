# ruff: noqa: E501  (feed fixtures keep their real line lengths)
"""`chairside new`: a campaign from post files and saved feeds, tagged by concern."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from tests.support import assert_user_error

FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel>
  <title>Harbor Lane Blog</title>
  <link>https://harborlanedental.example.com/blog/</link>
  <item>
    <title>Why Your Jaw Clicks When You Yawn</title>
    <link>https://harborlanedental.example.com/blog/jaw-clicks/</link>
    <pubDate>Tue, 08 Dec 2026 15:00:00 +0000</pubDate>
    <dc:creator><![CDATA[Dr. Owen Reyes]]></dc:creator>
    <category><![CDATA[TMJ]]></category>
    <content:encoded><![CDATA[<p>A clicking jaw is common. The jaw joint has a small disc
      that can slip when you clench or grind your teeth.</p>
      [caption id="attachment_9" width="600"]<img src="/wp-content/uploads/jaw.jpg" alt="The jaw joint" width="600" /> The jaw joint, seen from the side[/caption]
      <p>Gentle stretches &amp; a night guard often help.</p>]]></content:encoded>
  </item>
  <item>
    <title>We&#8217;re Closed for Thanksgiving</title>
    <link>https://harborlanedental.example.com/blog/thanksgiving/</link>
    <pubDate>Mon, 16 Nov 2026 15:00:00 +0000</pubDate>
    <content:encoded><![CDATA[<p>Our office is closed on Thursday and Friday.</p>]]></content:encoded>
  </item>
</channel>
</rss>
"""

SEED_STYLE = """\
Stiff shoulders and a sore jaw often go together. When stress builds, many of us clench
our teeth and lift our shoulders without noticing.

What Trigger Points Are

A trigger point is a tight knot in a muscle. Knots in the neck and shoulder muscles can
send pain up into the jaw and head.

  • TMJ pain – the jaw joint aches after a night of grinding and clenching.

  • Myofascial pain– tight knots in the neck and shoulders that ache when pressed.

Call our office to talk about what might help you.

Dr. Ana Ruiz

I'm Dr. Ana Ruiz and I have treated jaw and neck pain for fifteen years.
"""

HOLIDAY = """\
---
title: Holiday Hours
date: 2026-12-01
---
We close at noon on December 24 and reopen on January 4. Happy holidays from all of us!
"""


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    folder = tmp_path / "downloads"
    folder.mkdir()
    (folder / "feed.xml").write_text(FEED, encoding="utf-8")
    (folder / "shoulders-and-jaw.txt").write_text(SEED_STYLE, encoding="utf-8")
    (folder / "holiday.md").write_text(HOLIDAY, encoding="utf-8")
    return folder


def test_new_from_posts_and_a_feed_tags_each_post(tmp_workspace: Path, sources: Path, run):
    result = run(
        "new",
        "2027-01",
        "--feed",
        str(sources / "feed.xml"),
        "--since",
        "2026-12-01",
        "--post",
        str(sources / "shoulders-and-jaw.txt"),
        "--post",
        str(sources / "holiday.md"),
        cwd=tmp_workspace,
    )
    assert result.exit_code == 0, result.output
    folder = tmp_workspace / "campaigns/2027-01"
    settings = tomllib.loads((folder / "campaign.toml").read_text())
    assert settings["subject"] == "Harbor Lane Dental news: January 2027"
    assert settings["preheader"] and settings["intro"]
    tags = {post["file"]: post["tags"] for post in settings["posts"]}
    assert tags == {
        "shoulders-and-jaw.txt": ["tmj", "neck_shoulder"],
        "holiday.md": [],
        "why-your-jaw-clicks-when-you-yawn.html": ["tmj"],  # Thanksgiving is before --since
    }
    assert sorted(p.name for p in (folder / "posts").iterdir()) == sorted(tags)
    built = run("build", "2027-01", cwd=tmp_workspace)
    assert built.exit_code == 0, built.output
    tmj = (tmp_workspace / "build/2027-01/tmj.html").read_text()
    assert "https://harborlanedental.example.com/wp-content/uploads/jaw.jpg" in tmj
    assert "The jaw joint, seen from the side" in tmj and "[caption" not in tmj
    assert "I'm Dr. Ana Ruiz" not in tmj


def test_new_refuses_an_existing_campaign(tmp_workspace: Path, run):
    assert_user_error(run("new", "2026-12", cwd=tmp_workspace), "already exists")


def test_new_without_posts_makes_an_empty_campaign_to_fill(tmp_workspace: Path, run):
    result = run("new", "2027-02", cwd=tmp_workspace)
    assert result.exit_code == 0
    assert "no posts yet" in result.output
    assert (tmp_workspace / "campaigns/2027-02/posts").is_dir()
    assert_user_error(run("build", "2027-02", cwd=tmp_workspace), "has no posts")


def test_a_bad_feed_stops_new_before_it_writes(tmp_workspace: Path, tmp_path: Path, run):
    bad = tmp_path / "feed.xml"
    bad.write_text("<html><body>Not a feed</body></html>")
    result = run("new", "2027-01", "--feed", str(bad), cwd=tmp_workspace)
    assert_user_error(result, "feed.xml")
    assert not (tmp_workspace / "campaigns/2027-01").exists()


@pytest.mark.parametrize("path", ["missing.txt", "notes.docx"])
def test_a_missing_or_unknown_post_file(tmp_workspace: Path, tmp_path: Path, run, path: str):
    if path.endswith(".docx"):
        (tmp_path / path).write_bytes(b"PK")
    result = run("new", "2027-01", "--post", str(tmp_path / path), cwd=tmp_workspace)
    assert_user_error(result, path)
    assert not (tmp_workspace / "campaigns/2027-01").exists()


def test_a_bad_campaign_name(tmp_workspace: Path, run):
    assert_user_error(run("new", "../escape", cwd=tmp_workspace), "cannot be a campaign name")
