"""Tagging posts with the patient concerns they are about, and saying why.

A post is about a concern when the concern's words carry its complaint, in the places a
reader looks: "Why does my jaw click?" in the title, not "bone in the upper jaw" in an
implant post. Reading a post:

1. It is cut into units where a phrase can stand: the title (never a file name), the
   author's tags, each heading, each sentence of a paragraph, each list item. A phrase
   never joins words of two units ("… the upper back. Jaw …" is not "upper back").
2. In each unit the ignored phrases are masked (jawbone, neck size), then the concern's
   terms ("TMJ", "whiplash") and its places next to a complaint ("jaw … clicks",
   "stiff neck") are found (`content.concernwords`).
3. A find weighs its own weight times its unit's: a title counts four times the body, a
   heading twice, a short item of a list (a symptom list, or one written inline with
   commas) less than half; a complaint after a procedure ("some jaw soreness after surgery")
   half.
4. A concern is given when its weight is enough in itself (`MIN_SCORE`), with enough of it
   complaints and the concern's own names rather than words that go with it (`MIN_CORE`:
   grinding and night guards alone are not jaw pain), for the post's length (per 100
   words, `MIN_DENSITY`), and beside the strongest concern (`MIN_SHARE`): "neck or shoulder
   pain" in a TMJ post's symptom list does not make it a neck post. A concern the title
   does not name needs more of both.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

import lxml.html

from chairside.audience.segments import Segment
from chairside.content import concernwords as words
from chairside.content.article import Article
from chairside.content.sanitize import strip_control_characters, title_from_filename

PLACE_WEIGHT = {"title": 4.0, "tags": 1.5, "heading": 2.0, "body": 1.0, "list": 0.4}
LONG_ITEM = 14
"""A list item of this many words or more is prose, weighed as body, not a symptom list."""
NEAR = 4
"""At most this many words between a place and its complaint ("pain in the left jaw")."""
MIN_SCORE = 3.0
MIN_CORE = 2.8
"""Of it, the complaints and the concern's own names: grinding and night guards count only
when the post also says what hurts ("bruxism as a habit that hurts")."""
MIN_DENSITY = 1.0
"""Weight per 100 words of the post."""
MIN_DENSITY_UNTITLED = 1.3
"""… when the title does not name the concern: a post about it usually says so in its
headline, and a mouthguard post with a paragraph on night guards for grinding does not."""
MIN_SHARE = 0.35
"""Of the strongest concern's weight."""
MIN_SHARE_UNTITLED = 0.5
"""… when the title names another concern and not this one: the headline says what the
post is about, and a paragraph on the jaw in a neck post is an aside."""
CORE_TERM = 0.6
"""A term of this weight names the concern; lighter ones (night guard, grinding, posture)
only go with it."""
AFTERCARE = 0.5
"""A place's complaint weighs this much in a sentence about a procedure's aftermath."""
ALMOST = 0.5
"""A concern not given is "almost" given when it reaches this part of each bar."""

