"""Health literacy: is the newsletter written at a level most patients read comfortably?

Patient-education material aims at US school grades 6–8 (AMA, NIH). `reading-grade` scores
each post (its title and body) and each variant's intro with the Flesch-Kincaid grade
(counted as textstat counts it, without loading a dictionary: `checks.syllables`), and
names the three hardest sentences so the office knows where to start.

A post goes to several variants; its finding is reported once, in the first variant that
carries it, naming the others (`merge_variants`). The same goes for an intro shared by
several variants (the campaign's `intro`, for segments without their own).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from chairside.checks.base import WARNING, CheckContext, Finding, VariantView, rule
from chairside.checks.places import article_label, merge_variants, short
from chairside.checks.syllables import flesch_kincaid_grade
from chairside.content.sanitize import plain_text, squash

GRADE_LIMIT = 8.0
MIN_WORDS = 5
"""Shorter fragments (a list item, "Thank you!") are not ranked as hard sentences."""
SHOWN_SENTENCES = 3
_ENDS = ".!?…"
_ABBREVIATIONS = frozenset(
    {"dr", "mr", "mrs", "ms", "mx", "st", "vs", "jr", "sr", "no", "etc", "prof", "approx"}
    | {"e.g", "i.e", "a.m", "p.m", "u.s", "fig"}
)
# A sentence ends at . ! ? … (with closing quotes or brackets), before a space and a capital,
# digit or opening quote.
_BOUNDARY = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])")


def sentences(text: str) -> list[str]:
    """The sentences of plain text whose blocks (paragraphs, list items, headings) are
    separated by blank lines; a block without end punctuation is one sentence."""
    found: list[str] = []
    for block in re.split(r"\n\s*\n", text):
        block = squash(block)
        start = 0
        for boundary in _BOUNDARY.finditer(block):
            candidate = block[start : boundary.start()].split()
            last_word = candidate[-1].rstrip(_ENDS) if candidate else ""
            initial = len(last_word) == 1 and last_word.isupper()  # "J. Smith"
            if last_word.lower() in _ABBREVIATIONS or initial:  # "Dr. Reyes"
                continue
            found.append(block[start : boundary.end()].strip())
            start = boundary.end()
        if block[start:].strip():
            found.append(block[start:].strip())
    return found


def for_counting(sentence: str) -> str:
    """One sentence as the grade formula counts it: one end mark, none inside ("Dr.", "2.5")."""
    inner = re.sub(r"[.!?]+(?=.*\w)", "", sentence.replace("…", "."))
    return inner if inner.rstrip("\"'”’)]").endswith(tuple(_ENDS)) else inner + "."


def _words(sentence: str) -> int:
    return len(re.findall(r"\w[\w'’-]*", sentence))


def grade(text: str) -> tuple[float, list[tuple[float, str]]]:
    """The Flesch-Kincaid grade of `text`, and its hardest sentences, hardest first."""
    found = sentences(text)
    if not found:
        return 0.0, []
    overall = flesch_kincaid_grade(" ".join(for_counting(s) for s in found))
    ranked = sorted(
        ((flesch_kincaid_grade(for_counting(s)), s) for s in found if _words(s) >= MIN_WORDS),
        key=lambda pair: -pair[0],
    )
    return overall, ranked[:SHOWN_SENTENCES]


def _message(score: float, hardest: list[tuple[float, str]], fix: str) -> str:
    shown = "; ".join(f'"{short(s, 160)}" (grade {g:.1f})' for g, s in hardest)
    return (
        f"Reading grade {score:.1f} (Flesch-Kincaid); patient-education material aims at "
        f"grades 6-8, so many patients will struggle. Hardest sentences: {shown}. {fix}"
    )


_FIX = (
    "Split long sentences (about 15-20 words each) and use everyday words "
    '("jaw joint", not "temporomandibular joint"; "use", not "utilize")'
)


@rule
def reading_grade(context: CheckContext) -> Iterator[Finding]:
    """Posts and intros above grade 8."""
    scores: dict[str, tuple[float, list[tuple[float, str]]]] = {}
    return merge_variants(
        finding for view in context.variants for finding in _reading_grade(context, view, scores)
    )


def _reading_grade(
    context: CheckContext, view: VariantView, scores: dict[str, tuple[float, list]]
) -> Iterator[Finding]:
    if view.variant.intro.strip():
        score, hardest = grade(view.variant.intro)
        if score > GRADE_LIMIT:
            own = view.name in context.campaign.settings.segment_intros
            where = f"campaign.toml [segments.{view.name}] intro" if own else "campaign.toml intro"
            yield Finding(
                "reading-grade", WARNING, view.name, where, _message(score, hardest, _FIX + ".")
            )
    for article in view.articles:
        if article.source not in scores:
            scores[article.source] = grade(f"{article.title}\n\n{plain_text(article.body_html)}")
        score, hardest = scores[article.source]
        if score > GRADE_LIMIT:
            yield Finding(
                "reading-grade",
                WARNING,
                view.name,
                article_label(article),
                _message(score, hardest, f"{_FIX} in the post {article.source_name}."),
            )
