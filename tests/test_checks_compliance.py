"""Compliance, privacy and subject rules: each fault found, each clean campaign passing."""

from __future__ import annotations

import email
import html
from email import policy
from pathlib import Path

import pytest

from chairside.checks import ERROR, WARNING, build_context
from chairside.checks.compliance import (
    from_address,
    leftover_template,
    list_unsubscribe,
    postal_address,
    unsubscribe_link,
)
from chairside.checks.privacy import concern_named
from chairside.checks.subject import subject_rules
from chairside.workspace import Workspace
from tests.support import copy_demo

CAMPAIGN = "campaigns/2026-12/campaign.toml"
SUBJECT = 'subject = "December at Harbor Lane: easing everyday aches"'


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = copy_demo(tmp_path_factory.mktemp("demo") / "practice")
    return build_context(Workspace(root), "2026-12")


def findings(rule, context) -> list[tuple[str, str, str]]:
    return [(f.rule, f.severity, f.variant) for f in rule(context)]


@pytest.mark.parametrize(
    "rule",
    [
        leftover_template,
        postal_address,
        unsubscribe_link,
        list_unsubscribe,
        from_address,
        concern_named,
        subject_rules,
    ],
)
def test_the_demo_campaign_passes(demo, rule):
    assert findings(rule, demo) == []


def edited(tmp_path: Path, path: str, old: str, new: str):
    root = copy_demo(tmp_path / "practice")
    target = root / path
    text = target.read_text()
    assert old in text
    target.write_text(text.replace(old, new))
    return build_context(Workspace(root), "2026-12")


def test_a_subject_every_version_shares_is_a_warning_not_an_error(tmp_path):
    """It goes to every patient alike, so it tells nothing about any one of them."""
    context = edited(tmp_path, CAMPAIGN, SUBJECT, 'subject = "Relief for your TMJ pain"')
    found = findings(concern_named, context)
    assert found and all(severity == WARNING for _, severity, _ in found)


def test_a_general_preheader_is_not_an_error_but_the_same_words_in_one_version_are(tmp_path):
    context = edited(
        tmp_path,
        CAMPAIGN,
        "[segments.tmj]\n",
        '[segments.tmj]\nsubject = "Jaw pain relief that works overnight"\n',
    )
    found = [f for f in concern_named(context) if f.severity == ERROR]
    assert [(f.variant, f.where) for f in found] == [
        ("tmj", "campaign.toml [segments.tmj] subject")
    ]
    assert "Reword it in campaign.toml under [segments.tmj]" in found[0].message


def test_a_concern_in_one_segments_preheader(tmp_path):
    context = edited(
        tmp_path,
        CAMPAIGN,
        "[segments.neck_shoulder]\n",
        '[segments.neck_shoulder]\nsubject = "Help for a stiff neck"\n',
    )
    assert findings(concern_named, context) == [("concern-named", ERROR, "neck_shoulder")]


def test_a_concern_carried_by_a_link(tmp_path):
    post = "campaigns/2026-12/posts/night-guards-for-grinding.md"
    root = copy_demo(tmp_path / "practice")
    (root / CAMPAIGN).write_text((root / CAMPAIGN).read_text().replace('"auto"', '"full"'))
    (root / post).write_text(
        (root / post)
        .read_text()
        .replace(
            "(https://harborlanedental.example.com/services/tmj-jaw-pain)",
            "(https://harborlanedental.example.com/services/?utm_content=bruxism-patients)",
        )
    )
    context = build_context(Workspace(root), "2026-12")
    found = [f for f in concern_named(context)]
    assert {f.variant for f in found} == {"tmj", "general"}
    assert "utm_content=bruxism" in found[0].where


def test_a_missing_postal_address(tmp_path):
    context = edited(
        tmp_path,
        "practice.toml",
        'address = "1420 Harbor Lane, Suite 200, Port Alder, WA 98362"',
        'address = "TODO: street, city, postcode"',
    )
    assert ("postal-address", ERROR, "tmj") in findings(postal_address, context)


def test_a_template_without_address_or_unsubscribe(tmp_path):
    root = copy_demo(tmp_path / "practice")
    theme = Path(__file__).resolve().parent.parent / "src/chairside/theme/newsletter.mjml"
    text = theme.read_text()
    start = text.index('<mj-section padding="20px 16px 36px">')
    end = text.index("</mj-section>", start) + len("</mj-section>")
    (root / "templates/newsletter.mjml").write_text(text[:start] + text[end:])
    context = build_context(Workspace(root), "2026-12")
    assert ("postal-address", ERROR, "general") in findings(postal_address, context)
    assert ("unsubscribe-link", ERROR, "general") in findings(unsubscribe_link, context)


def test_leftover_template_syntax(tmp_path):
    context = edited(
        tmp_path,
        "campaigns/2026-12/posts/holiday-hours.md",
        "The holidays are almost here",
        "The {{ holidays }} are almost here",
    )
    assert ("leftover-template", ERROR, "general") in findings(leftover_template, context)


def test_list_unsubscribe_needs_one_click_with_https(demo):
    from email.message import EmailMessage

    view = demo.variants[0]
    broken = EmailMessage()
    broken["List-Unsubscribe"] = "<https://harborlanedental.example.com/u?token=x>"
    original, view.message = view.message, broken
    try:
        rules = {f.where for f in list_unsubscribe(demo)}
    finally:
        view.message = original
    assert rules == {"List-Unsubscribe header", "List-Unsubscribe-Post header"}


@pytest.mark.parametrize(
    ("subject", "rule"),
    [
        ('subject = "BIG SAVINGS THIS MONTH ON CLEANINGS"', "subject-shouting"),
        ('subject = "Book now!! Holiday hours inside!"', "subject-exclamation"),
        ('subject = "' + "A very long subject line that keeps going " * 3 + '"', "subject-length"),
    ],
)
def test_subject_warnings(tmp_path, subject: str, rule: str):
    context = edited(tmp_path, CAMPAIGN, SUBJECT, subject)
    assert (rule, WARNING, "tmj") in findings(subject_rules, context)


def test_no_preheader(tmp_path):
    context = edited(
        tmp_path,
        CAMPAIGN,
        'preheader = "Three short reads from our team, plus our holiday hours."',
        'preheader = ""',
    )
    assert ("preheader-missing", WARNING, "general") in findings(subject_rules, context)


@pytest.mark.parametrize(
    "name", ["{{ Maximilian }}", "<mj-text>Maximilian", "{% Maximilian-Alexander %}"]
)
def test_a_patient_name_is_never_taken_for_template_code(tmp_path, run, name):
    """`leftover-template` must never see a patient's name, or one odd patient record would
    block the whole campaign; the name itself still reaches that patient, as data."""
    root = copy_demo(tmp_path / "practice")
    with (root / "audiences/patients.csv").open("a", encoding="utf-8") as handle:
        handle.write(f'HLD-99999,"{name}",Doe,odd.name@example.com,TMJ,Y,2026-10-01\n')
    context = build_context(Workspace(root), "2026-12")
    assert findings(leftover_template, context) == []
    result = run("check", "2026-12", cwd=root)
    assert "leftover-template" not in result.output, result.output
    out = tmp_path / "eml"
    exported = run("export", "2026-12", "--to", "eml", "--out", str(out), cwd=root)
    assert exported.exit_code == 0, exported.output
    sent = [
        email.message_from_bytes(path.read_bytes(), policy=policy.default)
        for path in out.glob("*.eml")
    ]
    (odd,) = [m for m in sent if "odd.name@example.com" in str(m["To"])]
    assert html.escape(name) in odd.get_body(("html",)).get_content()
