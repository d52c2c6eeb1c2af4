"""Plain-text posts, as practices paste them out of their blog editor.

The format has no markup, so structure is inferred line by line:

- paragraphs are separated by blank lines; short standalone lines are headings (`<h3>`);
- lines starting with `•`, `-`, `*`, `–` (or `1.`) are list items, merged into one list
  even when blank lines separate them; "Term – description" items get a bold term;
- the title is a first line standing alone that reads as a headline, however long
  (`is_headline`), else the first heading (either one leaves the body), else the file name;
- a closing sign-off ("Sincerely," / "— Dr. Ana Ruiz, DDS") and the author's bio after it
  become `author` / `author_bio` and leave the body;
- an optional header block (`Title:`, `Date:`, `URL:`, `Author:`, `Tags:` lines) at the
  very top sets metadata.

The heuristics are deliberately conservative: when unsure, text stays in the body.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from chairside.content.article import Article, DroppedUrl
from chairside.content.base import BaseReader
from chairside.content.dates import parse_date
from chairside.content.sanitize import (
    WEB_SCHEMES,
    clean_html,
    read_text,
    safe_url,
    summarize,
    title_from_filename,
)
from chairside.errors import ContentError

Block = list[str]

_HEADER_LINE = re.compile(r"^(title|date|url|link|author|tags|keywords)\s*:\s*(.*)$", re.I)
_BULLET = re.compile(r"^\s*(?:[•◦▪‣·]\s*|[-*–]\s+)(?P<text>\S.*)$")
_NUMBERED = re.compile(r"^\s*\d{1,2}[.)]\s+(?P<text>\S.*)$")
_RULE = re.compile(r"^\s*(?:[-*_=~]\s*){3,}$")
_URL = re.compile(r"https?://[^\s<>\"]+")
_URL_TRAILER = ".,;:!?'\"’”"
_SENTENCE_END = tuple(".!?:;,…")
# Two sentences on one line make a paragraph ("Dr. Ruiz" is one sentence).
_SENTENCE_INSIDE = re.compile(r"(?<!\bDr)(?<!\bMr)(?<!\bMs)(?<!\bMrs)(?<!\bSt)[.!?…][\"'’”)]*\s+\S")
_CLOSERS = "\"'’”)]"
# A line ending in one of these is the start of a sentence ("…has great success with"),
# not a heading.
_TRAILING_WORDS = frozenset(
    {"a", "an", "the", "and", "or", "but", "of", "for", "to", "with", "in", "on", "at", "by"}
    | {"as", "from", "into", "our", "your", "their", "is", "are"}
)

_TITLE = r"(?:Dr|Doctor|Mr|Mrs|Ms|Mx|Prof|Professor)\.?"
_WORD = r"[A-Z][A-Za-z'’\-]*\.?"
_PARTICLE = r"(?:de|da|del|der|di|du|la|le|van|von|bin)"
# Credentials need their comma ("Ana Ruiz, DDS"): without it a title-case heading's last
# word ("… Pain Relief") would pass for one and make the heading look like a signature.
_CREDENTIALS = r"(?P<credentials>(?:,\s*[A-Z][A-Za-z.]{1,7})*)"
_NAME = re.compile(
    rf"^(?P<title>{_TITLE}\s+)?{_WORD}(?P<more>(?:\s+(?:{_PARTICLE}\s+)?{_WORD}){{0,3}}){_CREDENTIALS}$"
)
_SIGN_DASH = re.compile(r"^[—–~-]+\s*")
_VALEDICTION = re.compile(r"^[A-Z][\w'’ ]{1,30}[,!]$")
_ABOUT_AUTHOR = re.compile(r"^about the author\b[:.]?\s*", re.I)
_FIRST_PERSON = re.compile(r"^(?:I['’]m|I am|I['’]ve|I have|My name is)\b")
_DR_NAME = re.compile(r"\bDr\.?\s+[A-Z][\w'’-]+(?:\s+[A-Z][\w'’-]+)?")
_TERM_SEPARATORS = (re.compile(r"\s*([–—])\s*"), re.compile(r"\s+(-)\s+"), re.compile(r"(:)\s+"))


class TextReader(BaseReader):
    """Reads `.txt` / `.text` posts (UTF-8, else Windows-1252)."""

    file_extensions = (".txt", ".text")

    def read(self, path: Path, *, base_url: str | None = None) -> Article:
        text = read_text(path)
        blocks = _blocks(text)
        meta = _header(blocks)
        author, bio = _split_signoff(blocks)
        title = meta.get("title")
        if not title and len(blocks) > 1 and (_is_heading(blocks[0]) or is_headline(blocks[0])):
            title = blocks.pop(0)[0].strip()
        if not title:
            # The first heading becomes the title and leaves the body, so an email never
            # shows the same line twice in a row.
            first = next((i for i, block in enumerate(blocks) if _is_heading(block)), None)
            if first is not None:
                title = blocks.pop(first)[0].strip()
        dropped: list[DroppedUrl] = []
        url = safe_url(
            meta.get("url") or meta.get("link") or base_url,
            schemes=WEB_SCHEMES,
            where="url line",
            dropped=dropped,
        )
        body_html, images = clean_html(_render(blocks), base_url=url, dropped=dropped)
        when = parse_date(meta["date"]) if meta.get("date") else None
        if meta.get("date") and when is None:
            raise ContentError(
                f"{path}: 'Date: {meta['date']}' is not a date. Write it as 2026-12-03."
            )
        keywords = meta.get("tags") or meta.get("keywords") or ""
        return Article(
            title=title or title_from_filename(path),
            body_html=body_html,
            source=str(path),
            url=url,
            date=when,
            author=meta.get("author") or author,
            author_bio=bio,
            summary=summarize(body_html),
            images=images,
            keywords=tuple(k.strip() for k in keywords.split(",") if k.strip()),
            dropped_urls=tuple(dropped),
        )


def _blocks(text: str) -> list[Block]:
    """Runs of non-blank lines, right-stripped (indentation matters only to bullets)."""
    blocks: list[Block] = [[]]
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = line.rstrip().replace("\t", "    ")
        if line.strip():
            blocks[-1].append(line)
        elif blocks[-1]:
            blocks.append([])
    return [b for b in blocks if b]


def _header(blocks: list[Block]) -> dict[str, str]:
    """Pop and return a leading `Key: value` block, if every line of it is one."""
    if not blocks or not all(_HEADER_LINE.match(line.strip()) for line in blocks[0]):
        return {}
    pairs = (_HEADER_LINE.match(line.strip()).groups() for line in blocks.pop(0))
    return {key.lower(): value.strip() for key, value in pairs if value.strip()}


def _is_heading(block: Block) -> bool:
    """A short standalone line without sentence-ending punctuation (or a Title-Case question)."""
    if len(block) != 1 or _BULLET.match(block[0]) or _NUMBERED.match(block[0]):
        return False
    line = block[0].strip()
    bare = line.rstrip(_CLOSERS)
    first_letter = next((c for c in line if c.isalnum()), "")
    # "What Is Bruxism?" is a heading; "Ready to book?" is a sentence.
    long_words = [w.lstrip(_CLOSERS + "“‘(") for w in line.split() if len(w) >= 4]
    title_case_question = bare.endswith(("?", "!")) and all(w[:1].isupper() for w in long_words)
    return (
        len(line) <= 80
        and len(line.split()) <= 10
        and (not bare.endswith(_SENTENCE_END) or title_case_question)
        and line.split()[-1] not in _TRAILING_WORDS
        and (first_letter.isupper() or first_letter.isdigit())
        and not _URL.fullmatch(line)
    )


def is_headline(lines: list[str]) -> bool:
    """Whether the first lines of a post are its headline: one line standing alone, of a
    headline's length, which is not a sentence of the body ("Could Your Morning Headaches
    Be Coming From Your Jaw Rather Than Your Pillow?" is; "We are closed on Monday." is not,
    nor two sentences unless in Title Case).

    Longer than a heading inside the post may be (`_is_heading`), since headlines are.
    """
    if len(lines) != 1 or _BULLET.match(lines[0]) or _NUMBERED.match(lines[0]):
        return False
    line = lines[0].strip()
    bare = line.rstrip(_CLOSERS)
    first_letter = next((c for c in line if c.isalnum()), "")
    long_words = [w.lstrip(_CLOSERS + "“‘(") for w in line.split() if len(w) >= 4]
    title_case = all(w[:1].isupper() or not w[:1].isalpha() for w in long_words)
    return (
        len(line) <= 160
        and len(line.split()) <= 28
        and not bare.endswith(tuple(".:;,…"))
        # "Tired Jaw? You Might Be Grinding" is a headline in two parts, in Title Case.
        and (title_case or not _SENTENCE_INSIDE.search(bare))
        and line.split()[-1].lower() not in _TRAILING_WORDS
        and (first_letter.isupper() or first_letter.isdigit())
        and not _URL.search(line)
    )


def _split_signoff(blocks: list[Block]) -> tuple[str | None, str | None]:
    """Remove a closing sign-off and bio from `blocks`; return (author, bio)."""
    about = next(
        (i for i in range(max(1, len(blocks) - 4), len(blocks)) if _is_about_heading(blocks[i])),
        None,
    )
    if about is not None and len(blocks) - about - 1 in (1, 2, 3):
        bio = _bio_text(blocks[about + 1 :])
        del blocks[about:]
        signature = _signature_at(blocks, len(blocks) - 1, need_strong=False)
        author = signature[0] if signature else None
        if signature:
            del blocks[signature[1] :]
        match = _DR_NAME.search(bio)
        return author or (match.group() if match else None), bio
    for index in range(len(blocks) - 1, max(0, len(blocks) - 5), -1):
        after = blocks[index + 1 :]
        signature = _signature_at(blocks, index, need_strong=not after)
        if signature is None:
            continue
        author, start, extra = signature
        if after and not _is_bio(after, author):
            continue
        bio_parts = extra + ([_bio_text(after)] if after else [])
        del blocks[start:]
        return author, "\n\n".join(bio_parts) or None
    return None, None


def _signature_at(
    blocks: list[Block], index: int, *, need_strong: bool
) -> tuple[str, int, list[str]] | None:
    """(name, first block index of the sign-off, extra lines) when `blocks[index]` signs off."""
    if index < 1:
        return None  # a post that is nothing but a signature is left alone
    lines = [line.strip() for line in blocks[index]]
    start, valediction = index, False
    if len(lines) > 1 and _VALEDICTION.match(lines[0]) and len(lines[0].split()) <= 5:
        lines, valediction = lines[1:], True
    elif index >= 2 and len(blocks[index - 1]) == 1 and _VALEDICTION.match(blocks[index - 1][0]):
        start, valediction = index - 1, True
    name_line, extra = lines[0], lines[1:]
    if len(extra) > 2 or any(len(line.split()) > 8 or not _is_heading([line]) for line in extra):
        return None
    dashed = bool(_SIGN_DASH.match(name_line))
    name = _SIGN_DASH.sub("", name_line)
    match = _NAME.match(name)
    if not match or (not match["title"] and not match["more"]):
        return None
    strong = dashed or valediction or bool(match["title"] or match["credentials"].strip())
    if need_strong and not strong:
        return None
    return name, start, extra


def _is_about_heading(block: Block) -> bool:
    return len(block) == 1 and bool(re.fullmatch(r"about the author:?", block[0].strip(), re.I))


def _is_bio(blocks: list[Block], author: str) -> bool:
    """Whether `blocks`, after the sign-off `author`, read as the author's bio."""
    if len(blocks) > 3 or any(_BULLET.match(b[0]) for b in blocks):
        return False
    first = " ".join(line.strip() for line in blocks[0])
    name = re.sub(r",.*$", "", author)  # without credentials
    bare = re.sub(rf"^{_TITLE}\s+", "", name)
    surname = bare.split()[-1]
    mentions = bare in first or re.search(rf"\bDr\.?\s+{re.escape(surname)}\b", first)
    return bool(_FIRST_PERSON.match(first) or _ABOUT_AUTHOR.match(first) or mentions)


