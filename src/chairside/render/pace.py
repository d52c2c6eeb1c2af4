"""Two passes on the way from a post and MJML to an email: the lead post cut at a paragraph
boundary (`format = "auto"`), and MJML's `font-size:0px` taken off single-column sections.
"""

from __future__ import annotations

import re

from lxml import html as lxml_html

_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_BLOCKS = frozenset({"p", "li", "figure", "table", "tr", "blockquote", "pre", *_HEADINGS})
BLOCK_WORDS = 12
"""A paragraph, list item or heading costs this many words more than its words on a phone:
its margins and its last half-filled line (a schedule of ten short lines reads as long as
a paragraph of a hundred words)."""


CELL_WORDS = 6
"""A table cell costs this much more: on a phone its column is a few words wide."""


def reading_cost(element: lxml_html.HtmlElement) -> int:
    """About how much room `element` takes on a phone, in words (`BLOCK_WORDS`)."""
    tags = [e.tag for e in element.iter() if isinstance(e.tag, str)]
    blocks = sum(1 for tag in tags if tag in _BLOCKS)
    cells = sum(1 for tag in tags if tag in ("td", "th"))
    return len(element.text_content().split()) + BLOCK_WORDS * blocks + CELL_WORDS * cells


def fragment_cost(fragment: str) -> int:
    root = lxml_html.fragment_fromstring(fragment, create_parent="div")
    return len((root.text or "").split()) + sum(reading_cost(child) for child in root)


# Where MJML opens a section's cell, and a column inside it.
_SECTION_CELL = re.compile(r'<td style="direction:ltr;font-size:0px;')
_COLUMN = re.compile(r'class="[^"]*\bmj-column-(?:per|px)-')
_ZERO_FONT = re.compile(r"(?<=[\";])font-size:0px;?")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


def cut_at_paragraph(fragment: str, words: int) -> str:
    """The opening blocks of `fragment` (paragraphs, lists, figures…) up to a reading cost
    of `words` (`reading_cost`): whole blocks only, at least the first, never ending on a
    heading."""
    root = lxml_html.fragment_fromstring(fragment, create_parent="div")
    kept, count = [], len((root.text or "").split())
    for child in root:
        size = reading_cost(child)
        if kept and count + size > words:
            break
        kept.append(child)
        count += size
    # Never end on a heading, or on the words that lead into a list left out ("…with:").
    while len(kept) > 1 and (
        kept[-1].tag in _HEADINGS
        or (
            kept[-1].tag == "p"
            and kept[-1].getnext() is not None
            and kept[-1].getnext().tag in ("ul", "ol")
        )
        or kept[-1].text_content().rstrip().endswith(":")
    ):
        kept.pop()
    head = root.text or ""
    return head + "".join(
        lxml_html.tostring(child, encoding="unicode", with_tail=True) for child in kept
    )


def drop_zero_font(html: str) -> str:
    """MJML's HTML with `font-size:0px` removed from every section of one column.

    MJML zeroes the font of section cells, columns and element cells so the white space
    between side-by-side columns takes no room. A section of one column has no such space,
    and spam filters count each text block in zero-size font as hidden text (rspamd
    ZERO_FONT, MANY_INVISIBLE_PARTS). Sections of several columns keep it; the Outlook-only
    tables inside conditional comments are left as they are.
    """
    starts = [m.start() for m in _SECTION_CELL.finditer(html)]
    if not starts:
        return html
    pieces = [html[: starts[0]]]
    for start, end in zip(starts, [*starts[1:], len(html)], strict=True):
        piece = html[start:end]
        if len(_COLUMN.findall(_COMMENT.sub("", piece))) <= 1:
            piece = _COMMENT.sub(lambda m: m.group(0).replace("font-size:0px", "\0"), piece)
            piece = _ZERO_FONT.sub("", piece).replace("\0", "font-size:0px")
        pieces.append(piece)
    return "".join(pieces)
