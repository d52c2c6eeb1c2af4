"""Tagging posts with the concerns they are about (issue 19): measured on the labelled set,
and each way a word can be there without the post being about it."""

from __future__ import annotations

import html
import re
import tomllib
from pathlib import Path

import pytest

from chairside.audience.segments import load_segments
from chairside.content import read_post
from chairside.content.topics import explain, tag_article
from tests.support import StudioServer, assert_user_error, copy_demo, read_written
from tests.tagging_set import DEFAULT_SEGMENTS, SETS, measure

SEGMENTS = load_segments(DEFAULT_SEGMENTS)


@pytest.mark.parametrize("name", ["train", *(f"heldout{n}" for n in ("", 2, 3, 4, 5))])
def test_labelled_posts_precision_and_recall(name: str):
    m = measure(SETS / name)
    assert len(m.results) >= (60 if name == "train" else 15)
    for concern in m.concerns:
        assert m.precision(concern) >= 0.95, (concern, m.false_pos.get(concern))
        assert m.recall(concern) >= 0.95, (concern, m.false_neg.get(concern))
    assert m.general_right == m.general  # every general post stays general


def tags(tmp_path: Path, text: str, name: str = "post.md", segments=SEGMENTS):
    return tag_article(read_written(tmp_path, name, text), segments)


FILLER = (
    "Our team sees patients of every age, and we take the time to explain each step of "
    "their care so that nothing comes as a surprise. "
)


def test_the_jaw_as_anatomy_does_not_count(tmp_path):
    text = (
        "# Implants in the Upper Jaw\n\n"
        "The jawbone shrinks after a tooth is lost. In the upper jaw the sinus sits close "
        "to the bone; in the lower jaw we plan around the nerve. A jaw fracture in sport "
        "is another reason to lose a tooth. Bone in the jaw holds the implant.\n\n" + FILLER * 3
    )
    assert tags(tmp_path, text) == ()


def test_neck_in_other_senses_does_not_count(tmp_path):
    text = (
        "# Snoring and Sleep Apnea\n\n"
        "A neck size over 17 inches is a warning sign, and a large neck circumference "
        "narrows the airway. At checkups we also screen for head and neck cancer and look "
        "at the neck of each tooth for wear, which can be painful.\n\n" + FILLER * 3
    )
    assert tags(tmp_path, text) == ()


def test_a_symptom_list_in_a_tmj_post_does_not_make_it_a_neck_post(tmp_path):
    text = (
        "# TMJ Disorders\n\nThe temporomandibular joint can hurt for many reasons. "
        "Jaw pain that lasts weeks deserves a visit.\n\n## Symptoms\n\n"
        "- jaw pain\n- clicking\n- headaches at the temples\n- neck or shoulder pain\n"
        "- ringing in the ears\n\nA splint and jaw exercises help most people with TMJ pain.\n"
    )
    tagging = explain(read_written(tmp_path, "tmd.md", text), SEGMENTS)
    assert tagging.tags == ("tmj",)
    neck = tagging.scores["neck_shoulder"]
    assert (neck.reasons[0].phrase, neck.reasons[0].places) == ("neck or shoulder pain", ("list",))


def test_one_clenching_bullet_in_a_tech_neck_post_does_not_make_it_a_jaw_post(tmp_path):
    text = (
        "# Tech Neck\n\nLooking down at a phone strains the neck. A stiff neck and tight "
        "shoulders follow.\n\nSigns:\n\n- a sore neck\n- tight shoulders\n"
        "- clenching your jaw while you scroll\n\nRaise the screen and stretch.\n"
    )
    assert tags(tmp_path, text) == ("neck_shoulder",)


def test_clenching_as_a_cause_in_an_implant_post_does_not_count(tmp_path):
    text = (
        "# Caring for Your New Implant\n\nClenching and grinding can overload an implant, "
        "so patients who grind may need a night guard.\n\n" + FILLER * 4
    )
    assert tags(tmp_path, text) == ()


@pytest.mark.parametrize(
    "text",
    [
        # list items: the last word of one item and the first of the next
        "# Stretches\n\n- roll your upper\n- back jaw exercises twice\n\n",
        # a place in one sentence, a complaint in the next
        "# Stretches\n\nRest your neck. Pain is not what we want.\n\n",
        # the back of the upper jaw is not the upper back
        "# Bridges\n\nBone loss in the upper back jaw can make the sinus dip lower, which "
        "can be painful.\n\n",
    ],
)
def test_phrases_never_join_words_across_sentences_or_items(tmp_path, text):
    tagging = explain(read_written(tmp_path, "post.md", text + FILLER), SEGMENTS)
    assert tagging.scores["neck_shoulder"].score == 0, tagging.scores


