"""One URL policy for every address that reaches an email: hostile posts, feeds and
practice links are built, checked and exported, then every output is searched."""

from __future__ import annotations

import email
import json
import re
from email import policy
from pathlib import Path

import pytest

from chairside.content import read_feed, read_post
from chairside.urls import safe_url
from tests.support import assert_user_error

CAMPAIGN = "campaigns/2026-12/campaign.toml"
HOSTILE_SCHEMES = re.compile(r"(?i)(java|vb)\s*script\s*:|data\s*:|file\s*:")
OBFUSCATED = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "java\tscript:alert(1)",
    "java\nscript:alert(1)",
    " \x01javascript:alert(1)",
    "&#106;avascript:alert(1)",
    "&#x6A;avascript&#x3A;alert(1)",
    "&amp;#106;avascript:alert(1)",
    "javascript&colon;alert(1)",
    "vbscript:msgbox(1)",
    "data:text/html;base64,PHNjcmlwdD4=",
    "file:///etc/passwd",
]

HOSTILE_MD = """---
title: Jaw exercises
url: "JaVaScRiPt:alert(1)"
image: "data:image/svg+xml;base64,PHN2Zz48L3N2Zz4="
---
Gentle jaw exercises help. [Read this](JAVASCRIPT:alert(2)) and
<a href="&#106;avascript:alert(3)">this</a>, and see ![a](data:image/png;base64,AAAA).
<img src="vbscript:x" alt="b"> A real [link](https://example.com/ok).
"""
HOSTILE_HTML = """<html><head><title>Neck stretches</title>
<link rel="canonical" href="javascript:alert(4)">
<meta property="og:image" content="javascript:alert(5)">
</head><body><article><h1>Neck stretches</h1>
<p>Stretch your neck and shoulder muscles. <a href="jAvAsCrIpT:alert(6)">Go</a>.</p>
</article></body></html>"""
HOSTILE_TXT = """Title: Posture at the desk
URL: vbscript:msgbox(7)

Sit tall; your neck and shoulders will thank you.
"""


@pytest.mark.parametrize("url", OBFUSCATED)
def test_no_obfuscated_form_survives(url):
    dropped: list = []
    assert safe_url(url, base="https://blog.example.com/", dropped=dropped) is None
    assert dropped and not dropped[0].relative


@pytest.mark.parametrize(
    "url", ["https://example.com/a?b=1", "mailto:desk@example.com", "tel:+15555550100"]
)
def test_ordinary_addresses_are_kept(url):
    assert safe_url(url) == url


def hostile_campaign(root: Path) -> None:
    posts = root / "campaigns/2026-12/posts"
    (posts / "jaw-hostile.md").write_text(HOSTILE_MD, encoding="utf-8")
    (posts / "neck-hostile.html").write_text(HOSTILE_HTML, encoding="utf-8")
    (posts / "posture-hostile.txt").write_text(HOSTILE_TXT, encoding="utf-8")
    toml = root / CAMPAIGN
    text = toml.read_text(encoding="utf-8")
    extra = "".join(
        f'\n[[posts]]\nfile = "{name}"\ntags = ["{tag}"]\n'
        for name, tag in (
            ("jaw-hostile.md", "tmj"),
            ("neck-hostile.html", "neck_shoulder"),
            ("posture-hostile.txt", "neck_shoulder"),
        )
    )
    text = text.replace("# Per-segment openings.", extra + "\n# Per-segment openings.")
    toml.write_text(text.replace('format = "full"', 'format = "excerpt"'), encoding="utf-8")


