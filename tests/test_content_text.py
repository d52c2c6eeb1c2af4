from pathlib import Path

import pytest

from chairside.content import Article, read_post
from chairside.content.text import TextReader
from chairside.errors import ContentError
from tests.support import CONTENT, read_written, tree


def post(tmp_path: Path, text: str, name: str = "a-post.txt") -> Article:
    return read_written(tmp_path, name, text)


def test_seed_style_post_structure():
    article = read_post(CONTENT / "night-guards-for-jaw-pain.txt")
    root = tree(article.body_html)
    # The first paragraph is prose, so the first heading names the post and leaves the body
    # (an email must not show the same line as title and heading).
    assert article.title == "Night Guards For Jaw Pain"
    assert [el.tag for el in root] == ["p", "p", "p", "p", "h3", "p", "ul", "p"]
    assert [h.text for h in root.iter("h3")] == ["Types of Clenching We See Often"]
    # A sentence that runs into the list is not a heading, even when short.
    assert root[5].text == "Dr. Maya Lindqvist regularly fits night guards for"
    items = root.xpath("//ul/li")
    assert [li.find("strong").text for li in items] == [
        "Bruxism",
        "Daytime clenching",
        "Morning headaches",
    ]
    assert items[1].text_content().startswith("Daytime clenching – Pressing the teeth")
    assert items[2].text_content().startswith("Morning headaches – Tension")
    assert root.xpath("//a/@href") == ["https://www.example.org/night-guards"]
    assert article.summary.startswith("Waking up with a sore jaw")


def test_seed_style_post_sign_off_and_bio_leave_the_body():
    article = read_post(CONTENT / "night-guards-for-jaw-pain.txt")
    assert article.author == "Dr. Maya Lindqvist"
    assert article.author_bio.startswith("I'm Dr. Maya Lindqvist, and I write this blog")
    assert "I write this blog" not in article.body_html
    last = tree(article.body_html)[-1]
    assert last.text_content().startswith("Curious whether a night guard")
    assert (article.url, article.date, article.images) == (None, None, ())


def test_title_line_and_no_sign_off_keeps_all_text():
    article = read_post(CONTENT / "whitening-questions.txt")
    root = tree(article.body_html)
    assert article.title == "Whitening: Your Questions Answered"
    assert "Your Questions Answered" not in article.body_html
    assert article.author is None and article.author_bio is None
    assert [h.text for h in root.iter("h3")] == [
        "How Whitening Works",
        "What You Can Expect",
        "Call Us Today",
    ]
    # Hard-wrapped prose is rejoined; short address lines keep their breaks.
    assert "enamel. The gel does not remove enamel" in root.xpath("//p")[1].text_content()
    address = root.xpath("//p[br]")[0]
    assert address.text == "Harborview Family Dental" and len(address.findall("br")) == 2
    assert len(root.xpath("//ul/li")) == 3 and len(root.xpath("//ol/li")) == 2
    assert not root.xpath("//ul//strong")  # no "Term – description" items here
    assert root[-1].text_content().endswith("for prices & hours.")
    assert root.xpath("//a/@href") == ["https://harborview.example.com/whitening"]


@pytest.mark.parametrize(
    ("ending", "author", "bio"),
    [
        ("— Dr. Ana Ruiz, DDS", "Dr. Ana Ruiz, DDS", None),
        ("Sincerely,\nDr. Ana Ruiz", "Dr. Ana Ruiz", None),
        ("Yours in health,\n\nAna Ruiz, DMD", "Ana Ruiz, DMD", None),
        (
            "Warmly,\nDr. Ana Ruiz\nHarborview Family Dental\n\n"
            "About the author: Dr. Ruiz has cared for Tacoma families since 2011.",
            "Dr. Ana Ruiz",
            "Harborview Family Dental\n\nDr. Ruiz has cared for Tacoma families since 2011.",
        ),
        (
            "Ana Ruiz\n\nI am a hygienist who loves a clean gumline.\n\nI live in Tacoma.",
            "Ana Ruiz",
            "I am a hygienist who loves a clean gumline.\n\nI live in Tacoma.",
        ),
        (
            "About the Author\n\nDr. Ana Ruiz has practiced in Tacoma for fifteen years.",
            "Dr. Ana Ruiz",
            "Dr. Ana Ruiz has practiced in Tacoma for fifteen years.",
        ),
    ],
)
def test_sign_off_variants(tmp_path, ending, author, bio):
    body = "Flossing once a day keeps gums healthy.\n\nCall us with any questions."
    article = post(tmp_path, f"{body}\n\n{ending}\n")
    assert (article.author, article.author_bio) == (author, bio)
    assert [p.text for p in tree(article.body_html)] == [
        "Flossing once a day keeps gums healthy.",
        "Call us with any questions.",
    ]