def test_length_counts_a_short_post_about_the_jaw_and_not_a_long_one_with_an_aside(tmp_path):
    short = (
        "# Sore Jaw in the Morning?\n\nIf your jaw aches when you wake, you may clench at night.\n"
    )
    assert tags(tmp_path, short, "short.md") == ("tmj",)
    aside = "If your jaw aches when you wake, you may clench at night. Ask us about it."
    long = "# Whitening Questions\n\n" + (FILLER * 6 + "\n\n") * 3 + aside + "\n"
    tagging = explain(read_written(tmp_path, "long.md", long), SEGMENTS)
    assert tagging.tags == ()
    assert tagging.short_of("tmj") == "too little for the post's length"


def test_a_file_name_is_never_weighed_as_a_title(tmp_path):
    text = "We close at noon on December 24 and reopen on January 4. Happy holidays!\n"
    article = read_written(tmp_path, "tmj-jaw-pain-bruxism-splint.txt", text)
    assert article.title == "Tmj jaw pain bruxism splint"  # the reader's fallback…
    assert tag_article(article, SEGMENTS) == ()  # …but not a headline


def test_a_long_first_line_is_the_title_of_a_text_post(tmp_path):
    headline = "Could Your Morning Headaches Be Coming From Your Jaw Rather Than Your Pillow?"
    text = f"{headline}\n\nIf you wake with a headache at the temples, you may clench.\n"
    article = read_written(tmp_path, "post.txt", text)
    assert article.title == headline
    assert headline not in article.body_html
    reasons = explain(article, SEGMENTS).why("tmj")
    assert reasons[0].places == ("title",)


def test_a_headline_in_two_parts_is_the_title_of_a_text_post(tmp_path):
    headline = "Waking Up With a Headache and a Tired Jaw? You Might Be Grinding"
    article = read_written(tmp_path, "post.txt", f"{headline}\n\nMany people grind.\n")
    assert article.title == headline


@pytest.mark.parametrize(
    "first",
    [
        "We are closed on Monday. Call us on Tuesday.",  # two sentences: a paragraph
        "Our office will be closed from December 24 through January 1 so the team can rest.",
    ],
)
def test_a_first_paragraph_is_not_taken_for_a_title(tmp_path, first):
    article = read_written(tmp_path, "holiday-hours.txt", f"{first}\n\nSee you soon.\n")
    assert article.title == "Holiday hours"


def test_a_long_first_line_is_the_title_of_a_markdown_post_without_one(tmp_path):
    headline = "What Your Dentist Wants You to Know About Grinding Your Teeth at Night"
    article = read_written(tmp_path, "post.md", f"{headline}\n\nMany people grind.\n")
    assert article.title == headline
    assert headline not in article.body_html


def test_reasons_name_the_phrases_and_where_they_stood(tmp_path):
    text = (
        "---\ntitle: Why Does My Jaw Click?\ntags: [TMJ]\n---\n"
        "## Clicking and TMJ pain\n\nA clicking jaw is common. Jaw pain with it is not.\n\n"
        "- neck pain\n"
    )
    tagging = explain(read_written(tmp_path, "click.md", text), SEGMENTS)
    assert tagging.tags == ("tmj",)
    why = [str(reason) for reason in tagging.why("tmj")]
    # the same phrase wherever it stood is one reason; the neck pain in the list is not one
    assert why == ['"TMJ" (tags, heading)', '"Jaw Click" (title)', '"Jaw pain" (body)']
    assert tagging.lines()[0] == "tmj because of " + ", ".join(why)


