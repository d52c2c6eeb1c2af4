from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from chairside.content import read_post
from chairside.content.article import Article, Image
from chairside.content.html import HtmlReader, to_html_document
from chairside.errors import ContentError
from tests.support import CONTENT, read_written, tree

SITE = "https://harborview.example.com"
UPLOADS = f"{SITE}/wp-content/uploads/2026/10"


def page(tmp_path: Path, html: str, name: str = "page.html") -> Article:
    return read_written(tmp_path, name, html)


def test_wordpress_page_metadata():
    article = read_post(CONTENT / "saved-wordpress-post.html")
    assert article.title == "Why Your Gums Bleed When You Floss"
    assert article.url == f"{SITE}/blog/why-gums-bleed/"
    assert article.date == date(2026, 10, 7)  # the day in Tacoma, not in UTC
    assert article.author == "Dr. Maya Lindqvist"
    assert article.author_bio == (
        "Dr. Maya Lindqvist has practiced family dentistry in Tacoma since 2011.\n\n"
        "She spends her weekends sailing Commencement Bay."
    )
    assert article.keywords == ("gum health", "flossing")
    assert article.image == Image(f"{UPLOADS}/flossing.jpg", "")
    assert article.summary.startswith("A little pink in the sink")


def test_wordpress_page_body_is_the_post_only():
    article = read_post(CONTENT / "saved-wordpress-post.html")
    root = tree(article.body_html)
    text = root.text_content()
    assert text.startswith("A little pink in the sink")
    for clutter in (
        "Skip to content",
        "Services",  # navigation
        "cookies",
        "Share this",
        "Posted on",
        "Related",
        "Flossing 101",
        "Great article",
        "Recent Posts",
        "Get our tips",
        "10% off",
        "Gum Health",  # category links in the entry footer
        "Dr. Maya Lindqvist",  # byline and author box
        "sailing",
        "©",
    ):
        assert clutter not in text, clutter
    assert article.title not in text  # the title <h1>
    assert [h.tag for h in root.xpath("//h3|//h4")] == ["h3", "h4"]
    assert not root.xpath("//script|//style|//iframe|//form|//@style|//@onclick|//@class")
    assert "javascript" not in article.body_html and "chat with us" in text
    assert "Gums that have not been flossed" in root.xpath("//p")[2].text_content()
    assert article.images == (
        Image(f"{UPLOADS}/gumline.jpg", "Close-up of a healthy gumline"),
        Image(f"{UPLOADS}/floss-technique.jpg", ""),  # lazy-loaded, tracking pixel gone
    )
    assert root.xpath("//a/@href") == [
        f"{SITE}/contact/",
        "tel:+12535550147",
        f"{SITE}/book/",
    ]
    assert not [p for p in root.iter("p") if not p.text_content().strip() and p.find("img") is None]


def _equal_content(one: Article, other: Article) -> None:
    for field in (
        "title",
        "url",
        "date",
        "author",
        "author_bio",
        "summary",
        "image",
        "body_html",
        "images",
        "keywords",
    ):
        assert getattr(one, field) == getattr(other, field), field


@pytest.mark.parametrize(
    "source",
    [
        "saved-wordpress-post.html",
        "night-guards-for-jaw-pain.txt",
        "whitening-questions.txt",
        "sealants-for-kids.md",
    ],
)
def test_to_html_document_round_trip(tmp_path, source):
    original = read_post(CONTENT / source)
    saved = tmp_path / "saved.html"
    saved.write_text(to_html_document(original), encoding="utf-8")
    again = read_post(saved)
    _equal_content(again, original)
    assert again.source == str(saved)


def test_round_trip_of_awkward_values(tmp_path):
    article = Article(
        title='Tom & "Jerry" | Part 2',
        body_html="<p>Hi &lt;there&gt;</p>",
        source="feed.xml#3",
        url="https://example.com/p?a=1&b=2",
        date=date(2026, 12, 3),
        author="Dr. Ana Ruiz, DDS",
        author_bio="First.\n\nSecond.",
        summary="Hi <there>",
        keywords=("a&b",),
    )
    saved = tmp_path / "p.html"
    saved.write_text(to_html_document(article), encoding="utf-8")
    _equal_content(HtmlReader().read(saved), article)
    saved.write_text(to_html_document(replace(article, author=None, date=None)), "utf-8")
    again = HtmlReader().read(saved)
    assert (again.author, again.date) == (None, None)


def test_an_article_without_body_still_saves_as_a_readable_page(tmp_path):
    saved = tmp_path / "p.html"
    saved.write_text(to_html_document(Article("Hours", "", "feed.xml#4")), encoding="utf-8")
    assert HtmlReader().read(saved).body_html == "<p>Hours</p>"


