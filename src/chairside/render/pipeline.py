"""Render one variant, once: Jinja → MJML → HTML → premailer, and the text part.

Recipient fields are left as placeholders (see `chairside.placeholders`), so the expensive
steps run once per variant however many patients receive it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from jinja2 import TemplateError, TemplateSyntaxError
from markupsafe import Markup
from mjml import mjml2html

from chairside import placeholders
from chairside.campaign import Campaign, Variant
from chairside.content import Article
from chairside.errors import RenderError
from chairside.render.colors import readable_on, readable_on_white, text_on
from chairside.render.env import long_date, make_env, template_origin
from chairside.render.links import prepare_body, with_utm
from chairside.render.looks import LOOKS, page_tone
from chairside.render.pace import cut_at_paragraph, drop_zero_font, fragment_cost
from chairside.render.text import html_to_text
from chairside.workspace import Practice

DOCTYPE = "<!doctype html>\n"
HTML_TEMPLATE = "newsletter.mjml"
TEXT_TEMPLATE = "newsletter.txt"
_IMG_WITHOUT_ALT = re.compile(r"<img\b(?![^>]*\balt=)", re.IGNORECASE)
_MJML_RESET = re.compile(r"(<style[^>]*)>(?=\s*#outlook a)")
_LEFTOVER_MJ = re.compile(r"</?mj-[a-z-]+", re.IGNORECASE)
_NOT_DIALLED = re.compile(r"[^\d+]")
_EXTENSION = re.compile(r"[A-Za-z#;,]")
LEAD_WORDS = 300
"""`format = "auto"`: a lead post longer than about this many words (counting each
paragraph's room, `pace.reading_cost`) is cut at a paragraph boundary, with "Continue
reading" to the whole post (a phone screen holds about 60 words)."""
LEAD_CUT_WORDS = 240
"""…and cut to about this many, so a version of five or six posts still fits on about
fifteen phone screens (the rest is one tap away)."""
SHORT_POST_WORDS = 120
"""`format = "auto"`: after the lead, a post this short (a tip, a notice) is shown whole;
a longer one becomes a summary card with "Read the article"."""
DEFAULT_CALL = "Is it time for your next visit? We would be glad to see you."
"""The line above "Book a visit" after the lead post when the campaign sets none."""
_ISSUE_MONTH = re.compile(r"^(\d{4})-(\d{2})(?:\b|$)")
# Invisible characters after the preheader (combining grapheme joiner, zero-width
# non-joiner, no-break space): inbox previews show ~100-200 characters, and without this
# they run on into the email, whose first lines can say which concern a version is for.
# The theme puts a plain space before it: a preheader ending in a web address must not
# read as an address with zero-width characters in it (rspamd ZERO_WIDTH_SPACE_URL).
PREHEADER_FILLER = Markup("&#847;&zwnj;&nbsp;" * 90)
PREHEADER_FILLER_TEXT = "\u034f\u200c\u00a0" * 90
"""The same filler for the text part, whose opening lines are an inbox preview too."""
# The theme's dark-mode colours (`@media (prefers-color-scheme: dark)`); the brand colours
# stay as they are, links are the brand colour lightened until they read on the card.
DARK = {"text": "#e6e8eb", "muted": "#b8bfc7"}


@dataclass(frozen=True)
class Rendered:
    """A variant ready for per-recipient filling."""

    variant_id: str
    segment: str
    subject: str
    preheader: str
    html: str
    text: str
    article_titles: tuple[str, ...]


@dataclass(frozen=True)
class ArticleView:
    """An article as the templates see it: links tagged, body marked safe (it is sanitised)."""

    title: str
    url: str | None
    date: date | None
    author: str | None
    byline: str
    """`By Dr. Ana Ruiz · December 3, 2026`, or "" when the post names neither."""
    summary: str
    body: Markup
    text: str
    image_src: str | None
    image_alt: str
    anchor: str = ""
    """The id of its title, which "In this issue" links to (`cs-post-1`, …)."""
    full: bool = True
    """Show the body; False shows the summary and a "Read the article" link."""
    cut: bool = False
    """The body is the lead post's opening paragraphs; "Continue reading" goes to the rest."""


def byline(article: Article) -> str:
    parts = [f"By {article.author}"] if article.author else []
    if article.date:
        parts.append(long_date(article.date))
    return " · ".join(parts)


def _article_view(article: Article, campaign: str, index: int) -> ArticleView:
    body = prepare_body(article.body_html, campaign)
    return ArticleView(
        anchor=f"cs-post-{index + 1}",
        title=article.title,
        url=with_utm(article.url, campaign) if article.url else None,
        date=article.date,
        author=article.author,
        byline=byline(article),
        summary=article.summary,
        body=Markup(body),
        text=html_to_text(body),
        image_src=article.image.src if article.image else None,
        image_alt=article.image.alt if article.image else "",
    )


def article_views(articles: tuple[Article, ...], campaign: str, fmt: str) -> list[ArticleView]:
    """The articles as the templates see them, each marked full, cut or summary by `fmt`.

    `full` shows every body, `excerpt` every summary. `auto` paces a phone's reading: the
    lead post in full up to `LEAD_WORDS` (a longer one is cut at a paragraph boundary, with
    "Continue reading" to the rest), then short posts whole and the others as summary
    cards. A post without a web address has nowhere to read on, so it is always whole.
    """
    views = []
    for index, article in enumerate(articles):
        view = _article_view(article, campaign, index)
        cost = fragment_cost(str(view.body))
        if not view.url or fmt == "full":
            views.append(view)
        elif fmt == "excerpt":
            views.append(replace(view, full=False))
        elif index == 0 and cost > LEAD_WORDS:
            body = cut_at_paragraph(str(view.body), LEAD_CUT_WORDS)
            views.append(replace(view, body=Markup(body), text=html_to_text(body), cut=True))
        else:
            views.append(replace(view, full=index == 0 or cost <= SHORT_POST_WORDS))
    return views


def issue_line(practice: Practice, campaign: Campaign) -> str:
    """The header's issue line, "December 2026 · Harbor Lane Dental": the month of a
    campaign named like 2026-12, else of its newest dated post; the practice's name alone
    when neither says."""
    found = _ISSUE_MONTH.match(campaign.name)
    dates = [article.date for article in campaign.articles if article.date]
    if found and 1 <= int(found.group(2)) <= 12:
        month = date(int(found.group(1)), int(found.group(2)), 1)
    elif dates:
        month = max(dates)
    else:
        return practice.name
    return f"{month:%B} {month.year} · {practice.name}"


def phone_url(phone: str) -> str:
    """A `tel:` link for a phone number as the practice writes it: "(360) 555-0142" →
    `tel:3605550142`, "+44 20 7946 0958" → `tel:+442079460958`. An extension ("ext. 12",
    "x12") is left out: it is dialled after the call connects. "" when no phone number can
    be read from it (fewer than 7 digits, as in a "1-800-DENTIST" number): no link then."""
    number = _NOT_DIALLED.sub("", _EXTENSION.split(phone, 1)[0])
    return f"tel:{number}" if len(number.lstrip("+")) >= 7 else ""


def context(practice: Practice, campaign: Campaign, variant: Variant) -> dict:
    """Everything a theme template may use; documented in templates/README.md."""
    brand = practice.brand_color
    accent = readable_on_white(brand)
    look = LOOKS[practice.theme]
    dark_accent = readable_on(accent, look.dark_card)
    page = page_tone(look, brand)
    return {
        "look": look,
        "issue_line": issue_line(practice, campaign),
        "call_to_action": variant.call_to_action or DEFAULT_CALL,
        "practice": practice,
        "campaign": {"name": campaign.name, "format": campaign.format},
        "subject": variant.subject,
        "preheader": variant.preheader,
        "intro": variant.intro,
        "articles": article_views(variant.articles, campaign.name, campaign.format),
        "excerpts": campaign.format == "excerpt",
        "preheader_filler": PREHEADER_FILLER,
        "preheader_filler_text": PREHEADER_FILLER_TEXT,
        "phone_url": phone_url(practice.phone),
        "first_name": placeholders.FIRST_NAME,
        "unsubscribe_url": placeholders.UNSUBSCRIBE_URL,
        "booking_url": with_utm(practice.booking_url, campaign.name)
        if practice.booking_url
        else "",
        "website_url": with_utm(practice.website, campaign.name) if practice.website else "",
        "colors": {
            "brand": brand,
            "on_brand": practice.brand_text_color or text_on(brand),
            "accent": accent,
            "heading": accent if look.brand_headings else "#1f2933",
            "text": "#1f2933",
            "muted": "#4b5563",
            "footer": "#374151",
            "page": page,
            "background": page,  # the name templates written before the looks use
            "card": look.card,
            "rule": "#d1d5db",
        },
        "dark": DARK
        | {
            "page": look.dark_page,
            "background": look.dark_page,
            "card": look.dark_card,
            "accent": dark_accent,
        },
    }


def _jinja(env, name: str, values: dict, templates_dir: Path | None) -> str:
    try:
        return env.get_template(name).render(values)
    except TemplateSyntaxError as exc:
        origin = template_origin(exc.name or name, templates_dir)
        raise RenderError(
            f"{origin}, line {exc.lineno}: template error: {exc.message}. "
            "Fix the template, or delete it to use the built-in one."
        ) from None
    except UnicodeDecodeError:
        raise RenderError(
            f"{template_origin(name, templates_dir)} (or a template it includes) is not saved "
            "as UTF-8. Open it in your editor and save it as UTF-8."
        ) from None
    except TemplateError as exc:
        raise RenderError(
            f"{template_origin(name, templates_dir)}: template error: {exc}. "
            "Fix the template, or delete it to use the built-in one."
        ) from None


def _mjml_origin(templates_dir: Path | None) -> str:
    """The files an MJML error can come from: the practice's own .mjml templates first."""
    mine = sorted(templates_dir.glob("*.mjml")) if templates_dir and templates_dir.is_dir() else []
    if not mine:
        return template_origin(HTML_TEMPLATE, templates_dir)
    return " or ".join(f"templates/{path.name}" for path in mine)


def _inline_css(html: str) -> str:
    # MJML's own reset block (#outlook a, body, table/td, img, p) belongs in <style>, as the
    # MJML compiler leaves it; inlining it onto every table and cell would add ~10% to each
    # message for nothing. Only the theme's CSS (mj-style) is inlined.
    from premailer import Premailer  # ~60 ms with requests and cssutils: only when rendering

    html = _MJML_RESET.sub(r'\1 data-premailer="ignore">', html, count=1)
    inlined = Premailer(
        html,
        allow_network=False,
        cssutils_logging_level=logging.CRITICAL,
        remove_classes=False,
        # premailer would copy inlined CSS into HTML attributes: MJML's `width:100%` on an
        # image would become width="100%", which Outlook for Windows sizes from the file.
        # MJML writes the attributes it needs itself.
        disable_basic_attributes=["width", "height", "align", "valign", "bgcolor"],
        strip_important=False,
        disable_validation=True,
    ).transform()
    # premailer serialises through lxml, which drops the doctype; without it clients fall
    # back to quirks mode and the layout MJML tested for is lost.
    inlined = inlined.replace(' data-premailer="ignore"', "")
    return inlined if inlined.lstrip().lower().startswith("<!doctype") else DOCTYPE + inlined


def render_variant(
    practice: Practice, campaign: Campaign, variant: Variant, *, templates_dir: Path | None
) -> Rendered:
    """The HTML and text of one variant, with per-recipient placeholders left in."""
    env = make_env(templates_dir)
    values = context(practice, campaign, variant)
    mjml_source = _jinja(env, HTML_TEMPLATE, values, templates_dir)
    try:
        html = mjml2html(mjml_source, disable_comments=True, fonts={})
    except ValueError as exc:
        raise RenderError(
            f"{_mjml_origin(templates_dir)}: the MJML is not valid: {exc}. "
            "Check the mj- tags, or delete your template to use the built-in one."
        ) from None
    if leftover := _LEFTOVER_MJ.search(html):
        raise RenderError(
            f"{_mjml_origin(templates_dir)}: MJML does not know the tag "
            f"<{leftover.group(0).lstrip('</')}>. Check its spelling against the MJML docs."
        )
    html = _IMG_WITHOUT_ALT.sub('<img alt=""', _inline_css(drop_zero_font(html)))
    text = _jinja(env, TEXT_TEMPLATE, values, templates_dir)
    return Rendered(
        variant_id=variant.id,
        segment=variant.segment.id,
        subject=variant.subject,
        preheader=variant.preheader,
        html=html,
        text=text,
        article_titles=tuple(a.title for a in variant.articles),
    )
