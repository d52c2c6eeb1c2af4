from datetime import date

import pytest

from chairside.content import read_feed
from chairside.content.article import Image
from chairside.errors import ContentError
from tests.support import CONTENT, tree

RSS = CONTENT / "harborview-wordpress.rss"
ATOM = CONTENT / "harborview-atom.xml"
SITE = "https://harborview.example.com"


def test_wordpress_feed_entries_in_order():
    articles = read_feed(RSS)
    assert [a.title for a in articles] == [
        "Holiday Treats & Your Teeth",
        "Is Your Jaw Clicking?",
        "Welcome to Our New Blog",
        "Our Holiday Hours",
    ]
    assert [a.source for a in articles] == [f"{RSS}#{n}" for n in (1, 2, 3, 4)]
    # 23:30 in Tacoma on the 2nd is the 3rd in UTC: the written day wins.
    assert [a.date for a in articles] == [
        date(2026, 12, 2),
        date(2026, 11, 10),
        date(2026, 10, 5),
        None,
    ]
    assert [a.author for a in articles] == [
        "Dr. Maya Lindqvist",
        "Dr. Owen Castellanos",
        "Front Desk",
        None,
    ]
    assert articles[0].keywords == ("Prevention", "Nutrition")
    assert articles[0].url == f"{SITE}/blog/holiday-treats/"


def test_wordpress_content_encoded_is_cleaned():
    first = read_feed(RSS)[0]
    root = tree(first.body_html)
    assert root[0].text.endswith(
        "after the party ends – and that is what feeds cavity-causing bacteria."
    )
    figure = root.find("figure")
    assert figure.find("img").get("src") == f"{SITE}/wp-content/uploads/2026/12/cookies.jpg"
    assert figure.find("figcaption").text == "Enjoy treats with a meal, not all afternoon."
    assert first.images == (
        Image(f"{SITE}/wp-content/uploads/2026/12/cookies.jpg", "A plate of holiday cookies"),
    )
    assert root.find("h3").text == "Three Easy Habits"
    assert "[" not in first.body_html and "gallery" not in first.body_html
    assert "appeared first" not in first.body_html
    assert root.xpath("//a/@href") == [f"{SITE}/blog/sugar-myths/"]


def test_relative_urls_resolve_against_the_entry_link_and_scripts_go():
    second = read_feed(RSS)[1]
    assert second.images == (
        Image(f"{SITE}/blog/jaw-clicking/images/jaw-diagram.png", "The jaw joint"),
    )
    assert "alert" not in second.body_html
    assert tree(second.body_html).xpath("//a/@href") == ["https://www.youtube.com/watch?v=abc"]


def test_entries_without_content_use_their_description():
    third, fourth = read_feed(RSS)[2:]
    assert (
        third.body_html
        == "<p>We are starting a blog &amp; newsletter. Expect one short post a month.</p>"
    )
    assert third.summary == "We are starting a blog & newsletter. Expect one short post a month."
    assert fourth.body_html == "<p>The office closes at noon on Christmas Eve.</p>"


def test_since_keeps_recent_and_undated_entries():
    titles = [a.title for a in read_feed(RSS, since=date(2026, 11, 10))]
    assert titles == ["Holiday Treats & Your Teeth", "Is Your Jaw Clicking?", "Our Holiday Hours"]
    assert [a.source for a in read_feed(RSS, since=date(2026, 12, 3))] == [f"{RSS}#4"]


def test_atom_feed():
    first, second = read_feed(ATOM)
    assert first.title == "Neck & Shoulder Tension After Long Appointments"
    assert first.author == "Dr. Owen Castellanos"
    assert first.keywords == ("myofascial pain", "posture")
    assert first.date == date(2026, 11, 20)
    assert first.summary == "Simple stretches for the day after a long dental visit."
    assert [el.tag for el in tree(first.body_html)] == ["h3", "p", "p"]
    assert first.images == (Image(f"{SITE}/media/stretch.jpg", ""),)
    assert second.body_html == "<p>Once a day, gently, all the way around each tooth.</p>"
    assert (second.date, second.author, second.url) == (
        date(2026, 9, 1),
        None,
        f"{SITE}/blog/flossing/",
    )


def test_broken_feed_names_the_file_and_line():
    path = CONTENT / "broken-feed.xml"
    with pytest.raises(ContentError, match="not a readable RSS or Atom feed") as caught:
        read_feed(path)
    assert caught.value.message.startswith(f"{path}, line 3: ")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"https://127.0.0.1:9/feed.xml", "not a readable RSS or Atom feed"),  # never fetched
        (b"/etc/hostname", "not a readable RSS or Atom feed"),  # never opened
        (b'<?xml version="1.0"?><config><item>1</item></config>', "not an RSS or Atom feed"),
    ],
)
def test_unreadable_feeds(tmp_path, content, message):
    path = tmp_path / "feed.xml"
    path.write_bytes(content)
    with pytest.raises(ContentError, match=message) as caught:
        read_feed(path)
    assert str(path) in caught.value.message
    with pytest.raises(ContentError, match="no such file"):
        read_feed(tmp_path / "missing.xml")


def test_feed_without_entries_is_empty_not_an_error(tmp_path):
    path = tmp_path / "feed.xml"
    path.write_bytes(b'<rss version="2.0"><channel><title>Quiet</title></channel></rss>')
    assert read_feed(path) == []
