"""Tagging posts with the patient concerns they are about."""

from __future__ import annotations

from chairside.audience.segments import Segment
from chairside.content.article import Article
from chairside.content.sanitize import plain_text

# A concern mentioned once in passing ("your jaw bone") is not what a post is about; a word in
# the title or the author's own tags counts as much as several in the body.
TITLE_WEIGHT = 3
THRESHOLD = 2


def concern_scores(article: Article, segments: tuple[Segment, ...]) -> dict[str, int]:
    """How strongly the article is about each concern segment (general is never scored)."""
    headline = " ".join((article.title, *article.keywords))
    body = plain_text(article.body_html)
    scores: dict[str, int] = {}
    for segment in segments:
        pattern = segment.keyword_pattern()
        if segment.is_general or pattern is None:
            continue
        scores[segment.id] = TITLE_WEIGHT * len(pattern.findall(headline)) + len(
            pattern.findall(body)
        )
    return scores


def tag_article(article: Article, segments: tuple[Segment, ...]) -> tuple[str, ...]:
    """The ids of the concern segments the article is about, in segment priority order."""
    scores = concern_scores(article, segments)
    return tuple(seg.id for seg in segments if scores.get(seg.id, 0) >= THRESHOLD)
