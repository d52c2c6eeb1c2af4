"""Render one variant, once: Jinja → MJML → HTML → premailer, and the text part.

Recipient fields are left as placeholders (see `chairside.placeholders`), so the expensive
steps run once per variant however many patients receive it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from jinja2 import TemplateError, TemplateSyntaxError
from markupsafe import Markup
from mjml import mjml2html

from chairside import placeholders
from chairside.campaign import Campaign, Variant
from chairside.content import Article
from chairside.errors import RenderError
from chairside.render.colors import readable_on_white, text_on
from chairside.render.env import long_date, make_env, template_origin
from chairside.render.links import prepare_body, with_utm
from chairside.render.text import html_to_text
from chairside.workspace import Practice

DOCTYPE = "<!doctype html>\n"
HTML_TEMPLATE = "newsletter.mjml"
TEXT_TEMPLATE = "newsletter.txt"
_IMG_WITHOUT_ALT = re.compile(r"<img\b(?![^>]*\balt=)", re.IGNORECASE)
_MJML_RESET = re.compile(r"(<style[^>]*)>(?=\s*#outlook a)")
_LEFTOVER_MJ = re.compile(r"</?mj-[a-z-]+", re.IGNORECASE)


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


def byline(article: Article) -> str:
    parts = [f"By {article.author}"] if article.author else []
    if article.date:
        parts.append(long_date(article.date))
    return " · ".join(parts)


def _article_view(article: Article, campaign: str) -> ArticleView:
    body = prepare_body(article.body_html, campaign)
    return ArticleView(
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


def context(practice: Practice, campaign: Campaign, variant: Variant) -> dict:
    """Everything a theme template may use; documented in templates/README.md."""
    brand = practice.brand_color
    return {
        "practice": practice,
        "campaign": {"name": campaign.name, "format": campaign.format},
        "subject": variant.subject,
        "preheader": variant.preheader,
        "intro": variant.intro,
        "articles": [_article_view(a, campaign.name) for a in variant.articles],
        "excerpts": campaign.format == "excerpt",
        "first_name": placeholders.FIRST_NAME,
        "unsubscribe_url": placeholders.UNSUBSCRIBE_URL,
        "booking_url": with_utm(practice.booking_url, campaign.name)
        if practice.booking_url
        else "",
        "website_url": with_utm(practice.website, campaign.name) if practice.website else "",
        "colors": {
            "brand": brand,
            "on_brand": practice.brand_text_color or text_on(brand),
            "accent": readable_on_white(brand),
            "text": "#1f2933",
            "muted": "#4b5563",
            "background": "#f3f4f6",
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
    html = _IMG_WITHOUT_ALT.sub('<img alt=""', _inline_css(html))
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