def test_the_practice_adds_its_words_and_what_does_not_count(tmp_path):
    (tmp_path / "segments.toml").write_text(
        "[segments.tmj]\nname = 'Jaw'\npriority = 2\nkeywords = ['jaw', 'lockjaw', 'bite pain']\n"
        "ignore = ['jaw workout']\n"
        "[segments.sleep]\nname = 'Sleep'\npriority = 1\nkeywords = ['snoring', 'sleep apnea']\n"
    )
    segments = load_segments(tmp_path / "segments.toml")
    bite = "# Bite Pain After a Filling\n\nBite pain after a new filling usually settles.\n"
    assert tags(tmp_path, bite, "bite.md", segments) == ("tmj",)
    workout = "# A Jaw Workout\n\nA jaw workout gadget is sold online. Our sore jaw workout …\n"
    assert tags(tmp_path, workout, "gadget.md", segments) == ()
    sleep = "# Snoring and Sleep Apnea\n\nSnoring can be a sign of sleep apnea.\n"
    assert tags(tmp_path, sleep, "sleep.md", segments) == ("sleep",)


OLD_SEGMENTS = """\
[segments.tmj]
name = "Jaw & TMJ pain"
priority = 20
patient_tags = ["tmj", "jaw pain"]
keywords = [
    "tmj", "tmd", "jaw", "jaw joint", "temporomandibular", "bruxism", "grinding", "grind",
    "clenching", "clench", "night guard", "splint", "morning headache",
]

[segments.neck_shoulder]
name = "Neck & shoulder pain"
priority = 10
keywords = [
    "neck", "shoulder", "myofascial", "trigger point", "posture", "muscle knot",
    "upper back", "whiplash", "stiff neck",
]
"""


def test_a_segments_file_from_before_still_tags_by_what_posts_are_about(tmp_path):
    # As `init` wrote it before issue 19: bare "jaw" and "neck" among the keywords.
    (tmp_path / "segments.toml").write_text(OLD_SEGMENTS)
    segments = load_segments(tmp_path / "segments.toml")
    implant = (
        "# Implants\n\nBone in the upper jaw and the lower jaw holds an implant. The jaw heals.\n"
    )
    assert tags(tmp_path, implant + FILLER, "implant.md", segments) == ()
    click = "# Why Does My Jaw Click?\n\nA clicking jaw is common; jaw pain with it is not.\n"
    assert tags(tmp_path, click, "click.md", segments) == ("tmj",)
    assert measure(SETS / "heldout", segments).general_right == measure(SETS / "heldout").general


def test_a_bad_ignore_list_names_the_file_and_key(tmp_workspace, run):
    path = tmp_workspace / "audiences" / "segments.toml"
    path.write_text(path.read_text().replace("[segments.tmj]\n", "[segments.tmj]\nignore = 3\n"))
    assert_user_error(
        run(
            "new",
            "2027-02",
            "--post",
            str(tmp_workspace / "campaigns/2026-12/posts/holiday-hours.md"),
            cwd=tmp_workspace,
        ),
        "segments.toml",
        "[segments.tmj] ignore: must be a list of words in quotes",
    )


def test_new_prints_the_reasons_and_the_concerns_almost_given(tmp_workspace, run, tmp_path):
    tmd = tmp_path / "tmd.md"
    tmd.write_text(
        "# TMJ Disorders\n\nThe temporomandibular joint can hurt. Jaw pain that lasts weeks "
        "deserves a visit. Many people with it also have a stiff neck and sore shoulders.\n\n"
        "- jaw pain\n- clicking\n- neck or shoulder pain\n"
    )
    result = run("new", "2027-02", "--post", str(tmd), cwd=tmp_workspace)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    at = lines.index("  tmd.md: tmj")
    assert lines[at + 1] == (
        '      tmj because of "TMJ" (title), "temporomandibular" (body), "Jaw pain" (body, list)'
    )
    assert lines[at + 2] == (
        '      almost neck_shoulder: "sore shoulders" (body), "stiff neck" (body), '
        '"neck or shoulder pain" (list) (a small part beside tmj)'
    )


def test_the_studio_shows_the_reasons_beside_each_posts_concern_boxes(tmp_path):
    server = StudioServer(copy_demo(tmp_path / "practice"))
    try:
        page = server.client().get("/c/2026-12/edit").text
    finally:
        server.close()
    posts = dict(re.findall(r'<div class="post" data-file="([^"]+)">(.*?)</div>', page, re.S))
    night = html.unescape(posts["night-guards-for-grinding.md"])
    assert (
        'Chairside\'s reading: Jaw & TMJ pain because of "Grinding" (title, heading, body; 6 times)'
        in night
    )
    desk = html.unescape(posts["desk-posture-and-neck-pain.html"])
    assert 'Neck & shoulder pain because of "Neck Pain" (title)' in desk
    assert "almost Jaw & TMJ pain: " in desk and "(a small part beside Neck & shoulder" in desk
    assert "Chairside's reading" not in posts["holiday-hours.md"]
    assert 'name="post_tags_1" value="tmj" checked' in page  # the boxes stay as saved


