import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from chairside.content.article import Image
from chairside.content.dates import parse_date
from chairside.content.sanitize import (
    clean_html,
    plain_text,
    read_text,
    summarize,
    title_from_filename,
)
from chairside.errors import ContentError
from tests.support import tree

BASE = "https://harborview.example.com/blog/post/"


def test_clean_html_removes_active_content_with_its_text():
    dirty = (
        '<p onclick="steal()" style="color:red">Hello <a href="javascript:alert(1)">'
        "there</a></p><script>alert('x')</script><style>p{}</style>"
        "<iframe src='https://video.example.com'>iframe text</iframe>"
        "<form><input value='x'><button>Send</button><textarea>typed</textarea></form>"
        "<noscript>enable js</noscript><svg><text>drawn</text></svg>"
    )
    cleaned, images = clean_html(dirty)
    root = tree(cleaned)
    assert root.text_content() == "Hello there"
    assert images == ()
    assert not root.xpath("//@onclick|//@style|//a|//script|//style|//iframe|//form")
    for word in ("alert", "iframe text", "Send", "typed", "enable js", "drawn"):
        assert word not in cleaned


def test_clean_html_makes_urls_absolute_against_the_base():
    cleaned, images = clean_html(
        '<p><a href="../contact/">Contact</a> <a href="#hours">Hours</a> '
        '<a href="mailto:hi@example.com">Mail</a> <a href="tel:+12535550147">Call</a>'
        '<img src="/img/a.jpg" alt="A chair"></p>',
        base_url=BASE,
    )
    root = tree(cleaned)
    assert root.xpath("//a/@href") == [
        "https://harborview.example.com/blog/contact/",
        "https://harborview.example.com/blog/post/#hours",
        "mailto:hi@example.com",
        "tel:+12535550147",
    ]
    assert images == (Image("https://harborview.example.com/img/a.jpg", "A chair"),)


def test_clean_html_without_base_drops_relative_images_and_unwraps_relative_links():
    cleaned, images = clean_html(
        '<p>See <a href="/services/">our services</a>.<img src="/img/a.jpg" alt="x">'
        '<img src="https://cdn.example.com/b.png"></p>'
    )
    root = tree(cleaned)
    assert root.text_content() == "See our services."
    assert not root.xpath("//a")
    assert images == (Image("https://cdn.example.com/b.png", ""),)
    assert root.xpath("//img/@alt") == [""]


def test_clean_html_demotes_headings_relative_to_the_highest():
    cleaned, _ = clean_html("<h1>A</h1><h2>B</h2><h4>C</h4><h5>D</h5><h6>E</h6>")
    assert [el.tag for el in tree(cleaned)] == ["h3", "h4", "h6", "h6", "h6"]
    cleaned, _ = clean_html("<h2>B</h2><p>x</p><h3>C</h3>")
    assert [el.tag for el in tree(cleaned)] == ["h3", "p", "h4"]


def test_clean_html_drops_tracking_pixels_and_empty_paragraphs():
    cleaned, images = clean_html(
        "<p>Text</p><p>&nbsp;</p><p> <br> </p>"
        '<p><img src="https://cdn.example.com/open.gif" width="1" height="1"></p>'
        '<p><img src="https://pixel.wp.com/g.gif?blog=1"></p>'
        '<img src="https://www.facebook.com/tr?id=1">'
        '<img src="https://cdn.example.com/zero.gif" height="0">'
        '<img src="data:image/gif;base64,R0lGOD">'
        '<p><img src="https://cdn.example.com/smile.jpg" width="600" alt="Smile"></p>'
    )
    root = tree(cleaned)
    assert [el.tag for el in root] == ["p", "p"]
    assert images == (Image("https://cdn.example.com/smile.jpg", "Smile"),)


def test_clean_html_wraps_loose_text_and_is_idempotent():
    cleaned, _ = clean_html("Loose <b>text</b> here<ul><li>one</li><li> </li></ul>tail")
    assert cleaned == "<p>Loose <b>text</b> here</p>\n<ul><li>one</li></ul>\n<p>tail</p>"
    for fixture in ("saved-wordpress-post.html", "sealants-for-kids.md"):
        text = (Path(__file__).parent / "data" / "content" / fixture).read_text()
        once = clean_html(text, base_url=BASE)
        assert clean_html(once[0], base_url=BASE) == once