def _bio_text(blocks: list[Block]) -> str:
    paragraphs = (" ".join(line.strip() for line in block) for block in blocks)
    return "\n\n".join(_ABOUT_AUTHOR.sub("", p, count=1) for p in paragraphs).strip()


def _render(blocks: list[Block]) -> str:
    """HTML for the body blocks: headings, paragraphs, lists, rules."""
    parts: list[str] = []
    items: list[str] = []  # raw texts of the list being built, possibly across blocks
    list_tag = ""

    def close_list() -> None:
        nonlocal list_tag
        if items:
            parts.append(f"<{list_tag}>{''.join(map(_list_item, items))}</{list_tag}>")
            items.clear()
        list_tag = ""

    for block in blocks:
        if len(block) == 1 and _RULE.match(block[0]):
            close_list()
            parts.append("<hr>")
            continue
        if _is_heading(block):
            close_list()
            parts.append(f"<h3>{_inline(block[0].strip())}</h3>")
            continue
        lead: list[str] = []
        item_open = False  # a non-marker line right after an item wraps that item
        for line in block:
            marker = _BULLET.match(line) or _NUMBERED.match(line)
            if marker:
                if lead:
                    close_list()
                    parts.append(_paragraph(lead))
                    lead = []
                tag = "ul" if marker.re is _BULLET else "ol"
                if tag != list_tag:
                    close_list()
                    list_tag = tag
                items.append(marker["text"].strip())
                item_open = True
            elif item_open:
                items[-1] += " " + line.strip()
            else:
                lead.append(line.strip())
        if lead:
            close_list()
            parts.append(_paragraph(lead))
    close_list()
    return "\n".join(parts)


