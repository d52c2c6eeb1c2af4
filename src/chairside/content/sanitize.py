"""What every reader shares: reading files, cleaning post HTML, excerpts, plain text.

`clean_html` is the one gate between a post and the newsletter: whatever a reader builds,
its body goes through here, so the `Article.body_html` contract (no scripts, no event
handlers, absolute URLs, headings from `<h3>`, an `alt` on every image) holds in one place.
It is idempotent: cleaning cleaned HTML gives the same HTML, which lets `to_html_document`
files be read back unchanged.
"""

from __future__ import annotations

import re
from html import escape
from pathlib import Path
from urllib.parse import urlsplit

import lxml.etree
import lxml.html
import nh3

from chairside.content.article import DroppedUrl, Image
from chairside.errors import ContentError
from chairside.urls import LINK_SCHEMES, WEB_SCHEMES, safe_url, web_url

ALLOWED_TAGS = frozenset(
    {"p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "blockquote"}
    | {"strong", "b", "em", "i", "u", "sup", "sub", "code", "pre", "a", "img"}
    | {"figure", "figcaption", "table", "caption", "thead", "tbody", "tfoot", "tr", "th", "td"}
)
# Removed together with their content: text inside these is never meant to be read.
DROPPED_WITH_CONTENT = frozenset(
    {"script", "style", "iframe", "form", "noscript", "svg", "button", "input", "select"}
    | {"textarea", "object", "embed", "template", "canvas", "audio", "video"}
)
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "ol": {"start"},
}
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
# Blocks that mean nothing once they hold neither text nor an image.
_DROPPED_WHEN_EMPTY = ("a", "p", "li", "ul", "ol", "blockquote", "figure", "figcaption", *_HEADINGS)
_INLINE = frozenset({"a", "strong", "b", "em", "i", "u", "sup", "sub", "code", "img", "br"})
_TRACKER_LABELS = frozenset(
    {"pixel", "pixels", "track", "tracking", "tracker", "beacon", "analytics", "stats"}
)
_TRACKER_DOMAINS = (
    "doubleclick.net",
    "google-analytics.com",
    "googletagmanager.com",
    "facebook.com",
    "quantserve.com",
    "scorecardresearch.com",
    "feedburner.com",
)
_BLANK = " \t\r\n\xa0"


def clean_html(
    html: str, *, base_url: str | None = None, dropped: list[DroppedUrl] | None = None
) -> tuple[str, tuple[Image, ...]]:
    """Sanitise a post's HTML fragment; return it with the images it shows, in order.

    Keeps only `ALLOWED_TAGS` (scripts, styles, iframes, forms… go with their content),
    links to http/https/mailto/tel, no event handlers or inline styles. Relative URLs are
    made absolute against an http(s) `base_url`; without one, relative images are dropped
    and relative links are unwrapped (their text stays), since nothing relative works in
    an email. Headings are shifted so the highest becomes `<h3>` (capped at `<h6>`);
    tracking pixels, empty paragraphs and empty links go; every `<img>` gets an `alt`;
    loose top-level text is put in `<p>`s. Idempotent: `clean_html(clean_html(x)[0])`
    returns the same result, which `to_html_document` round trips rely on.

    Every link and image `safe_url` refuses is added to `dropped`, when given.
    """
    if dropped is not None:
        _record_dropped(html, base_url, dropped)
    cleaned = nh3.clean(
        strip_control_characters(html),
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=set(LINK_SCHEMES),
        link_rel=None,
        strip_comments=True,
    )
    if not cleaned.strip():
        return "", ()
    root = lxml.html.fragment_fromstring(cleaned, create_parent="div")
    base = web_url(base_url)
    for link in list(root.iter("a")):
        href = safe_url(link.get("href"), base=base)
        if href is None:
            link.drop_tag()
        else:
            link.set("href", href)
    for img in list(root.iter("img")):
        src = safe_url(img.get("src"), base=base, schemes=WEB_SCHEMES)
        if src is None or _is_tracker(img, src):
            img.drop_tree()
            continue
        img.set("src", src)
        img.set("alt", (img.get("alt") or "").strip())
    _shift_headings(root)
    _wrap_loose_inline(root)
    # Deepest first, so a list emptied of its items is itself seen as empty.
    for element in reversed(list(root.iter(*_DROPPED_WHEN_EMPTY))):
        if not element.text_content().strip(_BLANK) and not _has_media(element):
            element.drop_tree()
    for child in root:
        child.tail = "\n"  # one newline between blocks, whatever the source's indentation
    images = tuple(Image(img.get("src"), img.get("alt", "")) for img in root.iter("img"))
    return inner_html(root).strip(), images