def test_hostile_posts_are_reported_and_nothing_hostile_is_built(tmp_workspace, run, tmp_path):
    hostile_campaign(tmp_workspace)
    result = run("check", "2026-12", "--json", cwd=tmp_workspace)
    assert result.exit_code == 1, result.output
    findings = [f for f in json.loads(result.output) if f["rule"] == "unsafe-url"]
    by_post: dict[str, int] = {}
    for finding in findings:
        by_post[finding["where"]] = by_post.get(finding["where"], 0) + 1
    assert by_post == {
        "post jaw-hostile.md": 6,  # url, image, two links, two images
        "post neck-hostile.html": 3,  # canonical, og:image, one link
        "post posture-hostile.txt": 1,  # URL line
    }
    assert all(f["severity"] == "error" for f in findings)

    # The build goes ahead (the errors stop send and export), and holds nothing hostile.
    built = run("build", "2026-12", cwd=tmp_workspace)
    assert built.exit_code == 0, built.output
    for path in (tmp_workspace / "build/2026-12").iterdir():
        text = path.read_text(encoding="utf-8")
        assert not HOSTILE_SCHEMES.search(text), (path.name, HOSTILE_SCHEMES.search(text))
    assert "https://example.com/ok" in (tmp_workspace / "build/2026-12/tmj.html").read_text()

    out = tmp_path / "eml"
    exported = run("export", "2026-12", "--to", "eml", "--out", str(out), cwd=tmp_workspace)
    assert_user_error(exported, "unsafe-url")  # refused while check finds errors
    forced = run(
        "export", "2026-12", "--to", "eml", "--out", str(out), "--force", cwd=tmp_workspace
    )
    assert forced.exit_code == 0, forced.output
    files = list(out.rglob("*.eml"))
    assert files
    for path in files:
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        for part in message.walk():
            if part.get_content_maintype() == "text":
                content = part.get_content()
                assert not HOSTILE_SCHEMES.search(content), (path.name, part.get_content_type())


def test_hostile_feed_links_and_enclosures(tmp_path):
    feed = tmp_path / "feed.xml"
    feed.write_text(
        """<?xml version="1.0"?><rss version="2.0"><channel><title>B</title>
<link>https://blog.example.com/</link>
<item><title>One</title><link>javascript:alert(1)</link>
<enclosure url="data:image/png;base64,AAAA" type="image/png" length="4"/>
<description>&lt;p&gt;Text &lt;a href="vbscript:x"&gt;here&lt;/a&gt;.&lt;/p&gt;</description></item>
</channel></rss>""",
        encoding="utf-8",
    )
    [article] = read_feed(feed)
    assert article.url is None and article.image is None
    assert sorted(d.where for d in article.dropped_urls) == ["enclosure", "feed link", "link"]
    assert not HOSTILE_SCHEMES.search(article.body_html)


def test_relative_addresses_are_resolved_or_reported(tmp_path):
    page = tmp_path / "post.html"
    page.write_text(
        "<html><body><article><h1>T</h1><p>Read <a href='/more'>more</a>"
        "<img src='pic.jpg' alt='p'></p></article></body></html>"
    )
    article = read_post(page)
    assert [(d.where, d.relative) for d in article.dropped_urls] == [
        ("link", True),
        ("image", True),
    ]
    resolved = read_post(page, base_url="https://blog.example.com/posts/t/")
    assert resolved.dropped_urls == ()
    assert 'href="https://blog.example.com/more"' in resolved.body_html
    assert resolved.images[0].src == "https://blog.example.com/posts/t/pic.jpg"
    assert resolved.url == "https://blog.example.com/posts/t/"


@pytest.mark.parametrize(
    ("key", "line", "value"),
    [
        ("website", 'website = "https://harborlanedental.example.com"', "javascript:alert(1)"),
        ("[brand] logo", 'logo = "', "data:image/png;base64,AAAA"),
    ],
)
def test_practice_links_follow_the_policy(tmp_workspace, run, key, line, value):
    practice = tmp_workspace / "practice.toml"
    text = practice.read_text(encoding="utf-8")
    if line not in text:
        pytest.skip(f"demo practice.toml has no {line!r}")
    start = text.index(line)
    end = text.index("\n", start)
    prefix = line.split("=")[0]
    practice.write_text(text[:start] + f'{prefix}= "{value}"' + text[end:], encoding="utf-8")
    assert_user_error(run("build", "2026-12", cwd=tmp_workspace), "practice.toml", key)
