"""Accessibility rules: each one seeded with exactly its fault in a copy of the demo practice.

The rules are called directly on a `CheckContext` (no other rule module needed); the
unmodified demo's context is built once for the module.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chairside.checks import ERROR, WARNING, CheckContext, Finding, build_context, styles
from chairside.checks import accessibility as a11y
from chairside.workspace import Workspace
from tests.support import REPO, copy_demo

CAMPAIGN = "2026-12"
POSTS = Path("campaigns", CAMPAIGN, "posts")


def context_of(root: Path) -> CheckContext:
    return build_context(Workspace(root), CAMPAIGN)


def add_post(root: Path, name: str, text: str, tags: list[str]) -> None:
    """A new post in the demo campaign, carried by the variants of `tags`."""
    (root / POSTS / name).write_text(text, encoding="utf-8")
    with (root / "campaigns" / CAMPAIGN / "campaign.toml").open("a", encoding="utf-8") as f:
        f.write(f'\n[[posts]]\nfile = "{name}"\ntags = {tags!r}\n'.replace("'", '"'))


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, (old, path)
    path.write_text(text.replace(old, new), encoding="utf-8")


def override_article_template(root: Path, old: str, new: str) -> None:
    theme = REPO / "src" / "chairside" / "theme" / "article.mjml"
    target = root / "templates" / "article.mjml"
    target.write_text(theme.read_text(encoding="utf-8"), encoding="utf-8")
    edit(target, old, new)


def only(findings: list[Finding], rule_id: str) -> Finding:
    matching = [f for f in findings if f.rule == rule_id]
    assert len(matching) == 1, matching
    return matching[0]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> CheckContext:
    return context_of(copy_demo(tmp_path_factory.mktemp("demo")))


# --- contrast ---------------------------------------------------------------------------


def test_contrast_fails_for_white_text_on_a_pale_brand_colour(tmp_workspace: Path) -> None:
    edit(tmp_workspace / "practice.toml", 'color = "#0B5D6B"', 'color = "#F5D76E"')
    edit(tmp_workspace / "practice.toml", "[brand]\n", '[brand]\ntext_color = "#ffffff"\n')
    finding = only(list(a11y.contrast(context_of(tmp_workspace))), "contrast")
    assert (finding.severity, finding.variant) == (ERROR, "tmj")
    # The header's name and the button share one colour pair: reported once, with an
    # example of normal-size text (the button), the ratio, and the setting to change.
    assert "#ffffff on background #f5d76e" in finding.message
    assert "1.4" in finding.message and "4.5:1" in finding.message
    assert '"Book a visit"' in finding.message and "[brand] text_color" in finding.message
    assert "neck_shoulder, general" in finding.message


def test_contrast_passes_for_the_demo_and_ignores_the_hidden_preheader(
    demo: CheckContext,
) -> None:
    # The preheader is 1px text: it would fail font-size (and contrast, had it a colour).
    assert "font-size:1px;line-height:1px;max-height:0px;max-width:0px;opacity:0" in (
        demo.variants[0].html
    )
    assert list(a11y.contrast(demo)) == []


def test_colours_are_parsed_in_every_common_spelling() -> None:
    assert styles.parse_color("#FFF") == (255, 255, 255, 1.0)
    assert styles.parse_color("#0b5d6b") == (11, 93, 107, 1.0)
    assert styles.parse_color("rgb(11, 93, 107)") == (11, 93, 107, 1.0)
    assert styles.parse_color("rgba(0,0,0,0.5)") == (0, 0, 0, 0.5)
    assert styles.parse_color(" Navy ") == (0, 0, 128, 1.0)
    assert styles.hex_of(styles.parse_color("hsl(0, 100%, 50%)")) == "#ff0000"
    assert styles.parse_color("var(--brand)") is None


# --- brand-contrast ---------------------------------------------------------------------


def test_brand_contrast_warns_when_the_theme_swaps_white_for_dark_text(
    tmp_workspace: Path,
) -> None:
    edit(tmp_workspace / "practice.toml", 'color = "#0B5D6B"', 'color = "#F5D76E"')
    context = context_of(tmp_workspace)
    findings = list(a11y.brand_contrast(context))
    assert {(f.rule, f.severity, f.variant) for f in findings} == {
        ("brand-contrast", WARNING, "campaign")
    }
    text, links = findings
    assert "#F5D76E" in text.message and "1.4" in text.message
    assert "text_color" in text.message and "darker [brand] color" in text.message
    assert "links use #0B5D6B" in links.message
    # The swap is what keeps the email readable: no contrast error.
    assert list(a11y.contrast(context)) == []


def test_brand_contrast_passes_for_the_demo(demo: CheckContext) -> None:
    assert list(a11y.brand_contrast(demo)) == []


# --- image-alt --------------------------------------------------------------------------

UNDESCRIBED = """---
title: "Stretches for a Stiff Neck"
author: "Dr. Maya Castillo"
---

