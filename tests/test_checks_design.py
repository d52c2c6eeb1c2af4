"""`logo-visible` and `image-name`: a logo that vanishes on its background, alt text that
cannot be read with images off, and picture addresses that name a concern."""

from __future__ import annotations

from pathlib import Path

from chairside.checks import ERROR, WARNING, build_context
from chairside.checks.design import image_name, logo_visible
from chairside.workspace import Workspace
from tests.support import REPO

LOGO = "https://harborlanedental.example.com/images/logo.png"


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new), encoding="utf-8")


def with_logo(root: Path) -> Path:
    edit(root / "practice.toml", 'logo = ""', f'logo = "{LOGO}"')
    return root


def header_on(root: Path, background: str, extra: str = "") -> None:
    """An override of the theme whose header card has `background`, as a practice might
    write it (the old theme's brand-colour band)."""
    target = root / "templates" / "newsletter.mjml"
    target.write_text(
        (REPO / "src/chairside/theme/newsletter.mjml").read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    edit(
        target,
        '<mj-column background-color="#ffffff" border-top',
        f'<mj-column background-color="{background}" border-top',
    )
    if extra:
        edit(target, 'css-class="cs-pad cs-logo" />', f'css-class="cs-pad cs-logo" {extra}/>')


def findings(check, root: Path):
    return list(check(build_context(Workspace(root), "2026-12")))


def test_the_built_in_header_shows_the_logo_and_its_alt_text(tmp_workspace):
    assert findings(logo_visible, with_logo(tmp_workspace)) == []


def test_a_logo_on_the_brand_colour_cannot_be_seen(tmp_workspace):
    header_on(with_logo(tmp_workspace), "#0B5D6B")
    found = findings(logo_visible, tmp_workspace)
    logo = [f for f in found if f.where == "the logo in the header"]
    assert len(logo) == 1 and logo[0].severity == ERROR
    assert "1.0:1" in logo[0].message and "#0B5D6B" in logo[0].message
    assert "templates/" in logo[0].message
    # The theme's grey alt text on that band is unreadable too (it was 1.00:1 there before).
    alt = [f for f in found if f.where == "the logo's alt text"]
    assert len(alt) == 1 and '"Harbor Lane Dental"' in alt[0].message


def test_alt_text_that_matches_its_background_is_an_error(tmp_workspace):
    header_on(with_logo(tmp_workspace), "#ffffff")
    edit(
        tmp_workspace / "templates/newsletter.mjml",
        "img { max-width: 100%; height: auto; color: {{ colors.muted }};",
        "img { max-width: 100%; height: auto; color: #f4f4f4;",
    )
    found = findings(logo_visible, tmp_workspace)
    assert [(f.where, f.severity) for f in found] == [("the logo's alt text", ERROR)]
    assert "#f4f4f4 on #ffffff" in found[0].message


def test_no_logo_nothing_to_check(tmp_workspace):
    assert findings(logo_visible, tmp_workspace) == []


def test_a_picture_named_after_a_concern_is_a_warning(tmp_workspace):
    post = tmp_workspace / "campaigns/2026-12/posts/night-guards-for-grinding.md"
    edit(post, "images/2026-12/case.jpg", "images/tmj-night-guard.jpg")
    found = findings(image_name, tmp_workspace)
    assert len(found) == 1
    assert (found[0].severity, found[0].variant) == (WARNING, "tmj")
    assert "tmj-night-guard.jpg" in found[0].where
    assert "which version" in found[0].message and "general" in found[0].message


def test_neutral_picture_names_pass(tmp_workspace):
    assert findings(image_name, tmp_workspace) == []
