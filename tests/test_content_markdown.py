from datetime import date
from pathlib import Path

import pytest

from chairside.content import Article, read_post
from chairside.content.article import DroppedUrl, Image
from chairside.errors import ContentError
from tests.support import CONTENT, read_written, tree

SITE = "https://harborview.example.com"


def post(tmp_path: Path, text: str, name: str = "fluoride-facts.md") -> Article:
    return read_written(tmp_path, name, text)


def test_front_matter_fields():
    article = read_post(CONTENT / "sealants-for-kids.md")
    assert article.title == "Sealants: A Small Step for Big Smiles"
    assert article.date == date(2026, 11, 18)
    assert article.author == "Dr. Maya Lindqvist"
    assert article.url == f"{SITE}/blog/sealants-for-kids/"
    assert article.image == Image(
        f"{SITE}/images/sealants-hero.jpg", "A child smiling in the dental chair"
    )
    assert article.keywords == ("children", "prevention", "sealants")
    assert article.summary.startswith("Sealants are thin protective coatings")
    assert article.source.endswith("sealants-for-kids.md")


def test_markdown_body_is_rendered_and_sanitised():
    article = read_post(CONTENT / "sealants-for-kids.md")
    root = tree(article.body_html)
    assert [h.tag for h in root.xpath("//h3|//h4")] == ["h3", "h4"]
    assert len(root.xpath("//ol/li")) == 3
    assert [td.text for td in root.xpath("//table/tbody/tr/td")] == [
        "6",
        "First molars",
        "12",
        "Second molars",
    ]
    assert root.xpath("//a/@href") == [
        f"{SITE}/blog/first-visit/",
        "mailto:hello@harborview.example.com",
    ]
    assert article.images == (Image(f"{SITE}/images/sealant-applied.jpg", "Sealant being applied"),)
    assert not root.xpath("//script|//@onclick|//@style")
    assert "not in my newsletter" not in article.body_html
    assert root[-1].text == "Sealants are covered by most dental plans."


def test_first_h1_is_the_title_when_front_matter_has_none(tmp_path):
    article = post(tmp_path, "Intro line.\n\n# Fluoride Facts\n\nText.\n\n## Sub\n\nMore.\n")
    assert article.title == "Fluoride Facts"
    assert [el.tag for el in tree(article.body_html)] == ["p", "p", "h3", "p"]


def test_title_repeated_as_first_heading_is_not_printed_twice(tmp_path):
    article = post(tmp_path, "---\ntitle: Fluoride Facts\n---\n# Fluoride Facts\n\nText.\n")
    assert article.body_html == "<p>Text.</p>"


def test_no_title_anywhere_uses_the_file_name(tmp_path):
    article = post(tmp_path, "Only text, [a link](https://example.com).\n", "fluoride-facts.md")
    assert article.title == "Fluoride facts"
    assert (article.url, article.date, article.author, article.image) == (None, None, None, None)


def test_tags_as_a_list_and_relative_image_without_url(tmp_path):
    article = post(
        tmp_path,
        "---\ntitle: T\ntags: [kids, fluoride]\ncategories: Prevention\nimage: hero.jpg\n"
        "summary: Written by hand.\nauthor: {name: Dr. Owen Castellanos}\n---\nBody.\n",
    )
    assert article.keywords == ("kids", "fluoride", "Prevention")
    # Nothing relative works in an email: left out, and reported for `new` and `check`.
    assert article.image is None
    assert article.dropped_urls == (DroppedUrl("front matter image", "hero.jpg", relative=True),)
    assert article.summary == "Written by hand."
    assert article.author == "Dr. Owen Castellanos"


def test_bad_yaml_names_the_file_and_line(tmp_path):
    path = tmp_path / "broken.md"
    path.write_text("---\ntitle: Fine\nauthor: Dr. Ruiz: DDS\n---\nBody.\n", encoding="utf-8")
    with pytest.raises(ContentError) as caught:
        read_post(path)
    assert caught.value.message.startswith(f"{path}, line 3: the front matter is not valid YAML")


def test_bad_date_and_empty_file(tmp_path):
    with pytest.raises(ContentError, match="'date: soon' is not a date") as caught:
        post(tmp_path, "---\ntitle: T\ndate: soon\n---\nBody.\n", "dated.md")
    assert str(tmp_path / "dated.md") in caught.value.message
    with pytest.raises(ContentError, match="empty"):
        post(tmp_path, "", "empty.md")
