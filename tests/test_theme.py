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


def card_titles(doc: lxml_html.HtmlElement) -> dict[str, str]:
    """Each article title → "full", "cut" (opening paragraphs and "Continue reading") or
    "card" (a summary and "Read the article")."""
    found = {}
    for heading in doc.iter("h2"):
        title = heading.text_content().strip()
        if title == "See you soon":
            continue
        links = [a.text_content().strip() for a in heading.getparent().iter("a")]
        found[title] = (
            "card"
            if "Read the article\xa0→" in links
            else "cut"
            if "Continue reading\xa0→" in links
            else "full"
        )
    return found


# --- the preheader ------------------------------------------------------------------------


def test_the_preheader_is_hidden_without_white_text_and_never_runs_into_the_body(demo):
    for segment, (doc, _, text) in demo.items():
        body = doc.find("body")
        hidden = next(div for div in body.iter("div") if div.get("class") == "cs-preheader")
        assert body.text_content().lstrip().startswith(hidden.text_content())  # comes first
        style = dict(declarations(hidden.get("style")))
        assert style["max-height"] == "0px" and style["overflow"] == "hidden"
        assert style["opacity"] == "0" and style["mso-hide"] == "all"
        # White on white, and display:none, are what spam filters score as hidden text.
        assert "color" not in style and "display" not in style
        # The text part opens with the same preview and filler: apps that take the inbox
        # preview from it show nothing of the version's first lines either.
        assert text.startswith(hidden.text_content().rstrip()), segment
        assert not CONCERN_WORDS.search(text[:300]), segment
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


def test_auto_cuts_a_long_lead_and_shows_the_rest_as_cards(demo):
    assert card_titles(demo["tmj"][0]) == {
        "Where Muscle Tension Comes From": "cut",  # 443 words: its opening, then a link
        "Night Guards for Grinding: Protect Your Teeth While You Sleep": "card",
        "Holiday Hours and a Warm Thank-You": "card",
    }
    # The general version leads with office news, never with a post about a concern
    # its patients do not have.
    general = card_titles(demo["general"][0])
    assert next(iter(general)) == "Holiday Hours and a Warm Thank-You"
    assert general["Desk Posture and Neck Pain"] == "card"
    doc, _, text = demo["tmj"]
    lead = next(h for h in doc.iter("h2")).getparent()
    assert "never get to rest" in lead.text_content()  # whole paragraphs, from the start
    assert "Common Types of Tension Pain" not in lead.text_content()  # no dangling heading
    assert "Read the article: <https://harborlanedental.example.com/blog/night-guards" in text
    assert "Continue reading: <https://harborlanedental.example.com/blog/muscle-tension" in text
    assert "Common Types of Tension Pain" not in text.split("Continue reading")[0]


def test_full_shows_every_post_in_full(tmp_workspace):
    edit(tmp_workspace, CAMPAIGN, 'format = "auto"', 'format = "full"')
    for segment, (doc, _, _) in built(tmp_workspace).items():
        assert set(card_titles(doc).values()) == {"full"}, segment
    edit(tmp_workspace, CAMPAIGN, 'format = "full"', 'format = "auto"')
    for post in ("jaw-and-neck-tension.txt", "desk-posture-and-neck-pain.html"):
        (tmp_workspace / "campaigns/2026-12/posts" / post).unlink()
        edit(tmp_workspace, CAMPAIGN, f'file = "{post}"', 'file = "holiday-hours.md"')
    edit(tmp_workspace, CAMPAIGN, '[[posts]]\nfile = "holiday-hours.md"\ntags = []\n', "")
    doc = built(tmp_workspace)["tmj"][0]
    # The holiday post now leads (tagged for both concerns), long enough to be cut; the
    # night-guard post after it is a card.
    assert card_titles(doc) == {
        "Holiday Hours and a Warm Thank-You": "cut",
        "Night Guards for Grinding: Protect Your Teeth While You Sleep": "card",
    }


# --- the look -----------------------------------------------------------------------------


