"""Which text encoding a practice table is in, decided from its bytes and never guessed silently.

Excel and practice software save UTF-8 (with or without a BOM), UTF-16 ("Unicode text",
with or without a BOM), Windows-1252 (Excel "CSV" on Windows) and Mac Roman (older Excel
on a Mac). The rules, in order:

1. A BOM decides.
2. NUL bytes in every other position mean UTF-16 without a BOM (ASCII text is never so).
3. Bytes that are valid UTF-8 are UTF-8.
4. Otherwise, if the file also holds well-formed UTF-8 characters, or no single-byte
   encoding turns its other bytes into plausible letters, it is UTF-8 with *damaged* bytes:
   the lines that hold them are reported, nothing else is guessed ("ZoÃ«" never happens).
5. Otherwise it is a single-byte file, and the encoding whose reading of the non-ASCII bytes
   gives the most plausible letters wins: Mac Roman's é (0x8E) reads as "Ž" in
   Windows-1252, a capital after a small letter ("JosŽ"), which loses to "José".
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

NAMES = {
    "utf-8-sig": "UTF-8 with BOM",
    "utf-8": "UTF-8",
    "utf-16": "UTF-16",
    "utf-16-le": "UTF-16",
    "utf-16-be": "UTF-16",
    "cp1252": "Windows-1252",
    "mac_roman": "Mac Roman",
}
SINGLE_BYTE = ("cp1252", "mac_roman")
# Accented letters common in patients' names, worth more than rare ones (Õ, Ÿ, Ž, ƒ...).
_COMMON = frozenset("éèëêüöäñçáíóúàâîôûïøåæßãõÉÈÖÜÄÅØÑÇÁÍÓÚ")
_HIGH = re.compile(rb"[\x80-\xff]")
_DAMAGED = re.compile("[\udc80-\udcff]")
_WELL_FORMED = re.compile("[^\x00-\x7f\udc80-\udcff]")
SCORED_CHUNKS = 4


@dataclass(frozen=True)
class Encoding:
    """How to decode a table; `damaged` when some lines hold bytes that are not UTF-8."""

    codec: str
    damaged: bool = False

    @property
    def name(self) -> str:
        return NAMES[self.codec] + (" (with unreadable bytes)" if self.damaged else "")

    @property
    def errors(self) -> str:
        # Damaged bytes survive as lone surrogates, so the rows holding them can be named.
        return "surrogateescape" if self.damaged else "strict"


def undecodable(text: str) -> str | None:
    """`byte 0xE9`, when `text` (read from a damaged file) holds bytes that are not UTF-8."""
    found = _DAMAGED.search(text)
    return f"byte 0x{ord(found.group()) - 0xDC00:02X}" if found else None


def _utf16_without_bom(start: bytes) -> str | None:
    pairs = len(start) // 2
    if pairs < 2:
        return None
    even = start[0 : pairs * 2 : 2].count(0)
    odd = start[1 : pairs * 2 : 2].count(0)
    if odd > pairs * 0.3 and even < pairs * 0.05:
        return "utf-16-le"
    if even > pairs * 0.3 and odd < pairs * 0.05:
        return "utf-16-be"
    return None


def first_bad_line(path: Path, codec: str) -> int:
    """The line of the first byte that `codec` cannot decode (for an error message)."""
    data = path.read_bytes()
    try:
        data.decode(codec)
    except UnicodeDecodeError as exc:
        good = data[: exc.start - (exc.start % 2 if codec.startswith("utf-16") else 0)]
        return good.decode(codec, errors="replace").count("\n") + 1
    return 1


def _char_score(char: str, before: str, after: str) -> float:
    """How well a decoded character fits where it stands in a name or a word (< 0: not)."""
    if char.isalpha() and unicodedata.category(char) in ("Lu", "Ll"):
        if char.isupper() and before.isalpha() and (before.islower() or after.islower()):
            return -1  # "JosŽ", "JŸrgen": a capital inside a word
        return 2 if char in _COMMON else 1
    if char == "’":  # an apostrophe (O’Brien) or a closing quote
        return 2 if before.isalpha() else -1
    if char in "‘“":  # opening quotes start a word
        return 2 if not before.isalnum() and after.isalnum() else -1
    if char == "”":
        return 2 if not after.isalnum() else -1
    if char in "–—…":
        return 0.5 if not (before.isalpha() and after.isalpha()) else 0
    return -1


def _plausibility(data: bytes, codec: str) -> float:
    """How much the non-ASCII bytes read as letters of names and words in `codec`.

    A byte the codec cannot decode rules the codec out.
    """
    score = 0.0
    for found in _HIGH.finditer(data):
        at = found.start()
        try:
            char = found.group().decode(codec)
        except UnicodeDecodeError:
            return float("-inf")
        before = chr(data[at - 1]) if at else " "
        after = chr(data[at + 1]) if at + 1 < len(data) else " "
        score += _char_score(char, before, after)
    return score


def detect_encoding(path: Path, chunk_size: int = 1 << 20) -> Encoding:
    """The encoding of `path` by the rules above; reads the file in chunks, once when UTF-8."""
    with path.open("rb") as handle:
        start = handle.read(4096)
        if start.startswith(codecs.BOM_UTF8):
            return Encoding("utf-8-sig")
        if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return Encoding("utf-16")
        if codec := _utf16_without_bom(start):
            return Encoding(codec)
        handle.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            while chunk := handle.read(chunk_size):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
            return Encoding("utf-8")
        except UnicodeDecodeError:
            pass
    # Not UTF-8: read again, in chunks, for well-formed UTF-8 characters anywhere, and score
    # the single-byte readings on the first few megabytes (plenty of letters to judge by).
    scores = dict.fromkeys(SINGLE_BYTE, 0.0)
    decoder = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape")
    with path.open("rb") as handle:
        for count, chunk in enumerate(iter(lambda: handle.read(chunk_size), b"")):
            if _WELL_FORMED.search(decoder.decode(chunk)):
                return Encoding("utf-8", damaged=True)
            if count < SCORED_CHUNKS:
                for codec in SINGLE_BYTE:
                    scores[codec] += _plausibility(chunk, codec)
    best = max(SINGLE_BYTE, key=lambda codec: scores[codec])
    if scores[best] <= 0:
        return Encoding("utf-8", damaged=True)
    return Encoding(best)
