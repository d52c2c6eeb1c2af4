"""Header values that cannot break a header: checked after decoding RFC 2047 words.

Python's email package before 3.11.10/3.12.5 (CVE-2024-6923) writes an encoded word such as
`=?utf-8?q?news=0D=0ABcc:_x@evil.example?=` into a header as it is; the receiving client
decodes it into a line break and a new `Bcc:` header. Refusing CR and LF in the typed text is
therefore not enough: every value meant for a header is decoded first (repeatedly, so a word
that decodes into another word is seen too) and refused if any form of it holds a control
character. This holds on every Python Chairside supports, patched or not.
"""

from __future__ import annotations

import re
from email.header import decode_header, make_header

# C0 controls (CR, LF, TAB, VT, FF, FS, GS, RS, US…), DEL, C1 controls (NEL…), and the
# Unicode line and paragraph separators, which some clients treat as line breaks.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[bBqQ]\?")
_NAMES = {
    "\r": "a carriage return (CR)",
    "\n": "a line break (LF)",
    "\t": "a tab",
    "\x0b": "a vertical tab",
    "\x0c": "a form feed",
    "\x85": "a next-line character (NEL)",
    "\u2028": "a line separator",
    "\u2029": "a paragraph separator",
}


def _decoded_forms(value: str) -> list[str]:
    """`value` and what each round of RFC 2047 decoding makes of it (at most 3 rounds)."""
    forms = [value]
    for _ in range(3):
        if not _ENCODED_WORD.search(forms[-1]):
            break
        decoded = str(make_header(decode_header(forms[-1])))
        if decoded == forms[-1]:
            break
        forms.append(decoded)
    return forms


def header_problem(value: str) -> str | None:
    """Why `value` cannot go into an email header, or None when it can.

    Text with an encoded word that does not decode is refused too: a client might decode
    it differently from us.
    """
    try:
        forms = _decoded_forms(value)
    except (ValueError, LookupError, UnicodeError, AssertionError):
        return "holds an encoded word (=?…?=) that cannot be decoded; write the text plainly"
    for form in forms:
        found = _CONTROL.search(form)
        if found:
            char = found.group()
            name = _NAMES.get(char, f"the control character U+{ord(char):04X}")
            hidden = " once its =?…?= encoded words are decoded" if form is not value else ""
            return f"contains {name}{hidden}; it must be one line of plain text"
    return None
