"""Flesch-Kincaid grade without a pronouncing dictionary loaded at run time.

textstat (0.7.x) counts a word's syllables from the CMU Pronouncing Dictionary, and from
pyphen's hyphenation when the word is not in it; loading the dictionary cost every command
about a second and 70 MB. Chairside ships instead `syllables.txt`: the ~50,000 words whose
dictionary count differs from pyphen's (each line: a count, then words), so counting a word
costs one lookup, or pyphen for the rest — the same counts as textstat, from 0.4 MB of text.

Words and sentences are counted exactly as textstat 0.7.8 counts them (its punctuation
rules, its sentence split), so grades match textstat's; `bench/bench_readability.py`
compares them on the demo and test posts, and rebuilds `syllables.txt` from cmudict.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from importlib.resources import files

# textstat's rules: apostrophes survive only in contractions ("don't", "patient's"); every
# other punctuation mark (hyphens included) is deleted, joining what it separated.
_NON_CONTRACTION_APOSTROPHE = re.compile(r"'(?![tsd]|ve|ll|re)")
_PUNCTUATION = re.compile(r"[^\w\s']")
_SENTENCE = re.compile(r"\b[^.!?]+[.!?]*")


def words(text: str) -> list[str]:
    """The words of `text` as textstat counts them."""
    return _PUNCTUATION.sub("", _NON_CONTRACTION_APOSTROPHE.sub("", text)).split()


def sentence_count(text: str) -> int:
    """Sentences as textstat counts them: fragments of two words or fewer do not count."""
    if not text:
        return 0
    found = _SENTENCE.findall(text)
    return max(1, sum(1 for sentence in found if len(words(sentence)) > 2))


@cache
def _table() -> dict[str, int]:
    """Word → syllables, for the words where the CMU dictionary and pyphen disagree."""
    table: dict[str, int] = {}
    source = files("chairside.checks").joinpath("syllables.txt").read_text(encoding="utf-8")
    for line in source.splitlines():
        if line and not line.startswith("#"):
            count, _, listed = line.partition(" ")
            table.update(dict.fromkeys(listed.split(), int(count)))
    return table


@cache
def _hyphenator():  # -> pyphen.Pyphen (imported here: only the reading-grade check needs it)
    import pyphen

    return pyphen.Pyphen(lang="en_US")


@lru_cache(maxsize=65536)
def syllables(word: str) -> int:
    """Syllables of one lower-case word: the CMU dictionary's count, else pyphen's."""
    known = _table().get(word)
    return known if known is not None else len(_hyphenator().positions(word)) + 1


def flesch_kincaid_grade(text: str) -> float:
    """0.39 × words per sentence + 11.8 × syllables per word − 15.59 (0.0 for no words)."""
    found = words(text)
    sentences = sentence_count(text)
    if not found or not sentences:
        return 0.0
    total = sum(syllables(word.lower()) for word in found)
    if not total:
        return 0.0
    return 0.39 * len(found) / sentences + 11.8 * total / len(found) - 15.59