def test_squarespace_like_page_with_title_suffix_and_json_ld(tmp_path):
    article = page(
        tmp_path,
        """<html><head><title>Dry Mouth at Night — Harborview Family Dental</title>
        <script type="application/ld+json">{"@type": "BlogPosting",
          "datePublished": "2026-08-14T07:00:00-0700",
          "author": [{"@type": "Person", "name": "Dr. Owen Castellanos"}]}</script>
        </head><body><div class="header-nav"><a href="/">Home</a></div>
        <article class="BlogItem"><div class="blog-item-content e-content">
        <div class="sqs-block-content"><p>Dry mouth is more than discomfort.</p>
        <p>Saliva protects your teeth.</p></div></div></article></body></html>""",
    )
    assert article.title == "Dry Mouth at Night"
    assert article.date == date(2026, 8, 14)
    assert article.author == "Dr. Owen Castellanos"
    assert article.url is None
    assert [p.text for p in tree(article.body_html)] == [
        "Dry mouth is more than discomfort.",
        "Saliva protects your teeth.",
    ]


def test_byline_without_classes_and_keeping_dashes_in_titles(tmp_path):
    article = page(
        tmp_path,
        """<html><head><meta property="og:title" content="Braces – What to Expect"></head>
        <body><main><h1>Braces – What to Expect</h1>
        <p>By Dr. Ana Ruiz on March 2, 2026</p>
        <p>By the age of seven, most children are ready for a first orthodontic check.</p>
        </main></body></html>""",
    )
    assert article.title == "Braces – What to Expect"
    assert article.body_html.startswith("<p>By the age of seven")
    assert "Dr. Ana Ruiz" not in article.body_html


def test_commenters_are_not_authors(tmp_path):
    article = page(
        tmp_path,
        """<html><body><article><h1>Fluoride</h1><p>Fluoride hardens enamel.</p></article>
        <div id="comments"><div class="comment-author vcard"><b class="fn">Linda P.</b></div>
        <time datetime="2026-11-06T08:14:00-08:00">Nov 6</time><p>Thanks!</p></div>
        </body></html>""",
    )
    assert (article.author, article.date) == (None, None)
    assert article.body_html == "<p>Fluoride hardens enamel.</p>"


def test_page_without_container_falls_back_to_readability(tmp_path):
    paragraph = "Brushing for two minutes twice a day removes most plaque. " * 4
    article = page(
        tmp_path,
        f"""<html><head><title>Brushing 101 | Harborview</title></head><body>
        <div class="menu"><a href="/">Home</a> <a href="/about">About</a></div>
        <div id="wrap"><div class="txt"><p>{paragraph}</p><p>{paragraph}</p></div></div>
        </body></html>""",
    )
    assert article.title == "Brushing 101"
    assert tree(article.body_html).text_content().startswith("Brushing for two minutes")
    assert "About" not in article.body_html


@pytest.mark.parametrize(
    "html",
    [
        "<html><head><title>Home</title></head><body><nav><a href='/'>Home</a></nav></body></html>",
        "<html><body><article><script>x()</script></article></body></html>",
    ],
)
def test_page_without_an_article_is_an_error(tmp_path, html):
    path = tmp_path / "home.html"
    path.write_text(html, encoding="utf-8")
    with pytest.raises(ContentError, match="no article found") as caught:
        read_post(path)
    assert caught.value.message.startswith(f"{path}: ")


def test_xhtml_declaration_and_empty_file(tmp_path):
    article = page(
        tmp_path,
        '<?xml version="1.0" encoding="utf-8"?><html><body><article><h1>T</h1>'
        "<p>Body.</p></article></body></html>",
    )
    assert (article.title, article.body_html) == ("T", "<p>Body.</p>")
    with pytest.raises(ContentError, match="empty"):
        page(tmp_path, "", "empty.htm")


def test_a_clutter_class_on_a_link_in_a_sentence_keeps_its_words(tmp_path):
    page = tmp_path / "post.html"
    page.write_text(
        "<html><body><article><h1>Stretches</h1><div class='entry-content'>"
        "<p>Try our <a href='javascript:void(0)' class='hl-popup-trigger'>three neck "
        "stretches</a> each morning.</p><div class='share-buttons'><a href='#'>Share</a>"
        "</div></div></article></body></html>"
    )
    article = read_post(page)
    assert "Try our three neck stretches each morning." in article.body_html
    assert "Share" not in article.body_html and "javascript" not in article.body_html


def test_a_share_image_that_is_also_in_the_post_is_shown_once(tmp_path):
    page = tmp_path / "post.html"
    page.write_text(
        '<html><head><link rel="canonical" href="https://blog.example.com/p/">'
        '<meta property="og:image" content="/img/desk.jpg"></head><body><article>'
        "<h1>Desk setup</h1><p>Raise your screen.</p>"
        '<img src="/img/desk.jpg" alt="A raised screen"></article></body></html>'
    )
    article = read_post(page)
    assert article.image is None
    assert [i.src for i in article.images] == ["https://blog.example.com/img/desk.jpg"]