def test_clean_html_drops_links_left_empty_and_control_characters():
    cleaned, _ = clean_html(
        '<p>Call\x07 us <a href="https://x.example.com/t"><img src="https://x.example.com/p.gif"'
        ' width="1"></a></p>'
    )
    assert cleaned == "<p>Call us </p>"


def test_clean_html_keeps_text_escaped_and_typography():
    cleaned, _ = clean_html("<p>Tom &amp; Jerry’s “smile” – 5 &lt; 6</p>")
    assert cleaned == "<p>Tom &amp; Jerry’s “smile” – 5 &lt; 6</p>"


def test_summarize_cuts_at_a_sentence_or_a_word():
    sentence = "Healthy gums do not bleed. " * 3
    assert summarize("<p>Short.</p>") == "Short."
    cut = summarize(f"<p>{sentence * 10}</p>", limit=100)
    assert cut.endswith("bleed.") and len(cut) <= 100
    long_words = "word " * 100
    cut = summarize(long_words, limit=50)
    assert cut.endswith("…") and len(cut) <= 50 and not cut.endswith(" …")


def test_summarize_takes_paragraphs_until_the_limit():
    text = (
        "<h3>Heading</h3><p>First one.</p><figure><figcaption>Cap</figcaption></figure><p>Two.</p>"
    )
    assert summarize(text) == "First one. Two."
    assert (
        summarize("First para.\n\nSecond para.\n\nThird.", limit=25) == "First para. Second para."
    )
    # "Dr." ends no sentence: the cut falls after "ages here."
    text = "We see patients of all ages here. Ask Dr. Ruiz about sealants for children."
    assert summarize(text, limit=45) == "We see patients of all ages here."


def test_html_to_text_separates_blocks():
    assert plain_text("<h3>A</h3><p>b <i>c</i></p><ul><li>d</li></ul>") == "A\n\nb c\n\nd"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-12-03", date(2026, 12, 3)),
        ("2026-12-03T23:30:00-08:00", date(2026, 12, 3)),
        ("2026-12-03T10:00:00Z", date(2026, 12, 3)),
        ("2026-12-03 09:30:00 +0000", date(2026, 12, 3)),
        ("Wed, 03 Dec 2026 23:30:00 -0800", date(2026, 12, 3)),
        ("December 3, 2026", date(2026, 12, 3)),
        ("Wednesday, Dec. 3rd, 2026", date(2026, 12, 3)),
        ("3 December 2026", date(2026, 12, 3)),
        ("Posted on September 14, 2026 by Dr. Ruiz", date(2026, 9, 14)),
        (date(2026, 12, 3), date(2026, 12, 3)),
        (datetime(2026, 12, 3, 23, tzinfo=timezone(timedelta(hours=-8))), date(2026, 12, 3)),
        (time.strptime("2026-12-03", "%Y-%m-%d"), date(2026, 12, 3)),
        ("next Tuesday", None),
        ("February 30, 2026", None),
        ("", None),
        (None, None),
        (42, None),
    ],
)
def test_parse_date(value, expected):
    assert parse_date(value) == expected


def test_read_text_decodes_bom_and_windows_1252(tmp_path):
    bom = tmp_path / "bom.txt"
    bom.write_bytes("\ufeffCafé “menu”".encode())
    assert read_text(bom) == "Café “menu”"
    legacy = tmp_path / "legacy.txt"
    legacy.write_bytes("Don’t – café".encode("cp1252"))
    assert read_text(legacy) == "Don’t – café"
    notepad = tmp_path / "notepad.txt"
    notepad.write_bytes("Teeth".encode("utf-16"))
    assert read_text(notepad) == "Teeth"


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "empty"), (b"  \n\n ", "empty"), (b"\x89PNG\x00\x00", "not a text file")],
)
def test_read_text_rejects_unreadable_files(tmp_path, content, message):
    path = tmp_path / "post.txt"
    path.write_bytes(content)
    with pytest.raises(ContentError, match=message) as caught:
        read_text(path)
    assert str(path) in caught.value.message
    with pytest.raises(ContentError, match="no such file"):
        read_text(tmp_path / "missing.txt")
    with pytest.raises(ContentError, match="folder"):
        read_text(tmp_path)


def test_title_from_filename():
    assert title_from_filename(Path("botox-for-muscle-pain.txt")) == "Botox for muscle pain"
    assert title_from_filename(Path("2026-12-03_night_guards.md")) == "Night guards"
