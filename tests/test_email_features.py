"""Each version's HTML uses no email-client feature that MJML's own components do not use.

caniemail.com lists, per CSS property, at-rule, selector kind and HTML element/attribute,
which clients support it. MJML's components are built to work everywhere, so the same MJML
document without what the theme adds by hand — its <mj-style> CSS, <mj-raw> HTML and the
css-class hooks — and with MJML's own <mj-preview> is the reference: every feature a version
uses must be one the plain document uses too, or be on `ALLOWED` with the reason it is safe
where unsupported.
"""

from __future__ import annotations

import re

import pytest
from lxml import html as lxml_html
from markupsafe import escape
from mjml import mjml2html

from chairside.build import render_campaign
from chairside.render.env import make_env
from chairside.render.pipeline import context
from chairside.workspace import Workspace

ALLOWED = {
    # Dark mode: clients without prefers-color-scheme ignore the whole block and show the
    # light email, which is the design; Apple Mail and Outlook for Mac apply it.
    "@media(prefers-color-scheme)": "dark-mode styles, ignored where unsupported",
    "html:meta[name=color-scheme]": "tells Apple Mail the email has its own dark styles",
    "html:meta[name=supported-color-schemes]": "the same, for older Apple Mail",
    # The phone layout: caniemail's @media width queries have one entry; MJML always writes
    # (min-width) and writes (max-width) only with an image, so a version without a picture
    # would otherwise differ from plain MJML by the query MJML itself uses elsewhere.
    "@media(max-width)": "the phone layout, supported wherever MJML's (min-width) is",
    # The preheader: Outlook for Windows ignores max-height, and needs its own property.
    "css:mso-hide": "hides the preheader in Outlook for Windows; others ignore mso-*",
    # Pictures in one shape (2:1) where supported; elsewhere each keeps its own shape.
    "css:aspect-ratio": "pictures of one shape where supported, their own shape elsewhere",
    "css:object-fit": "crops a picture to that shape instead of squeezing it",
    # The phone's narrower card margins and the dark cards pick the section's own cell
    # (`.cs-gap > table > tbody > tr > td`); where unsupported, desktop margins and light
    # cards remain, both readable.
    "selector:child": "narrower margins on phones and dark cards, ignored where unsupported",
}
_THEME_ADDS = re.compile(r"<mj-(style|raw)\b.*?</mj-\1>|\scss-class=\"[^\"]*\"", re.DOTALL)
# caniemail has one entry for padding, margin and border whatever the side or part.
_FAMILY = re.compile(r"^(padding|margin|border)(-(top|right|bottom|left))?(-(width|style|color))?$")
_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_PROPERTY = re.compile(r"([-a-z]+)\s*:(?!:)", re.IGNORECASE)


def _css_features(css: str, found: set[str]) -> None:
    """Properties, value functions, `!important`, at-rules with their media features, and
    the kinds of selector a style block or attribute uses."""
    css = _COMMENT.sub("", css)
    for media in re.findall(r"@media([^{]*)\{", css):
        found.add("@media")
        found |= {f"@media({f.lower()})" for f in re.findall(r"\(\s*([-a-z]+)\s*:", media)}
    for other in re.findall(r"@([-a-z]+)", css):
        found.add(f"@{other}")
    for selector, body in re.findall(r"([^{}@]*)\{([^{}]*)\}", css):
        _selector_features(selector, found)
        _declaration_features(body, found)
    if "{" not in css:
        _declaration_features(css, found)


def _declaration_features(body: str, found: set[str]) -> None:
    for declaration in body.split(";"):
        name, colon, value = declaration.partition(":")
        if not colon:
            continue
        name = name.strip().lower()
        family = _FAMILY.sub(r"\1", name)
        found.add(f"css:{family}")
        found |= {f"css:{fn.lower()}()" for fn in re.findall(r"([-a-z]+)\(", value)}
        if "!important" in value.replace(" ", ""):
            found.add("css:!important")