def test_titles_calls_to_action_phone_and_contents(demo):
    calls = {
        "tmj": "Jaw sore in the morning? Ask us about a night guard.",
        "neck_shoulder": "Neck tight after a day at the desk? Ask us what can help.",
        "general": "Due for a check-up? We would be glad to see you before the holidays.",
    }
    for segment, (doc, source, text) in demo.items():
        titles = [h for h in doc.iter("h2")]
        sizes = {float(dict(declarations(h.get("style")))["font-size"][:-2]) for h in titles}
        assert min(sizes) >= 26, segment
        links = [(a.text_content().strip(), a.get("href")) for a in doc.iter("a")]
        booking = [h for t, h in links if t == "Book a visit"]
        assert len(booking) == 2 and booking[0].startswith("https://harborlanedental")
        assert links.count(("Call (360) 555-0142", "tel:3605550142")) == 2
        # Outlook for Windows draws each button in VML, whose whole area is the link.
        assert source.count("<v:roundrect") == 4 and 'href="tel:3605550142"' in source
        contents = [p for p in doc.iter("p") if p.text_content() == "In this issue"]
        assert len(contents) == 1  # every demo version carries three posts or more
        toc = contents[0].getnext()
        anchors = [a.get("href") for a in toc.iter("a")]
        ids = {h.get("id") for h in doc.iter("h2")}
        assert anchors and all(a[0] == "#" and a[1:] in ids for a in anchors), segment
        # The version's call to action comes right after the lead post, in the HTML and text.
        ask = next(p for p in doc.iter("p") if p.get("class") == "cs-ask")
        assert ask.text_content() == calls[segment]
        lead_card = next(h for h in doc.iter("h2")).getparent()
        assert ask.sourceline > lead_card.sourceline
        assert calls[segment] in text


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
    # On white, with the alt text in ink: a logo in the brand colour stays visible, and so
    # does its name when images are off.
    header = next(t for t in logo.iterancestors("td") if "background-color" in t.get("style", ""))
    assert dict(declarations(header.get("style")))["background-color"] == "#ffffff"
    assert dict(declarations(logo.get("style")))["color"] == "#4b5563"
    issue = next(p for p in doc.iter("p") if p.get("class") == "cs-issue")
    assert issue.text_content() == "December 2026 · Harbor Lane Dental"
    assert logo.getparent().get("href").startswith("https://harborlanedental.example.com")
    assert not [h for h in doc.iter("h1")]
    assert "<https://harborlanedental.example.com?utm_source=newsletter" in text
    assert "[Picture: Harbor Lane Dental]\n<https://harborlanedental.example.com/logo.png>" in text


def test_a_markdown_table_has_borders_in_html_and_columns_in_text(tmp_workspace):
    edit(
        tmp_workspace,
        "campaigns/2026-12/posts/holiday-hours.md",
        "## Dental Emergencies",
        "| Day | Hours |\n|---|---|\n| Thursday | 8 to 12 |\n| Friday | Closed |\n\n"
        "## Dental Emergencies",
    )
    edit(tmp_workspace, CAMPAIGN, 'format = "auto"', 'format = "full"')  # the whole post
    doc, _, text = built(tmp_workspace)["general"]
    cells = [td for td in doc.iter("td") if td.get("class") == "cs-cell"]
    assert len(cells) == 4
    assert all("border" in dict(declarations(td.get("style"))) for td in cells)
    assert "Day      | Hours\n---------+--------\nThursday | 8 to 12\nFriday   | Closed" in text


# --- the text part --------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["auto", "full", "excerpt"])
def test_the_text_part_has_every_web_link_of_the_html_as_often(tmp_workspace, fmt):
    # rspamd adds the links and pictures of both parts (URI_COUNT_ODD scores an odd total):
    # each is in the text as many times as in the HTML, and phone links come in pairs.
    edit(tmp_workspace, CAMPAIGN, 'format = "auto"', f'format = "{fmt}"')
    edit(tmp_workspace, "practice.toml", 'logo = ""', 'logo = "https://x.example/logo.png"')
    for segment, (doc, _, text) in built(tmp_workspace).items():
        hrefs = [a.get("href", "") for a in doc.iter("a")]
        pictures = [img.get("src", "") for img in doc.iter("img")]
        html_links = Counter(h for h in hrefs + pictures if h.startswith("http"))
        text_links = Counter(re.findall(r"<(https?://[^<>\s]+)>", text))
        assert html_links and html_links == text_links, (segment, html_links - text_links)
        assert sum(h.startswith("tel:") for h in hrefs) % 2 == 0, segment
        bare = re.findall(r"(?<![<\w])https?://\S+", text)
        assert bare == [], (segment, bare)  # every URL is in <…>


def test_the_issue_line_names_the_month_from_the_campaign_or_its_newest_post(tmp_workspace):
    from chairside.render.pipeline import issue_line
    from chairside.rendered import render_campaign

    practice, campaign, _ = render_campaign(Workspace(tmp_workspace), "2026-12")
    assert issue_line(practice, campaign) == "December 2026 · Harbor Lane Dental"
    other = tmp_workspace / "campaigns/winter"
    (tmp_workspace / "campaigns/2026-12").rename(other)
    practice, campaign, _ = render_campaign(Workspace(tmp_workspace), "winter")
    assert issue_line(practice, campaign) == "November 2026 · Harbor Lane Dental"  # newest post


def test_a_newsletter_override_written_for_the_old_theme_still_builds(tmp_workspace):
    # Templates stay overridable: the values the theme offered before the looks remain.
    old = (
        '<mjml><mj-body background-color="{{ colors.background }}"><mj-section>'
        '<mj-column><mj-text color="{{ colors.text }}"><p>Hi {{ first_name }}, '
        "{{ practice.name }}</p>{% for article in articles %}<h2>{{ article.title }}</h2>"
        "{% endfor %}<p>{{ practice.address }} "
        '<a href="{{ unsubscribe_url }}">Unsubscribe</a></p></mj-text></mj-column>'
        "</mj-section><mj-section><mj-column><mj-text><p>{{ dark.background }} "
        "{{ dark.card }} {{ colors.on_brand }} {{ colors.rule }}</p></mj-text></mj-column>"
        "</mj-section></mj-body></mjml>"
    )
    (tmp_workspace / "templates/newsletter.mjml").write_text(old, encoding="utf-8")
    doc, _, _ = built(tmp_workspace)["tmj"]
    assert "Where Muscle Tension Comes From" in doc.text_content()
