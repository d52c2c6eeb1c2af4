"""First names as the greeting should show them, whatever case the front desk typed."""

from __future__ import annotations

import re

# Lower-case name particles, kept small when they follow another word ("Anna van der Berg").
PARTICLES = frozenset(
    {"van", "der", "den", "de", "del", "della", "la", "le", "di", "da", "du", "von", "ter", "y"}
)
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_APOSTROPHES = "'’"


def _cap(word: str) -> str:
    return word[:1].upper() + word[1:].lower()


def _word_case(token: str, first: bool) -> str:
    lower = token.lower()
    if not first and lower in PARTICLES:
        return lower
    if lower.startswith("mc") and len(lower) > 2:  # McDonald; "Mac" is left alone (Mack, Macy)
        return "Mc" + _cap(lower[2:])
    return _cap(lower)


def name_case(value: str) -> str:
    """`O'BRIEN` → `O'Brien`, `mary-jane` → `Mary-Jane`, `anna van der berg` → `Anna van der
    Berg`; a name typed in mixed case (`DeShawn`, `McKenzie`) is the patient's own and kept."""
    if not (value.isupper() or value.islower()):
        return value
    out: list[str] = []
    last = 0
    first = True
    for found in _WORD.finditer(value):
        out.append(value[last : found.start()])
        token = found.group()
        after_apostrophe = found.start() > 0 and value[found.start() - 1] in _APOSTROPHES
        if after_apostrophe and len(token) <= 1 and out:  # the s of "Jone's": keep it small
            out.append(token.lower())
        else:
            out.append(_word_case(token, first and not after_apostrophe))
            if after_apostrophe and out[-1].lower() in PARTICLES:
                out[-1] = _cap(out[-1])  # "D'ANGELO" → "D'Angelo", never "D'angelo"
        first = False
        last = found.end()
    out.append(value[last:])
    return "".join(out)