_BLOCKS = {"p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "td", "th", "dd", "dt"}
_BLOCKS |= {"figcaption", "blockquote", "pre", "div", "section", "article", "header", "footer"}
_BLOCKS |= {"ul", "ol", "dl", "table", "thead", "tbody", "tfoot", "tr", "figure", "aside"}
_SENTENCE = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+|\s*[\n\r•·|]+\s*|\s+[–—]\s+")
_ITEMS = re.compile(r"\s[·|]\s")  # "Related: Implants · TMJ Treatment · Whitening"
INLINE_LIST = 3
"""A sentence with more than this many commas' items, half of them three words or fewer, is
a list written inline ("we offer implants, aligners, TMJ therapy, sleep apnea appliances
and bonding"), weighed as a list."""
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_LISTING = frozenset({"and", "or", "the", "your", "her", "his", "their", "jaw", "upper", "lower"})


@dataclass(frozen=True)
class Reason:
    """A phrase that counted toward a concern, where it stood, and how often."""

    phrase: str
    places: tuple[str, ...]
    """Where it stood, of title, tags, heading, body and list (in that order)."""
    weight: float
    count: int = 1

    def __str__(self) -> str:
        where = ", ".join(self.places)
        if self.count > len(self.places):
            where += f", {self.count} times" if len(self.places) == 1 else f"; {self.count} times"
        return f'"{self.phrase}" ({where})'


@dataclass(frozen=True)
class ConcernScore:
    """How much a post is about one concern, measured against the bars it must reach."""

    concern: str
    score: float
    core: float
    """The weight of the complaints and the concern's own names, without the words that
    only go with it (night guards, grinding, posture)."""
    density: float
    share: float
    reasons: tuple[Reason, ...]
    """Strongest first."""
    share_bar: float = MIN_SHARE
    """The share it needs (`MIN_SHARE`, or `MIN_SHARE_UNTITLED`)."""
    density_bar: float = MIN_DENSITY
    """The density it needs (`MIN_DENSITY`, or `MIN_DENSITY_UNTITLED`)."""


@dataclass(frozen=True)
class Tagging:
    """The concerns given to a post, those almost given, and why."""

    tags: tuple[str, ...]
    almost: tuple[str, ...]
    scores: dict[str, ConcernScore] = field(default_factory=dict)

    def why(self, concern: str, count: int = 3) -> tuple[Reason, ...]:
        """The `count` strongest reasons for `concern`."""
        found = self.scores.get(concern)
        return found.reasons[:count] if found else ()

    def short_of(self, concern: str, names: dict[str, str] | None = None) -> str:
        """Why an almost-given concern was not given, in a few words."""
        score = self.scores[concern]
        if score.share < score.share_bar:
            lead = max(self.scores.values(), key=lambda s: s.score).concern
            return f"a small part beside {(names or {}).get(lead, lead)}"
        if score.density < score.density_bar:
            return "too little for the post's length"
        if score.score >= MIN_SCORE:
            return "mostly words that go with it, little of what hurts"
        return "too few mentions"

    def lines(self, names: dict[str, str] | None = None) -> list[str]:
        """For each concern given, its three strongest reasons; for each almost given, its
        reasons and what it lacked. Concerns are named by id, or by `names`."""
        name = (names or {}).get
        out = [f"{name(c, c)} because of " + ", ".join(map(str, self.why(c))) for c in self.tags]
        out += [
            f"almost {name(c, c)}: "
            + ", ".join(map(str, self.why(c)))
            + f" ({self.short_of(c, names)})"
            for c in self.almost
        ]
        return out


_Hits = dict[tuple[str, str], tuple[str, list[float], bool]]
"""(phrase folded, place) → (phrase as first written, weights of each find, core)."""


@dataclass(frozen=True)
class _Phrase:
    concern: str | None
    """None for a place: the place's concern comes from the table it is in."""
    words: tuple[frozenset[str], ...]
    weight: float
    floating: bool = False
    habit: bool = False


@dataclass(frozen=True)
class _Vocabulary:
    terms: tuple[_Phrase, ...]
    places: dict[str, tuple[_Phrase, ...]]
    ignored: tuple[tuple[frozenset[str], ...], ...]
    complaints: frozenset[str]
    aftercare: frozenset[str]


def tag_article(article: Article, segments: tuple[Segment, ...]) -> tuple[str, ...]:
    """The ids of the concern segments the article is about, in segment priority order."""
    return explain(article, segments).tags


def explain(article: Article, segments: tuple[Segment, ...]) -> Tagging:
    """The concerns the article is about, those it almost is, and the phrases that decided."""
    vocabulary = _vocabulary(tuple((s.id, s.keywords, s.ignore) for s in segments))
    concerns = [s.id for s in segments if not s.is_general]
    found: dict[str | None, _Hits] = {}
    word_count = 0
    floating: list[tuple[str | None, str, str, float, bool]] = []
    for place, sentences in _units(article):
        # "We call these knots trigger points.": the paragraph says where they are.
        context = {
            c
            for sentence in sentences
            for c, *_ in _places(_tokens(sentence, vocabulary), vocabulary)
        }
        for sentence in sentences:
            if place != "tags":
                word_count += len(_WORD.findall(sentence))
            stood = "list" if place == "body" and _inline_list(sentence) else place
            finds = _finds(sentence, vocabulary, context, title=place == "title")
            for concern, phrase, weight, placed, core in finds:
                if placed:
                    _add(found, concern, phrase, stood, weight * PLACE_WEIGHT[stood], core)
                else:
                    floating.append((concern, phrase, stood, weight * PLACE_WEIGHT[stood], core))
    # Trigger points with no place in their paragraph belong to what the post is about.
    totals = {c: sum(w for _, ws, _ in hits.values() for w in ws) for c, hits in found.items()}
    lead = max(concerns, key=lambda c: totals.get(c, 0.0)) if any(totals.values()) else None
    for concern, phrase, place, weight, core in floating:
        _add(found, lead or concern, phrase, place, weight, core)
    scores = _scores({c: found.get(c, {}) for c in concerns}, word_count)
    titled = {c for c in concerns if any("title" in r.places for r in scores[c].reasons)}
    for concern in concerns:
        if concern not in titled:
            share_bar = MIN_SHARE_UNTITLED if titled else MIN_SHARE
            scores[concern] = replace(
                scores[concern], share_bar=share_bar, density_bar=MIN_DENSITY_UNTITLED
            )
    given = tuple(c for c in concerns if _passes(scores[c], 1.0))
    almost = tuple(
        c for c in concerns if c not in given and scores[c].score and _passes(scores[c], ALMOST)
    )
    return Tagging(given, almost, scores)


def _inline_list(sentence: str) -> bool:
    items = sentence.split(",")
    short = [item for item in items if len(_WORD.findall(item)) <= 3]
    return len(items) > INLINE_LIST and 2 * len(short) >= len(items)


def _add(
    found: dict[str | None, _Hits],
    concern: str | None,
    phrase: str,
    place: str,
    weight: float,
    core: bool,
) -> None:
    """Count a find; the same phrase in another case ("TMJ", "tmj") is the same reason."""
    hits = found.setdefault(concern, {})
    hits.setdefault((phrase.casefold(), place), (phrase, [], core))[1].append(weight)


def _passes(score: ConcernScore, part: float) -> bool:
    return (
        score.score >= MIN_SCORE * part
        and score.core >= MIN_CORE * part
        and score.density >= score.density_bar * part
        and score.share >= score.share_bar * part
    )


def _scores(found: dict[str, _Hits], words_: int) -> dict[str, ConcernScore]:
    totals = {c: sum(w for _, ws, _ in hits.values() for w in ws) for c, hits in found.items()}
    strongest = max(totals.values(), default=0.0)
    scores = {}
    for concern, hits in found.items():
        by_phrase: dict[str, list[tuple[str, str, list[float]]]] = {}
        for (key, place), (phrase, ws, _) in hits.items():
            by_phrase.setdefault(key, []).append((place, phrase, ws))
        reasons = sorted(
            (
                Reason(
                    _display(max(group, key=lambda f: sum(f[2]))[1]),
                    tuple(p for p in PLACE_WEIGHT if any(f[0] == p for f in group)),
                    round(sum(w for f in group for w in f[2]), 2),
                    sum(len(f[2]) for f in group),
                )
                for group in by_phrase.values()
            ),
            key=lambda r: (-r.weight, r.phrase),
        )
        total = totals[concern]
        scores[concern] = ConcernScore(
            concern,
            score=round(total, 2),
            core=round(sum(w for _, ws, core in hits.values() if core for w in ws), 2),
            density=round(100 * total / max(words_, 100), 2),
            share=round(total / strongest, 2) if strongest else 0.0,
            reasons=tuple(reasons),
        )
    return scores


def _display(phrase: str) -> str:
    return phrase if len(phrase) <= 60 else phrase[:57].rstrip() + "…"


# ---- reading the post into units -------------------------------------------------------


def _units(article: Article) -> Iterator[tuple[str, list[str]]]:
    """(place, its sentences) for the title, each tag and each block of the post."""
    if article.title and not _title_is_file_name(article):
        yield "title", [article.title]
    for keyword in article.keywords:
        yield "tags", [keyword]
    for place, text in _blocks(article.body_html):
        yield place, [sentence for sentence in _SENTENCE.split(text) if sentence.strip()]


def _title_is_file_name(article: Article) -> bool:
    """Readers fall back to the file name for a post without a title; that is not the
    author's headline, and a slug's words would weigh as one."""
    source = article.source.split("#", 1)[0]
    return bool(source) and article.title == title_from_filename(Path(source))


def _blocks(body_html: str) -> Iterator[tuple[str, str]]:
    if not body_html.strip():
        return
    root = lxml.html.fragment_fromstring(strip_control_characters(body_html), create_parent="div")
    for br in root.iter("br"):
        br.tail = "\n" + (br.tail or "")
    for element in root.iter():
        if not isinstance(element.tag, str) or element.tag not in _BLOCKS:
            continue
        text = _own_text(element)
        if not text.strip():
            continue
        if re.fullmatch(r"h[1-6]", element.tag):
            place = "heading"
        elif len(_ITEMS.findall(text)) >= 2 or (
            element.tag == "li" and len(_WORD.findall(text)) < LONG_ITEM
        ):
            place = "list"
        else:
            place = "body"
        yield place, text


def _own_text(element: lxml.html.HtmlElement) -> str:
    """The element's text without that of the blocks inside it (they are units of their own)."""
    parts = [element.text or ""]
    for child in element:
        if isinstance(child.tag, str) and child.tag in _BLOCKS:
            parts.append("\n")
        else:
            parts.append(child.text_content() if isinstance(child.tag, str) else "")
        parts.append(child.tail or "")
    return " ".join("".join(parts).split(" "))


# ---- finding phrases in one unit -------------------------------------------------------


def _finds(
    unit: str, vocabulary: _Vocabulary, context: set[str], *, title: bool = False
) -> Iterator[tuple[str | None, str, float, bool, bool]]:
    """(concern, phrase as written, weight, placed, core) for every find in one sentence or
    item (core: a complaint or a name of the concern, see `CORE_TERM`, or a habit behind it
    in the title).

    A floating term goes to the concerns whose places its sentence names, else those its
    paragraph (`context`) names; with neither it is not placed, its concern still open.
    """
    tokens, norm, used = _tokens(unit, vocabulary)
    complaints = [i for i, n in enumerate(norm) if n in vocabulary.complaints and not used[i]]
    places = _places((tokens, norm, used), vocabulary)
    # "Some jaw soreness after surgery is normal": the procedure's, not the patient's concern.
    aftercare = AFTERCARE if vocabulary.aftercare.intersection(norm) else 1.0
    where = {p[0] for p in places} or context
    for phrase in sorted(vocabulary.terms, key=lambda p: -len(p.words)):
        for start, end in _matches(norm, (phrase.words,)):
            if any(used[start:end]):
                continue
            used[start:end] = [True] * (end - start)
            text = _span(unit, tokens, start, end)
            core = phrase.weight >= CORE_TERM or (phrase.habit and title)
            if not phrase.floating:
                yield phrase.concern, text, phrase.weight, True, core
            elif not where:
                yield phrase.concern, text, phrase.weight, False, core
            for concern in sorted(where) if phrase.floating else ():
                yield concern, text, phrase.weight, True, core
    counted: list[int] = []  # the places that counted, by their first word
    for concern, start, end, weight in sorted(places, key=lambda p: p[1]):
        if any(used[start:end]):
            continue
        near = [c for c in complaints if start - NEAR - 1 <= c < start or end <= c <= end + NEAR]
        # "pain in the face, jaw and neck": a place listed with one that counts counts too.
        listed = [p for p in counted if set(norm[p + 1 : start]) <= _LISTING and start - p <= 4]
        if near or listed:
            used[start:end] = [True] * (end - start)
            counted.append(start)
            closest = min(near or listed, key=lambda c: start - c if c < start else c - end + 1)
            first, last = min(start, closest), max(end - 1, closest) + 1
            yield concern, _span(unit, tokens, first, last), weight * aftercare, True, True


_Tokens = tuple[list[tuple[str, int, int]], list[str], list[bool]]


def _tokens(unit: str, vocabulary: _Vocabulary) -> _Tokens:
    """The unit's words (as written, start, end), their plain forms, and which of them an
    ignored phrase masks."""
    tokens = [(m.group(), m.start(), m.end()) for m in _WORD.finditer(unit)]
    norm = [_normal(t[0]) for t in tokens]
    used = [False] * len(norm)
    for start, end in _matches(norm, vocabulary.ignored):
        used[start:end] = [True] * (end - start)
    return tokens, norm, used


def _places(words_: _Tokens, vocabulary: _Vocabulary) -> list[tuple[str, int, int, float]]:
    """(concern, start, end, weight) of each place named and not masked."""
    _, norm, used = words_
    return [
        (concern, start, end, phrase.weight)
        for concern, phrases in vocabulary.places.items()
        for phrase in phrases
        for start, end in _matches(norm, (phrase.words,))
        if not any(used[start:end])
    ]


def _matches(norm: list[str], phrases) -> Iterator[tuple[int, int]]:
    """(start, end) of each place in `norm` where one of `phrases` stands."""
    present = set(norm)
    for words_ in phrases:
        if present.isdisjoint(words_[0]):  # most phrases are not in a sentence at all
            continue
        size = len(words_)
        for start in range(len(norm) - size + 1):
            if all(norm[start + i] in words_[i] for i in range(size)):
                yield start, start + size


def _span(unit: str, tokens: list[tuple[str, int, int]], start: int, end: int) -> str:
    text = unit[tokens[start][1] : tokens[end - 1][2]]
    return " ".join(re.sub(r"[\"“”]", "", text).split())


def _normal(token: str) -> str:
    token = token.lower().replace("’", "'")
    return token[:-2] if token.endswith("'s") else token


def _forms(word: str) -> frozenset[str]:
    """The word with its usual endings: click → clicks, clicked, clicking; ache → aching."""
    w = word.lower()
    forms = {w, w + "s", w + "es", w + "ed", w + "ing"}
    if w.endswith("e"):
        forms |= {w + "d", w[:-1] + "ing"}
    if w.endswith("y"):
        forms |= {w[:-1] + "ies", w[:-1] + "ied"}
    if re.search(r"(?:^|[^aeiou])[aeiou][bdgklmnprt]$", w):
        forms |= {w + w[-1] + "ing", w + w[-1] + "ed"}
    return frozenset(forms)


def _phrase_words(phrase: str) -> tuple[frozenset[str], ...]:
    parts = [_normal(p) for p in _WORD.findall(phrase)]
    return tuple(frozenset({p}) for p in parts[:-1]) + ((_forms(parts[-1]),) if parts else ())


@cache
def _vocabulary(segments: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]) -> _Vocabulary:
    """Chairside's words for each concern, with the practice's own keywords and ignores.

    A practice keyword Chairside knows keeps its meaning: a place ("jaw", "neck") counts
    only beside a complaint, as it always meant "jaw pain", not "jawbone"; a known term
    ("clenching") keeps its weight. Any other keyword counts as a term of full weight.
    """
    all_terms = [t for ts in words.TERMS.values() for t in ts]
    all_places = {p: w for table in words.PLACES.values() for p, w in table.items()}
    terms: list[_Phrase] = []
    places: dict[str, tuple[_Phrase, ...]] = {}
    ignored = list(words.IGNORED)
    for concern, keywords, ignore in segments:
        ignored += ignore
        own_terms = list(words.TERMS.get(concern, ()))
        own_places = dict(words.PLACES.get(concern, {}))
        for keyword in keywords:
            said = [_normal(w) for w in _WORD.findall(keyword)]
            if not said or _known(said, [t.phrase for t in own_terms] + list(own_places)):
                continue
            if place := _known(said, list(all_places)):
                own_places[place] = all_places[place]
            elif term := _known(said, [t.phrase for t in all_terms]):
                own_terms.append(next(t for t in all_terms if t.phrase == term))
            else:
                own_terms.append(words.Term(" ".join(said), 1.0))
        terms += [
            _Phrase(concern, _phrase_words(t.phrase), t.weight, t.floating, t.habit)
            for t in own_terms
        ]
        places[concern] = tuple(_Phrase(None, _phrase_words(p), w) for p, w in own_places.items())
    return _Vocabulary(
        terms=tuple(t for t in terms if t.words),
        places=places,
        ignored=tuple(w for w in map(_phrase_words, ignored) if w),
        complaints=frozenset(f for c in words.COMPLAINTS for f in _forms(c)),
        aftercare=frozenset(words.AFTERCARE),
    )


def _known(said: list[str], phrases: list[str]) -> str | None:
    """The phrase of `phrases` that `said` is a form of ("clenching" of "clench")."""
    for phrase in phrases:
        pattern = _phrase_words(phrase)
        if len(pattern) == len(said) and all(
            w in forms for w, forms in zip(said, pattern, strict=True)
        ):
            return phrase
    return None