def _record_dropped(html: str, base: str | None, dropped: list[DroppedUrl]) -> None:
    """What `clean_html` will leave out, for reporting (nh3 drops such URLs silently)."""
    try:
        root = lxml.html.fragment_fromstring(strip_control_characters(html), create_parent="div")
    except (lxml.etree.ParserError, ValueError):
        return
    for element in root.iter("a", "img"):
        is_link = element.tag == "a"
        value = element.get("href" if is_link else "src")
        if value and value.strip():
            safe_url(
                value,
                base=base,
                schemes=LINK_SCHEMES if is_link else WEB_SCHEMES,
                where="link" if is_link else "image",
                dropped=dropped,
            )


def inner_html(element: lxml.html.HtmlElement) -> str:
    """The serialised content of `element`, without its own tag."""
    head = escape(element.text or "", quote=False)
    return head + "".join(lxml.html.tostring(child, encoding="unicode") for child in element)


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def strip_control_characters(text: str) -> str:
    """`text` without C0 control characters (tabs and newlines stay).

    They are never meant to be seen, and lxml refuses them in text.
    """
    return _CONTROL.sub("", text)


def squash(text: str) -> str:
    """`text` with runs of whitespace collapsed to single spaces, stripped."""
    return " ".join(text.split())


def _is_tracker(img: lxml.html.HtmlElement, src: str) -> bool:
    for attribute in ("width", "height"):
        if (img.get(attribute) or "").strip().removesuffix("px") in {"0", "1"}:
            return True
    host = (urlsplit(src).hostname or "").lower()
    if any(host == domain or host.endswith("." + domain) for domain in _TRACKER_DOMAINS):
        return True
    return bool(_TRACKER_LABELS.intersection(host.split(".")[:-1]))


def _shift_headings(root: lxml.html.HtmlElement) -> None:
    headings = list(root.iter(*_HEADINGS))
    if not headings:
        return
    shift = 3 - min(int(h.tag[1]) for h in headings)
    for heading in headings:
        heading.tag = f"h{min(6, int(heading.tag[1]) + shift)}"


def _wrap_loose_inline(root: lxml.html.HtmlElement) -> None:
    """Put top-level text and inline elements into <p>s: templates lay out blocks."""
    children = list(root)
    for child in children:
        root.remove(child)  # lxml moves an element's tail text with it
    paragraph: lxml.html.HtmlElement | None = None

    def add_text(text: str) -> None:
        nonlocal paragraph
        if paragraph is None:
            paragraph = lxml.html.Element("p")
            root.append(paragraph)
        if len(paragraph):
            paragraph[-1].tail = (paragraph[-1].tail or "") + text
        else:
            paragraph.text = (paragraph.text or "") + text

    text, root.text = root.text or "", None
    if text.strip():
        add_text(text)
    for child in children:
        tail, child.tail = child.tail or "", None
        if child.tag in _INLINE:
            if paragraph is None:
                add_text("")
            paragraph.append(child)
        else:
            paragraph = None
            root.append(child)
        if tail.strip():
            add_text(tail)


def _has_media(element: lxml.html.HtmlElement) -> bool:
    return any(True for _ in element.iter("img", "hr", "table"))