@pytest.mark.parametrize(
    "ending",
    [
        "Types of Pain Treatable with Botox",  # lowercase small words: not a name
        "Call Us Today",  # could be a name, but nothing marks it as a signature
        "Call Us Today\n\nToday is a good day to book your cleaning.",
        "Harborview Family Dental\n1200 Pacific Avenue\nTacoma, WA 98402",
    ],
)
def test_endings_that_are_not_sign_offs_stay_in_the_body(tmp_path, ending):
    article = post(tmp_path, f"Flossing once a day keeps gums healthy.\n\n{ending}\n")
    assert article.author is None and article.author_bio is None
    text = tree(article.body_html).text_content()
    for line in ending.splitlines():
        assert line in text or line == article.title  # a lone heading names the post


def test_title_case_questions_are_headings_and_short_questions_are_not(tmp_path):
    article = post(
        tmp_path,
        "Is Your Jaw Clicking?\n\nMany jaws click.\n\nWhat Causes the Click?\n\n"
        "Ready to book?\n\nCall us.\n",
    )
    root = tree(article.body_html)
    assert article.title == "Is Your Jaw Clicking?"
    assert [(el.tag, el.text) for el in root] == [
        ("p", "Many jaws click."),
        ("h3", "What Causes the Click?"),
        ("p", "Ready to book?"),
        ("p", "Call us."),
    ]


def test_title_falls_back_to_file_name(tmp_path):
    article = post(tmp_path, "Just one paragraph of text, and nothing else.\n", "botox-for-tmj.txt")
    assert article.title == "Botox for tmj"
    assert article.body_html == "<p>Just one paragraph of text, and nothing else.</p>"


def test_bullets_across_blank_lines_make_one_list(tmp_path):
    article = post(
        tmp_path,
        "Tips For Kids\n\nTry these:\n\n* Brush twice\n\n   * Floss once – gently\n"
        "   wrapped onto a second line\n- Sip water\n\nThat is all.\n",
    )
    root = tree(article.body_html)
    assert article.title == "Tips For Kids"
    assert [el.tag for el in root] == ["p", "ul", "p"]
    items = [li.text_content() for li in root.iter("li")]
    assert items == ["Brush twice", "Floss once – gently wrapped onto a second line", "Sip water"]


def test_header_block_and_escaping(tmp_path):
    article = post(
        tmp_path,
        "Title: Fluoride <Facts>\nDate: December 3, 2026\nURL: https://example.com/blog/f/\n"
        "Tags: kids, fluoride\n\nIs <script>alert(1)</script> fluoride safe? Yes & no.\n",
    )
    assert article.title == "Fluoride <Facts>"
    assert str(article.date) == "2026-12-03"
    assert article.url == "https://example.com/blog/f/"
    assert article.keywords == ("kids", "fluoride")
    assert tree(article.body_html).text_content() == (
        "Is <script>alert(1)</script> fluoride safe? Yes & no."
    )
    assert "<script>" not in article.body_html


def test_windows_1252_file(tmp_path):
    path = tmp_path / "legacy.txt"
    path.write_bytes("Don’t skip cleanings – ever.\r\n\r\nSee you soon.\r\n".encode("cp1252"))
    article = TextReader().read(path)
    assert tree(article.body_html)[0].text == "Don’t skip cleanings – ever."


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"\x00\x01binary", "not a text file"),
        (b"Date: someday\n\nBody.", "not a date"),
    ],
)
def test_unreadable_text_posts(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(ContentError, match=message) as caught:
        TextReader().read(path)
    assert caught.value.message.startswith(f"{path}: ")


def test_missing_text_post(tmp_path):
    with pytest.raises(ContentError, match="no such file"):
        read_post(tmp_path / "gone.txt")