def _paragraph(lines: list[str]) -> str:
    # Short lines (an address, a phone list) keep their breaks; wrapped prose is rejoined.
    short = len(lines) > 1 and all(len(line) < 50 for line in lines[:-1])
    joiner = "<br>" if short else " "
    return "<p>" + joiner.join(_inline(line) for line in lines) + "</p>"


def _list_item(text: str) -> str:
    for separator in _TERM_SEPARATORS:
        match = separator.search(text)
        if not match or match.start() == 0:
            continue
        term, rest = text[: match.start()].strip(), text[match.end() :].strip()
        if rest and len(term.split()) <= 6 and not term.endswith(_SENTENCE_END):
            if match.group(1) == ":":
                return f"<li><strong>{_inline(term)}:</strong> {_inline(rest)}</li>"
            dash = "–" if match.group(1) == "-" else match.group(1)
            return f"<li><strong>{_inline(term)}</strong> {dash} {_inline(rest)}</li>"
        break  # only the first separator in the item can introduce a term
    return f"<li>{_inline(text)}</li>"


def _inline(text: str) -> str:
    """Escaped text with bare http(s) URLs turned into links."""
    out, position = [], 0
    for match in _URL.finditer(text):
        url = match.group().rstrip(_URL_TRAILER)
        if url.endswith(")") and url.count("(") < url.count(")"):
            url = url[:-1]
        out.append(html.escape(text[position : match.start()], quote=False))
        out.append(f'<a href="{html.escape(url)}">{html.escape(url, quote=False)}</a>')
        position = match.start() + len(url)
    out.append(html.escape(text[position:], quote=False))
    return "".join(out)
