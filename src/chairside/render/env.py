"""The Jinja environment: sandboxed, autoescaping, practice overrides before the theme."""

from __future__ import annotations

import textwrap
from datetime import date
from pathlib import Path

from jinja2 import ChoiceLoader, FileSystemLoader, PackageLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from chairside.render.text import WIDTH, picture

THEME_PACKAGE = ("chairside", "theme")


def paragraphs(text: str) -> Markup:
    """Plain text from a settings file as HTML paragraphs (blank lines separate them)."""
    blocks = [" ".join(block.split()) for block in text.split("\n\n")]
    return Markup("").join(Markup("<p>{}</p>").format(b) for b in blocks if b)


def text_paragraphs(text: str) -> str:
    """The same paragraphs for the text part, wrapped like the rest of it."""
    return "\n\n".join(
        textwrap.fill(
            " ".join(block.split()), WIDTH, break_long_words=False, break_on_hyphens=False
        )
        for block in text.split("\n\n")
        if block.strip()
    )


def long_date(value: date) -> str:
    """December 3, 2026 (no platform-specific strftime flags)."""
    return f"{value:%B} {value.day}, {value.year}"


def button_width(label: str) -> int:
    """The width in px Outlook's VML draws a button with `label` (17 px bold) at: VML
    cannot size itself to its text."""
    return 10 * len(label) + 52


def make_env(templates_dir: Path | None) -> SandboxedEnvironment:
    """A sandbox in which a practice's `templates/X` replaces the built-in theme's `X`.

    Templates are the practice's to edit, but posts and patient fields are data: they are
    only ever passed in as values, escaped by autoescape, never compiled as template source.
    """
    loaders = []
    if templates_dir is not None and templates_dir.is_dir():
        loaders.append(FileSystemLoader(templates_dir))
    loaders.append(PackageLoader(*THEME_PACKAGE))
    env = SandboxedEnvironment(
        loader=ChoiceLoader(loaders),
        # .txt templates make the text part and must not HTML-escape; all else is markup.
        autoescape=lambda name: not (name or "").endswith(".txt"),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["paragraphs"] = paragraphs
    env.filters["text_paragraphs"] = text_paragraphs
    env.filters["long_date"] = long_date
    env.filters["button_width"] = button_width
    env.globals["picture"] = picture
    return env


def template_origin(name: str, templates_dir: Path | None) -> str:
    """Where the template `name` comes from, as the user should be told."""
    if templates_dir is not None and (templates_dir / name).is_file():
        return f"templates/{name}"
    return f"built-in theme file {name}"