def _selector_features(selector: str, found: set[str]) -> None:
    for part in selector.split(","):
        part = part.strip()
        if not part:
            continue
        found |= {
            kind
            for kind, pattern in (
                ("selector:class", r"\.[-\w]"),
                ("selector:id", r"#[-\w]"),
                ("selector:attribute", r"\["),
                ("selector:pseudo", r":"),
                ("selector:child", r">"),
                ("selector:sibling", r"[+~]"),
                ("selector:universal", r"\*"),
                ("selector:descendant", r"[\w\]\)]\s+[\w.#\[:*]"),
                ("selector:type", r"(^|[\s>+~])[a-z]"),
            )
            if re.search(pattern, part)
        }


def features(html: str) -> set[str]:
    """What caniemail has an entry for, used anywhere in `html` (conditional comments for
    Outlook are MJML's own and not counted: they are comments to every other client)."""
    doc = lxml_html.document_fromstring(html)
    found: set[str] = set()
    for element in doc.iter():
        if not isinstance(element.tag, str):
            continue
        found.add(f"html:<{element.tag}>")
        found |= {f"html:@{name}" for name in element.attrib if name != "style"}
        if element.tag == "meta" and element.get("name"):
            found.add(f"html:meta[name={element.get('name')}]")
        if element.tag == "style":
            _css_features(element.text or "", found)
        elif element.get("style"):
            _css_features(element.get("style"), found)
    return found


def reference(source: str, preheader: str) -> str:
    """`source` as MJML's own components make it: no theme CSS, raw HTML or class hooks."""
    plain = _THEME_ADDS.sub("", source)
    return plain.replace("</mj-head>", f"<mj-preview>{escape(preheader)}</mj-preview></mj-head>")


@pytest.fixture(scope="module")
def versions(tmp_path_factory) -> list[tuple[str, str, str]]:
    """(segment, the version's final HTML, its plain MJML reference compiled by MJML)."""
    from tests.support import copy_demo

    workspace = Workspace(copy_demo(tmp_path_factory.mktemp("features") / "practice"))
    practice, campaign, rendered = render_campaign(workspace, "2026-12")
    env = make_env(workspace.templates_dir)
    found = []
    for variant, result in zip(campaign.variants, rendered, strict=True):
        source = env.get_template("newsletter.mjml").render(context(practice, campaign, variant))
        plain = mjml2html(reference(source, result.preheader))
        found.append((result.segment, result.html, plain))
    return found


def test_each_version_adds_no_email_feature_beyond_plain_mjml(versions):
    for segment, html, plain in versions:
        extra = features(html) - features(plain)
        assert extra <= set(ALLOWED), (segment, sorted(extra - set(ALLOWED)))


def test_the_reference_drops_only_what_the_theme_adds():
    source = (
        '<mjml><mj-head><mj-style inline="inline">p { color: red; }</mj-style></mj-head>'
        '<mj-body><mj-raw><div style="mso-hide:all">x</div></mj-raw><mj-section '
        'background-color="#fff" css-class="cs-card"><mj-column><mj-text>Hi</mj-text>'
        "</mj-column></mj-section></mj-body></mjml>"
    )
    assert reference(source, "Soon") == (
        "<mjml><mj-head><mj-preview>Soon</mj-preview></mj-head><mj-body><mj-section "
        'background-color="#fff"><mj-column><mj-text>Hi</mj-text></mj-column></mj-section>'
        "</mj-body></mjml>"
    )


def test_the_extractor_sees_what_the_theme_adds():
    # A feature check that found nothing could pass anything: it must see these.
    html = (
        '<html><head><meta name="color-scheme" content="light dark"><style>'
        "@media (prefers-color-scheme: dark) { .a > b:hover { color: red !important; } }"
        '</style></head><body><div style="display:flex; background: rgba(0,0,0,.5)">x</div>'
        "</body></html>"
    )
    found = features(html)
    assert {
        "@media(prefers-color-scheme)",
        "html:meta[name=color-scheme]",
        "selector:child",
        "selector:pseudo",
        "css:!important",
        "css:display",
        "css:rgba()",
    } <= found
    assert "css:padding" in features('<p style="padding-left: 2px">x</p>')


def test_the_demo_versions_keep_outlook_conditionals(versions):
    for segment, html, _ in versions:
        assert "<!--[if mso | IE]>" in html, segment
        assert 'xmlns:o="urn:schemas-microsoft-com:office:office"' in html, segment