def test_the_demo_posts_are_tagged_as_the_practice_tagged_them():
    repo = Path(__file__).parent.parent
    settings = tomllib.loads((repo / "campaigns/2026-12/campaign.toml").read_text())
    for entry in settings["posts"]:
        article = read_post(repo / "campaigns/2026-12/posts" / entry["file"])
        assert list(tag_article(article, SEGMENTS)) == entry["tags"], entry["file"]


def test_a_list_of_services_or_related_posts_weighs_as_a_list(tmp_path):
    text = (
        "# Dental Implants in Springfield\n\n"
        "Our team offers implants, Invisalign, TMJ therapy, sleep apnea appliances and "
        "bonding under one roof.\n\n"
        "Related posts: Implants vs. Dentures · TMJ Treatment Options · Whitening at Home\n\n"
        + FILLER
        * 2
    )
    tagging = explain(read_written(tmp_path, "implants.md", text), SEGMENTS)
    assert [(r.phrase, r.places, r.count) for r in tagging.scores["tmj"].reasons] == [
        ("TMJ", ("list",), 2)
    ]
    assert tagging.tags == ()


def test_soreness_after_a_procedure_weighs_half(tmp_path):
    text = "# Recovery\n\nSome jaw soreness after surgery is normal. A sore jaw can also mean …\n"
    reasons = explain(read_written(tmp_path, "recovery.md", text), SEGMENTS).why("tmj")
    assert {r.phrase: r.weight for r in reasons} == {"jaw soreness": 0.5, "sore jaw": 1.0}


def test_grinding_and_night_guards_without_a_complaint_are_not_enough(tmp_path):
    text = (
        "# Night Guards and Sports Guards\n\nA night guard protects teeth from grinding. "
        "Grinding wears enamel. We make night guards in one visit. Clenching and grinding "
        "at night are common. Grinding at night is called bruxism. Some wake with a sore jaw.\n"
    )
    tagging = explain(read_written(tmp_path, "guards.md", text), SEGMENTS)
    assert tagging.tags == () and tagging.almost == ("tmj",)
    assert tagging.short_of("tmj") == "mostly words that go with it, little of what hurts"


def test_a_short_post_whose_title_is_the_habit_is_about_it(tmp_path):
    text = (
        "# Do You Grind Your Teeth?\n\nMany people grind their teeth at night without knowing "
        "it. Grinding can lead to jaw pain, headaches and worn teeth. A custom night guard can "
        "help. Ask us at your next visit.\n"
    )
    assert tags(tmp_path, text, "grind.md") == ("tmj",)


def test_a_cracking_neck_is_a_complaint_and_a_long_sentence_with_commas_is_prose(tmp_path):
    text = (
        "# Is It Safe to Crack Your Own Neck?\n\nMany patients crack their neck every day. "
        "When you clench through stress or concentration, your jaw muscles tighten and "
        "develop tender knots that ache, refer pain to the teeth and ear, and limit how wide "
        "you can open.\n"
    )
    tagging = explain(read_written(tmp_path, "crack.md", text), SEGMENTS)
    assert [(r.phrase, r.places) for r in tagging.why("neck_shoulder")] == [
        ("Crack Your Own Neck", ("title",)),
        ("crack their neck", ("body",)),
    ]
    assert {r.places for r in tagging.why("tmj")} == {("body",)}  # not a list: long items


@pytest.mark.parametrize(
    ("sentence", "concern"),
    [
        ("Tension headaches often come from a jaw that clenches all night.", "tmj"),
        ("Tension headaches often start in the muscles of the neck.", "neck_shoulder"),
    ],
)
def test_tension_headaches_go_where_their_paragraph_places_them(tmp_path, sentence, concern):
    tagging = explain(read_written(tmp_path, "post.md", f"# Headaches\n\n{sentence}\n"), SEGMENTS)
    assert "Tension headaches" in [r.phrase for r in tagging.why(concern)]
    other = "neck_shoulder" if concern == "tmj" else "tmj"
    assert "Tension headaches" not in [r.phrase for r in tagging.why(other)]
