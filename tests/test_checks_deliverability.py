"""The deliverability rules on the demo practice, and on copies of it seeded with one fault.

Each campaign is rendered once (a context takes ~0.2 s; the demo's is shared by the
module), and the rules are called directly, so these tests do not depend on the other rule
modules that `run_checks` imports.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import chairside
from chairside.checks import (
    ERROR,
    LONGEST_FIRST_NAME,
    WARNING,
    CheckContext,
    Finding,
    build_context,
)
from chairside.checks.deliverability import (
    GMAIL_CLIP_BYTES,
    css_support,
    gmail_clip,
    image_url,
    image_width,
    link_url,
    style_block_size,
)
from chairside.checks.urls import dropped_urls
from chairside.workspace import Workspace
from tests.support import copy_demo

ALL = {"tmj", "neck_shoulder", "general"}
THEME = Path(chairside.__file__).parent / "theme"
CAMPAIGN = Path("campaigns/2026-12")
IMAGE = "https://harborlanedental.example.com/images"


def add_post(root: Path, name: str, text: str, tags: list[str]) -> None:
    """A new post, listed last in campaign.toml (tags [] = in every variant)."""
    (root / CAMPAIGN / "posts" / name).write_text(text, encoding="utf-8")
    with (root / CAMPAIGN / "campaign.toml").open("a", encoding="utf-8") as toml:
        toml.write(f'\n[[posts]]\nfile = "{name}"\ntags = {tags!r}\n'.replace("'", '"'))


def override(root: Path, name: str, old: str, new: str) -> None:
    """templates/NAME: the built-in theme file with `old` replaced by `new`."""
    source = (THEME / name).read_text(encoding="utf-8")
    assert old in source, old
    (root / "templates" / name).write_text(source.replace(old, new, 1), encoding="utf-8")


def post(title: str, body: str, **front: str) -> str:
    matter = "".join(f"{key}: {value}\n" for key, value in front.items())
    return f'---\ntitle: "{title}"\ndate: 2026-11-25\n{matter}---\n\n{body}\n'


def make_context(factory: pytest.TempPathFactory, *seeds: Callable[[Path], None]) -> CheckContext:
    root = copy_demo(factory.mktemp("practice"))
    for seed in seeds:
        seed(root)
    return build_context(Workspace(root), "2026-12")


def only(findings: list[Finding], rule: str) -> list[Finding]:
    assert findings, f"expected {rule} findings"
    assert {f.rule for f in findings} == {rule}
    return findings


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> CheckContext:
    return make_context(tmp_path_factory)


# --- the unmodified demo ---------------------------------------------------------------


@pytest.mark.parametrize("check", [gmail_clip, style_block_size, image_url, link_url, css_support])
def test_the_demo_passes(demo: CheckContext, check):
    assert list(check(demo)) == []


def test_the_demo_images_all_fit(demo: CheckContext):
    """The Markdown image carries width="544"; the 800 px one is narrowed by the renderer."""
    assert list(image_width(demo)) == []


def test_image_width_warns_about_a_template_image_wider_than_the_email(tmp_path_factory):
    def seed(root: Path) -> None:
        override(
            root,
            "newsletter.mjml",
            "<p>This newsletter",
            f'<p><img src="{IMAGE}/banner.jpg" alt="" width="800"></p><p>This newsletter',
        )

    findings = only(list(image_width(make_context(tmp_path_factory, seed))), "image-width")
    assert {f.variant for f in findings} == ALL
    assert "800 px wide" in findings[0].message and 'width="544"' in findings[0].message


# --- gmail-clip -------------------------------------------------------------------------

LONG_BODY = "\n\n".join(
    f"Paragraph {n}: a long explanation of jaw exercises, posture, sleep and stress that "
    "goes on far longer than any newsletter should, sentence after sentence."
    for n in range(800)
)


def add_long_post(root: Path) -> None:
    add_post(
        root,
        "long-read.md",
        post("A Very Long Read", LONG_BODY, url="https://harborlanedental.example.com/long"),
        ["tmj"],
    )
    toml = root / CAMPAIGN / "campaign.toml"
    toml.write_text(toml.read_text().replace('format = "auto"', 'format = "full"'))


def test_gmail_clip_errors_on_an_oversized_variant(tmp_path_factory):
    ctx = make_context(tmp_path_factory, add_long_post)
    findings = only(list(gmail_clip(ctx)), "gmail-clip")
    assert {f.variant for f in findings} == {"tmj", "general"}  # the post is tagged tmj
    for finding in findings:
        assert finding.severity == ERROR
        assert "long-read.md “A Very Long Read”" in finding.where
        assert "long-read.md “A Very Long Read” (" in finding.message  # its size
        assert 'format = "excerpt"' in finding.message
        assert "campaigns/2026-12/campaign.toml" in finding.message
    view = next(v for v in ctx.variants if v.name == "tmj")
    assert len(view.html.encode("utf-8")) > GMAIL_CLIP_BYTES


def test_gmail_clip_passes_once_the_campaign_uses_excerpts(tmp_path_factory):
    def excerpts(root: Path) -> None:
        toml = root / CAMPAIGN / "campaign.toml"
        text = toml.read_text(encoding="utf-8").replace('format = "full"', 'format = "excerpt"')
        toml.write_text(text, encoding="utf-8")

    assert list(gmail_clip(make_context(tmp_path_factory, add_long_post, excerpts))) == []


# --- style-block-size -------------------------------------------------------------------


def test_style_block_size_warns_about_a_style_block_gmail_ignores(tmp_path_factory):
    # Few long rules: premailer's CSS parser is slow per rule, not per byte.
    selector = ", ".join(f".promotion-banner-{n} td" for n in range(40))
    rules = "\n".join(f"  {selector}, .x{n} {{ color: #1f2933 !important; }}" for n in range(24))
    big = f"<mj-style>\n@media only screen and (max-width: 480px) {{\n{rules}\n}}\n</mj-style>"

    def seed(root: Path) -> None:
        override(root, "newsletter.mjml", "  </mj-head>", big + "\n  </mj-head>")

    ctx = make_context(tmp_path_factory, seed)
    findings = only(list(style_block_size(ctx)), "style-block-size")
    assert {f.variant for f in findings} == ALL  # the theme is every variant's
    assert {f.severity for f in findings} == {WARNING}
    assert "16 KB" in findings[0].message
    assert "templates/newsletter.mjml" in findings[0].message
    assert findings[0].where.startswith("<style> block")


# --- image-url --------------------------------------------------------------------------


def test_image_url_warns_about_http_and_relative_images(tmp_path_factory):
    body = f"![The office](http://old.example.com/office.jpg)\n\nSee you soon.\n\n{IMAGE}"

    def seed(root: Path) -> None:
        # No `url:`, so the front-matter image stays relative.
        add_post(
            root,
            "new-office.md",
            post("Our New Office", body, image="office.jpg"),
            ["neck_shoulder"],
        )

    context = make_context(tmp_path_factory, seed)
    findings = only(list(image_url(context)), "image-url")
    assert {f.variant for f in findings} == {"neck_shoulder", "general"}
    assert {f.severity for f in findings} == {WARNING}
    [http] = [f for f in findings if f.variant == "neck_shoulder"]
    assert http.where.startswith("new-office.md “Our New Office”, <img src=")
    assert "http://old.example.com/office.jpg" in http.message
    assert "https://" in http.message and "new-office.md" in http.message
    # The relative lead image never reaches the email: the reader left it out, and says so.
    [relative] = [f for f in dropped_urls(context) if f.where == "post new-office.md"]
    assert (relative.rule, relative.severity) == ("relative-url", WARNING)
    assert "front matter image 'office.jpg' is relative" in relative.message


# --- image-width ------------------------------------------------------------------------


def test_image_width_warns_about_an_image_without_width(tmp_path_factory):
    body = f'<img src="{IMAGE}/smile.jpg" alt="A smile">\n\nA post with one picture.'

    def seed(root: Path) -> None:
        add_post(root, "smile.md", post("Smile", body), ["tmj"])

    ctx = make_context(tmp_path_factory, seed)
    findings = only(list(image_width(ctx)), "image-width")
    assert {f.variant for f in findings} == {"tmj", "general"}
    assert {f.severity for f in findings} == {WARNING}
    assert findings[0].where == f'smile.md “Smile”, <img src="{IMAGE}/smile.jpg">'
    assert 'width="544"' in findings[0].message


def test_image_width_warns_about_a_percentage_width(tmp_path_factory):
    def seed(root: Path) -> None:
        override(
            root,
            "newsletter.mjml",
            "<p>Hi {{ first_name }},</p>",
            f'<p>Hi {{{{ first_name }}}},</p><img src="{IMAGE}/banner.jpg" alt="" width="100%">',
        )

    findings = only(list(image_width(make_context(tmp_path_factory, seed))), "image-width")
    assert {f.variant for f in findings} == ALL
    assert 'width="100%"' in findings[0].message and "templates/newsletter.mjml" in (
        findings[0].message
    )


def test_a_post_image_in_percent_is_given_pixels_and_the_demo_has_no_percent_widths(
    tmp_path_factory,
):
    body = f'<img src="{IMAGE}/smile.jpg" alt="A smile" width="50%" height="300">\n\nText.'

    def seed(root: Path) -> None:
        add_post(root, "smile.md", post("Smile", body), ["tmj"])
        toml = root / CAMPAIGN / "campaign.toml"
        toml.write_text(toml.read_text().replace('format = "auto"', 'format = "full"'))

    ctx = make_context(tmp_path_factory, seed)
    assert list(image_width(ctx)) == []
    for view in ctx.variants:
        for img in view.doc.iter("img"):
            assert img.get("width", "").isdigit(), (view.name, img.get("src"), img.get("width"))
    smile = next(i for i in ctx.variants[0].doc.iter("img") if i.get("src").endswith("smile.jpg"))
    assert (smile.get("width"), smile.get("height")) == ("272", None)


# --- link-url ---------------------------------------------------------------------------


def test_link_url_warns_about_http_and_relative_links(tmp_path_factory):
    body = "Read [our old page](http://old.example.com/page) or [write to us](mailto:a@b.example)."
    footer = (
        '<p><a href="contact.html">Contact us</a> <a href="#top">Top</a> '
        '<a href="tel:+13605550142">Call</a></p>\n          <p>This newsletter'
    )

    def seed(root: Path) -> None:
        add_post(root, "old-page.md", post("Old Page", body), ["tmj"])
        override(root, "newsletter.mjml", "<p>This newsletter", footer)

    findings = only(list(link_url(make_context(tmp_path_factory, seed))), "link-url")
    assert {f.severity for f in findings} == {WARNING}
    http = [f for f in findings if "http://old.example.com/page" in f.message]
    assert {f.variant for f in http} == {"tmj", "general"}
    assert http[0].where.startswith("old-page.md “Old Page”, <a href=")
    assert "utm_" not in http[0].message  # the address as the author wrote it
    relative = [f for f in findings if "contact.html" in f.message]
    assert {f.variant for f in relative} == ALL
    assert "templates/newsletter.mjml" in relative[0].message
    assert len(findings) == len(http) + len(relative)  # #top, mailto: and tel: are fine


# --- css-support ------------------------------------------------------------------------


def test_css_support_warns_about_css_that_major_clients_ignore(tmp_path_factory):
    def seed(root: Path) -> None:
        override(
            root,
            "article.mjml",
            '<h2 id="{{ article.anchor }}">{{ article.title }}</h2>',
            '<div style="display:flex; gap:8px"><h2>{{ article.title }}</h2></div>',
        )
        override(
            root,
            "newsletter.mjml",
            "  </mj-head>",
            "<mj-style>@media only screen and (max-width: 480px) {\n"
            "  .badge { position: absolute; top: 0; }\n}</mj-style>\n"
            '<mj-style inline="inline">.footer { background-image: url(https://x.example/a.png); }'
            "</mj-style>\n  </mj-head>",
        )

    findings = only(list(css_support(make_context(tmp_path_factory, seed))), "css-support")
    assert {f.severity for f in findings} == {WARNING}
    by_declaration = {}
    for finding in findings:
        by_declaration.setdefault(finding.message.split("”")[0].lstrip("“"), []).append(finding)
    assert set(by_declaration) == {
        "display: flex",
        "position: absolute",
        "background-image: url(https://x.example/a.png)",
    }
    flex = {f.variant: f for f in by_declaration["display: flex"]}
    assert set(flex) == ALL
    # One finding per variant for the template's three copies (tmj carries three posts).
    assert flex["tmj"].where == (
        "jaw-and-neck-tension.txt “Where Muscle Tension Comes From”, <div style> and 2 more places"
    )
    assert "Outlook for Windows" in flex["tmj"].message
    assert "templates/article.mjml" in flex["tmj"].message
    position = by_declaration["position: absolute"][0]
    assert position.where == "<style> block 6, .badge {…}"
    assert "Gmail" in position.message and "templates/newsletter.mjml" in position.message
    background = by_declaration["background-image: url(https://x.example/a.png)"][0]
    assert background.where == '<td class="footer" style>'
    assert "background-color" in background.message


def test_css_support_accepts_a_background_image_with_a_colour_fallback(tmp_path_factory):
    def seed(root: Path) -> None:
        override(
            root,
            "newsletter.mjml",
            '<mj-section padding="28px 16px 12px" css-class="cs-gap">',
            '<mj-section padding="28px 16px 12px" background-url="https://x.example/bg.png" '
            'background-color="#0B5D6B">',
        )

    assert list(css_support(make_context(tmp_path_factory, seed))) == []


def test_checks_measure_a_long_name_without_reading_the_patient_list(
    tmp_workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Build and check cost the same for 1,000 patients or a million: no list is read."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the checks read the patient list")

    monkeypatch.setattr("chairside.audience.patients.load_audience", refuse)
    context = build_context(Workspace(tmp_workspace), "2026-12")
    assert len(LONGEST_FIRST_NAME) >= 40
    for view in context.variants:
        assert LONGEST_FIRST_NAME in view.html  # the size rules measure it
        assert LONGEST_FIRST_NAME in str(view.message["To"])
