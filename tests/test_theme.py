"""The built-in theme as a patient receives it: preheader, pacing (`format = "auto"`), calls
to action, logo, tables, and a text part with every link of the HTML."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from lxml import html as lxml_html

from chairside.build import build
from chairside.checks.styles import declarations
from chairside.workspace import Workspace

SEGMENTS = ("tmj", "neck_shoulder", "general")
CAMPAIGN = "campaigns/2026-12/campaign.toml"
CONCERN_WORDS = re.compile(r"jaw|tmj|tmd|neck|shoulder|grind|clench|myofascial|muscle", re.I)
FILLER = "\u034f\u200c\u00a0"  # what &#847;&zwnj;&nbsp; are once parsed


def edit(root: Path, path: str, old: str, new: str) -> None:
    text = (root / path).read_text(encoding="utf-8")
    assert old in text, old
    (root / path).write_text(text.replace(old, new), encoding="utf-8")


def built(root: Path) -> dict[str, tuple[lxml_html.HtmlElement, str, str]]:
    """segment → (parsed HTML, HTML source, text part) of a fresh build."""
    out = build(Workspace(root), "2026-12").out_dir
    pages = {}
    for segment in SEGMENTS:
        source = (out / f"{segment}.html").read_text(encoding="utf-8")
        text = (out / f"{segment}.txt").read_text(encoding="utf-8")
        pages[segment] = (lxml_html.document_fromstring(source), source, text)
    return pages


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> dict[str, tuple[lxml_html.HtmlElement, str, str]]:
    from tests.support import copy_demo

    return built(copy_demo(tmp_path_factory.mktemp("theme") / "practice"))


def card_titles(doc: lxml_html.HtmlElement) -> dict[str, bool]:
    """Each article title → shown in full (False: a summary card with "Read more")."""
    found = {}
    for heading in doc.iter("h2"):
        title = heading.text_content().strip()
        if title == "See you soon":
            continue
        card = heading.getparent()
        found[title] = not any(a.text_content().startswith("Read more: ") for a in card.iter("a"))
    return found


# --- the preheader ------------------------------------------------------------------------


def test_the_preheader_is_hidden_without_white_text_and_never_runs_into_the_body(demo):
    for segment, (doc, _, _) in demo.items():
        body = doc.find("body")
        hidden = next(div for div in body.iter("div") if div.get("class") == "cs-preheader")
        assert body.text_content().lstrip().startswith(hidden.text_content())  # comes first
        style = dict(declarations(hidden.get("style")))
        assert style["display"] == "none" and style["mso-hide"] == "all"
        assert "color" not in style  # white on white is what spam filters score
        assert hidden.text_content().startswith("Three short reads from our team")
        # An inbox preview takes the first characters of the body's text: after the
        # preheader it meets only invisible filler for longer than any client shows.
        preview = " ".join(body.text_content().split(" "))
        after = preview.split("holiday hours.", 1)[1]
        assert after[0] == " "  # an address at the end cannot run into the filler
        assert len(after) - len(after.lstrip(FILLER + " \n")) >= 250, segment
        assert not CONCERN_WORDS.search(preview[:300]), segment


def test_without_a_preheader_the_preview_still_shows_nothing_of_the_body(tmp_workspace):
    edit(
        tmp_workspace,
        CAMPAIGN,
        'preheader = "Three short reads from our team, plus our holiday hours."',
        'preheader = ""',
    )
    doc, _, _ = built(tmp_workspace)["tmj"]
    text = doc.find("body").text_content().lstrip()
    assert len(text) - len(text.lstrip(FILLER + " \n")) >= 250


# --- pacing: format = "auto" ----------------------------------------------------------------


def test_auto_shows_the_lead_post_in_full_and_the_rest_as_cards(demo):
    assert card_titles(demo["tmj"][0]) == {
        "Where Muscle Tension Comes From": True,
        "Night Guards for Grinding: Protect Your Teeth While You Sleep": False,
        "Holiday Hours and a Warm Thank-You": True,  # no web address to read more at
    }
    general = card_titles(demo["general"][0])
    assert general["Desk Posture and Neck Pain"] is False
    _, _, text = demo["tmj"]
    assert "Read more: <https://harborlanedental.example.com/blog/night-guards" in text


def test_a_short_version_and_full_show_every_post_in_full(tmp_workspace):
    edit(tmp_workspace, CAMPAIGN, 'format = "auto"', 'format = "full"')
    for segment, (doc, _, _) in built(tmp_workspace).items():
        assert all(card_titles(doc).values()), segment
    edit(tmp_workspace, CAMPAIGN, 'format = "full"', 'format = "auto"')
    for post in ("jaw-and-neck-tension.txt", "desk-posture-and-neck-pain.html"):
        (tmp_workspace / "campaigns/2026-12/posts" / post).unlink()
        edit(tmp_workspace, CAMPAIGN, f'file = "{post}"', 'file = "holiday-hours.md"')
    edit(tmp_workspace, CAMPAIGN, '[[posts]]\nfile = "holiday-hours.md"\ntags = []\n', "")
    doc = built(tmp_workspace)["tmj"][0]
    assert card_titles(doc) == {
        "Night Guards for Grinding: Protect Your Teeth While You Sleep": True,
        "Holiday Hours and a Warm Thank-You": True,
    }


# --- the look -----------------------------------------------------------------------------


def test_titles_calls_to_action_phone_and_contents(demo):
    for segment, (doc, _, _) in demo.items():
        titles = [h for h in doc.iter("h2")]
        sizes = {float(dict(declarations(h.get("style")))["font-size"][:-2]) for h in titles}
        assert min(sizes) >= 26, segment
        links = [(a.text_content().strip(), a.get("href")) for a in doc.iter("a")]
        booking = [h for t, h in links if t == "Book a visit"]
        assert len(booking) == 2 and booking[0].startswith("https://harborlanedental")
        assert links.count(("(360) 555-0142", "tel:3605550142")) == 2
        contents = [p for p in doc.iter("p") if p.text_content() == "In this issue"]
        assert len(contents) == 1  # every demo version carries three posts or more


def test_the_logo_replaces_the_name_when_given(tmp_workspace):
    edit(
        tmp_workspace,
        "practice.toml",
        'logo = ""',
        'logo = "https://harborlanedental.example.com/logo.png"',
    )
    doc, _, text = built(tmp_workspace)["general"]
    logo = next(i for i in doc.iter("img") if i.get("src").endswith("logo.png"))
    assert (logo.get("alt"), logo.get("width")) == ("Harbor Lane Dental", "180")
    assert logo.getparent().get("href").startswith("https://harborlanedental.example.com")
    assert not [h for h in doc.iter("h1")]
    assert "<https://harborlanedental.example.com?utm_source=newsletter" in text


def test_a_markdown_table_has_borders_in_html_and_columns_in_text(tmp_workspace):
    edit(
        tmp_workspace,
        "campaigns/2026-12/posts/holiday-hours.md",
        "## Dental Emergencies",
        "| Day | Hours |\n|---|---|\n| Thursday | 8 to 12 |\n| Friday | Closed |\n\n"
        "## Dental Emergencies",
    )
    doc, _, text = built(tmp_workspace)["general"]
    cells = [td for td in doc.iter("td") if td.get("class") == "cs-cell"]
    assert len(cells) == 4
    assert all("border" in dict(declarations(td.get("style"))) for td in cells)
    assert "Day      | Hours\n---------+--------\nThursday | 8 to 12\nFriday   | Closed" in text


# --- the text part --------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["auto", "full", "excerpt"])
def test_the_text_part_has_every_web_link_of_the_html_as_often(tmp_workspace, fmt):
    # rspamd adds the links of both parts (URI_COUNT_ODD scores an odd total): each web
    # link is in the text as many times as in the HTML, and phone links come in pairs.
    edit(tmp_workspace, CAMPAIGN, 'format = "auto"', f'format = "{fmt}"')
    edit(tmp_workspace, "practice.toml", 'logo = ""', 'logo = "https://x.example/logo.png"')
    for segment, (doc, _, text) in built(tmp_workspace).items():
        hrefs = [a.get("href", "") for a in doc.iter("a")]
        html_links = Counter(h for h in hrefs if h.startswith("http"))
        text_links = Counter(re.findall(r"<(https?://[^<>\s]+)>", text))
        assert html_links and html_links == text_links, (segment, html_links - text_links)
        assert sum(h.startswith("tel:") for h in hrefs) % 2 == 0, segment
        bare = re.findall(r"(?<![<\w])https?://\S+", text)
        assert bare == [], (segment, bare)  # every URL is in <…>
