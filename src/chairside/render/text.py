"""HTML fragments to the plain text a patient reads in the text part of an email.

HTML-to-text libraries emit Markdown (`### Heading`, `[text](url)` split across lines), which
reads badly in a mail client. Email text wants headings underlined, links written out after
their text as `<url>` (RFC 3986 appendix C: the brackets keep a full stop or bracket after a
link out of it), bullets, tables as aligned columns, and lines wrapped without breaking a
URL; that is this small walker. Line ends inside a paragraph (a Markdown file's hard-wrapped
lines) are spaces; only `<br>` breaks a line.
"""

from __future__ import annotations

import re
import textwrap

from lxml import html as lxml_html

WIDTH = 76
_BLOCKS = {
    "p",
    "div",
    "section",
    "article",
    "figure",
    "figcaption",
    "blockquote",
    "table",
    "ul",
    "ol",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "pre",
}
_SPACE = re.compile(r"\s+")


def _flat(text: str | None) -> str:
    """Text as HTML shows it: a line end in the source is only a space."""
    return (text or "").replace("\n", " ")


def _inline(element) -> str:
    """The text of an element's inline content, links written as "text <url>"."""
    if element.tag == "a":
        return _link(element)
    if element.tag == "img":
        return picture(element.get("src") or "", element.get("alt") or "")
    parts: list[str] = [_flat(element.text)]
    for child in element:
        if not isinstance(child.tag, str):  # comments, processing instructions
            parts.append(_flat(child.tail))
            continue
        if child.tag == "br":
            parts.append("\n")
        elif child.tag == "img":
            parts.append(picture(child.get("src") or "", child.get("alt") or ""))
        else:
            parts.append(_inline(child))
        parts.append(_flat(child.tail))
    return "".join(parts)


def picture(src: str, alt: str) -> str:
    """A picture in the text part: what it shows, and its address to open it. Spam filters
    count the addresses of both parts together (rspamd URI_COUNT_ODD scores an odd total),
    so each picture the HTML loads is in the text once too."""
    alt = " ".join(alt.split())
    label = f"[Picture: {alt}]" if alt else "[Picture]"
    return f"{label} <{src}>" if src.startswith(("https://", "http://")) else (alt and label)


def _link(anchor) -> str:
    label = " ".join(_inline_children(anchor).split())
    href = (anchor.get("href") or "").strip()
    if href.startswith("mailto:"):
        address = href.removeprefix("mailto:").split("?")[0]
        return address if label in ("", address) else f"{label} <{address}>"
    if not href or href.startswith(("#", "tel:")):
        return label or href.removeprefix("tel:")
    if not label or label.rstrip("/") == href.rstrip("/"):
        return f"<{href}>"
    return f"{label} <{href}>"


def _inline_children(anchor) -> str:
    parts = [_flat(anchor.text)]
    for child in anchor:
        if isinstance(child.tag, str) and child.tag != "img":
            parts.append(_inline(child))
        elif isinstance(child.tag, str) and (child.get("alt") or child.get("src")):
            parts.append(picture(child.get("src") or "", child.get("alt") or ""))
        parts.append(_flat(child.tail))
    return "".join(parts)


def _wrap(text: str, first: str = "", rest: str = "") -> str:
    lines = []
    for piece in text.split("\n"):
        piece = _SPACE.sub(" ", piece).strip()
        if not piece:
            continue
        lines.append(
            textwrap.fill(
                piece,
                WIDTH,
                initial_indent=first,
                subsequent_indent=rest,
                break_long_words=False,
                break_on_hyphens=False,
            )
        )
        first = rest
    return "\n".join(lines)


def _blocks(element, out: list[str], quote: str = "") -> None:
    """Append the blocks of `element`; loose inline content between blocks is a paragraph."""
    loose: list[str] = [_flat(element.text)]

    def flush() -> None:
        text = _wrap("".join(loose), quote, quote)
        if text:
            out.append(text)
        loose.clear()

    for child in element:
        if not isinstance(child.tag, str) or child.tag not in _BLOCKS:
            if isinstance(child.tag, str):
                loose.append("\n" if child.tag == "br" else _inline(child))
            loose.append(_flat(child.tail))
            continue
        flush()
        _block(child, out, quote)
        loose.append(_flat(child.tail))
    flush()


def _block(child, out: list[str], quote: str) -> None:
    tag = child.tag
    if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
        title = _SPACE.sub(" ", _inline(child)).strip()
        if title:
            underline = "=" if tag in ("h1", "h2") else "-"
            out.append(f"{quote}{title}\n{quote}{underline * min(len(title), WIDTH)}")
    elif tag in ("ul", "ol"):
        items = [li for li in child if isinstance(li.tag, str) and li.tag == "li"]
        lines = []
        for number, item in enumerate(items, 1):
            mark = f"{number}. " if tag == "ol" else "• "
            hang = " " * (len(mark) + 2)
            lines.append(_wrap(_inline(item), f"{quote}  {mark}", f"{quote}{hang}"))
        if any(lines):
            out.append("\n".join(line for line in lines if line))
    elif tag == "blockquote":
        _blocks(child, out, quote + "> ")
    elif tag == "hr":
        out.append(quote + "-" * 20)
    elif tag == "pre":
        out.append(child.text_content().strip("\n"))
    elif tag == "table":
        out.append(_table(child, quote))
    else:
        _blocks(child, out, quote)


def _table(table, quote: str) -> str:
    """A table as aligned columns when they fit the line, else one "Header: value" block per
    row (a phone's mail app wraps wide columns into nonsense)."""
    rows = [
        [" ".join(_inline(cell).split()) for cell in row if cell.tag in ("td", "th")]
        for row in table.iter("tr")
    ]
    rows = [row for row in rows if any(row)]
    if not rows:
        return ""
    columns = max(len(row) for row in rows)
    rows = [row + [""] * (columns - len(row)) for row in rows]
    widths = [max(len(row[n]) for row in rows) for n in range(columns)]
    headed = any(cell.tag == "th" for cell in next(table.iter("tr")))
    if len(quote) + sum(widths) + 3 * (columns - 1) <= WIDTH:
        lines = [
            quote + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            for row in rows
        ]
        if headed:
            lines.insert(1, quote + "-+-".join("-" * w for w in widths))
        return "\n".join(lines)
    header, body = (rows[0], rows[1:]) if headed else ([""] * columns, rows)
    blocks = []
    for row in body:
        pairs = [f"{h}: {c}" if h else c for h, c in zip(header, row, strict=True) if c]
        blocks.append("\n".join(_wrap(pair, quote, quote + "  ") for pair in pairs))
    return "\n\n".join(blocks)


def html_to_text(fragment: str) -> str:
    """Readable plain text for an HTML fragment: one blank line between blocks."""
    if not fragment.strip():
        return ""
    root = lxml_html.fragment_fromstring(fragment, create_parent="div")
    out: list[str] = []
    _blocks(root, out)
    return "\n\n".join(block for block in out if block.strip())