def plain_text(html_text: str) -> str:
    """Plain text of an HTML fragment: blocks separated by blank lines, spaces collapsed."""
    if not html_text.strip():
        return ""
    root = lxml.html.fragment_fromstring(strip_control_characters(html_text), create_parent="div")
    for br in root.iter("br"):
        br.tail = "\n" + (br.tail or "")
    blocks = root.xpath(".//p|.//li|.//h1|.//h2|.//h3|.//h4|.//h5|.//h6|.//figcaption|.//td")
    for block in blocks:
        block.tail = "\n\n" + (block.tail or "")
    paragraphs = (squash(part) for part in root.text_content().split("\n\n"))
    return "\n\n".join(p for p in paragraphs if p)


_LOOKS_LIKE_HTML = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*(?:\s[^>]*)?/?>")
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*(?=\s|$)")
_ABBREVIATIONS = frozenset({"dr", "mr", "mrs", "ms", "st", "vs", "e.g", "i.e", "etc", "jr", "no"})


def summarize(html_or_text: str, limit: int = 220) -> str:
    """A plain-text excerpt of at most `limit` characters from the first paragraph(s).

    Paragraphs are taken until `limit` is reached. Text that is too long is cut after the
    last whole sentence that fits when that keeps at least 40% of the room; otherwise at a
    word boundary, marked with "…".
    """
    if _LOOKS_LIKE_HTML.search(html_or_text):
        root = lxml.html.fragment_fromstring(
            strip_control_characters(html_or_text), create_parent="div"
        )
        found = [p.text_content() for p in root.iter("p") if p.getparent().tag != "figcaption"]
        paragraphs = found or [root.text_content()]
    else:
        paragraphs = re.split(r"\n\s*\n", html_or_text)
    text = ""
    for paragraph in paragraphs:
        text = f"{text} {squash(paragraph)}".strip()
        if len(text) >= limit:
            break
    if len(text) <= limit:
        return text
    best = 0
    for match in _SENTENCE_END.finditer(text):
        if match.end() > limit:
            break
        words = text[: match.start()].split()
        if match.group()[0] == "." and words and words[-1].lower() in _ABBREVIATIONS:
            continue
        best = match.end()
    if best >= limit * 0.4:
        return text[:best]
    cut = text.rfind(" ", 0, limit)
    if cut <= 0:
        cut = limit - 1
    return text[:cut].rstrip(" ,;:–—-") + "…"


def read_bytes(path: Path) -> bytes:
    """The file's bytes; a missing, unreadable or empty file raises `ContentError`."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ContentError(f"{path}: no such file. Check the file name and folder.") from None
    except IsADirectoryError:
        raise ContentError(f"{path}: is a folder, not a post. Name a file.") from None
    except OSError as error:
        raise ContentError(
            f"{path}: cannot be read ({error.strerror}). Check the file's permissions."
        ) from None
    if not data.strip():
        raise ContentError(f"{path}: the file is empty. Paste the post into it or remove it.")
    return data


def read_text(path: Path) -> str:
    """The file's text: UTF-8 (with or without BOM), UTF-16 with a BOM, else Windows-1252.

    Raises `ContentError` for a missing, empty or binary file.
    """
    data = read_bytes(path)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        # Notepad's "Unicode": decode it rather than mistake its zero bytes for binary.
        encodings: tuple[str, ...] = ("utf-16",)
    elif b"\x00" in data:
        raise ContentError(
            f"{path}: is not a text file (it holds binary data). "
            "Save the post as plain text, Markdown or HTML."
        )
    else:
        # cp1252 is what Word and older Windows editors save as "plain text".
        encodings = ("utf-8-sig", "cp1252")
    for encoding in encodings:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        text = strip_control_characters(text)
        if not text.strip():
            raise ContentError(f"{path}: the file is empty. Paste the post into it or remove it.")
        return text
    raise ContentError(
        f"{path}: the text is not in a known encoding. Open it in an editor and save it as UTF-8."
    )


def title_from_filename(path: Path) -> str:
    """`2026-12-03-botox-for-muscle-pain.txt` → "Botox for muscle pain"."""
    stem = re.sub(r"^\d{4}-\d{2}-\d{2}[-_ ]+", "", Path(path).stem)
    words = re.sub(r"[-_\s]+", " ", stem).strip()
    return words[:1].upper() + words[1:] if words else "Untitled"