Try this stretch twice a day.

![](https://harborlanedental.example.com/images/chin-tuck.jpg)

Hold it for ten seconds.
"""


def test_image_alt_warns_about_an_image_nobody_described(tmp_workspace: Path) -> None:
    add_post(tmp_workspace, "neck-stretches.md", UNDESCRIBED, ["neck_shoulder"])
    describe_og_image(tmp_workspace)
    finding = only(list(a11y.image_alt(context_of(tmp_workspace))), "image-alt")
    # The post goes to neck_shoulder and general: reported once, in the first.
    assert (finding.severity, finding.variant) == (WARNING, "neck_shoulder")
    assert finding.where == "neck-stretches.md “Stretches for a Stiff Neck”, image chin-tuck.jpg"
    assert 'alt=""' in finding.message and "![what it shows]" in finding.message
    assert "general" in finding.message


def describe_og_image(root: Path) -> None:
    # The demo's HTML post has an og:image without og:image:alt (a warning of its own).
    edit(
        root / POSTS / "desk-posture-and-neck-pain.html",
        '<meta property="og:image" ',
        '<meta property="og:image:alt" content="A laptop on a stand">\n<meta property="og:image" ',
    )


def test_image_alt_passes_when_every_image_is_described(tmp_workspace: Path) -> None:
    describe_og_image(tmp_workspace)
    assert list(a11y.image_alt(context_of(tmp_workspace))) == []


def test_a_saved_page_lead_image_without_og_image_alt_is_reported(tmp_workspace: Path) -> None:
    page = tmp_workspace / "campaigns/2026-12/posts/desk-posture-and-neck-pain.html"
    text = page.read_text(encoding="utf-8")
    # A share picture that is not in the post, and has no og:image:alt.
    page.write_text(text.replace('11/desk-setup.jpg">', '11/share-card.jpg">', 1), "utf-8")
    finding = only(list(a11y.image_alt(context_of(tmp_workspace))), "image-alt")
    assert finding.variant == "neck_shoulder"
    assert "share-card.jpg" in finding.where and "og:image:alt" in finding.message


def test_the_demo_images_are_all_described(demo: CheckContext) -> None:
    assert list(a11y.image_alt(demo)) == []


# --- heading-order ----------------------------------------------------------------------


def test_heading_order_warns_about_a_skipped_level(tmp_workspace: Path) -> None:
    override_article_template(
        tmp_workspace,
        '<h2 id="{{ article.anchor }}">{{ article.title }}</h2>',
        "<h4>{{ article.title }}</h4>",
    )
    found = a11y.heading_order(context_of(tmp_workspace))
    finding = only([f for f in found if f.variant == "tmj"], "heading-order")
    assert (finding.severity, finding.variant) == (WARNING, "tmj")
    assert finding.where.startswith("jaw-and-neck-tension.txt “Where Muscle Tension Comes From”")
    assert '<h4> right after the <h1> "Harbor Lane Dental"' in finding.message
    assert "templates/" in finding.message and "<h2>" in finding.message


def test_heading_order_passes_for_the_demo(demo: CheckContext) -> None:
    assert list(a11y.heading_order(demo)) == []


# --- link-text --------------------------------------------------------------------------

VAGUE_LINK = """---
title: "Parking During Construction"
---

The garage entrance has moved for the winter. For a map, [Click here!](https://harborlanedental.example.com/parking)
"""


def test_link_text_warns_about_click_here(tmp_workspace: Path) -> None:
    add_post(tmp_workspace, "parking.md", VAGUE_LINK, ["neck_shoulder"])
    finding = only(list(a11y.link_text(context_of(tmp_workspace))), "link-text")
    assert (finding.severity, finding.variant) == (WARNING, "neck_shoulder")
    assert finding.where == (
        "parking.md “Parking During Construction”, "
        'link "Click here!" to https://harborlanedental.example.com/parking'
    )
    assert "in the post" in finding.message


def test_link_text_passes_for_the_demo(demo: CheckContext) -> None:
    assert list(a11y.link_text(demo)) == []


# --- font-size --------------------------------------------------------------------------


def test_font_size_warns_about_small_body_text(tmp_workspace: Path) -> None:
    override_article_template(
        tmp_workspace,
        '<mj-text css-class="cs-text">',
        '<mj-text css-class="cs-text" font-size="12px">',
    )
    found = a11y.font_size(context_of(tmp_workspace))
    finding = only([f for f in found if f.variant == "tmj"], "font-size")
    assert (finding.severity, finding.variant) == (WARNING, "tmj")
    assert finding.where.startswith(
        "jaw-and-neck-tension.txt “Where Muscle Tension Comes From”, <p>"
    )
    assert "12px" in finding.message and "at least 14px" in finding.message


def test_font_size_passes_for_the_demo(demo: CheckContext) -> None:
    # The footer is exactly 14px; the 1px preheader is hidden.
    assert list(a11y.font_size(demo)) == []
