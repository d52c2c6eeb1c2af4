"""`chairside build` on the demo practice: what a patient of each segment would receive."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from lxml import html as lxml_html

from tests.support import assert_user_error

SEGMENTS = ("tmj", "neck_shoulder", "general")
CONCERN_WORDS = ("tmj", "neck_shoulder", "neck", "jaw", "myofascial")


@pytest.fixture
def built(tmp_workspace: Path, run) -> Path:
    result = run("build", "2026-12", cwd=tmp_workspace)
    assert result.exit_code == 0, result.output
    return tmp_workspace / "build" / "2026-12"


def page(built: Path, segment: str) -> str:
    return (built / f"{segment}.html").read_text(encoding="utf-8")


def test_every_variant_has_html_text_manifest_and_preview(built: Path):
    names = sorted(p.name for p in built.iterdir())
    assert names == sorted(
        [f"{s}.html" for s in SEGMENTS]
        + [f"{s}.txt" for s in SEGMENTS]
        + ["index.html", "manifest.json"]
    )
    manifest = json.loads((built / "manifest.json").read_text())
    assert [v["segment"] for v in manifest["variants"]] == list(SEGMENTS)
    for variant in manifest["variants"]:
        assert variant["html_bytes"] == len(page(built, variant["segment"]).encode())
        assert variant["subject"] and variant["preheader"]


@pytest.mark.parametrize("segment", SEGMENTS)
def test_each_variant_is_a_complete_safe_email(built: Path, segment: str):
    source = page(built, segment)
    assert source.startswith("<!doctype html>")
    assert re.search(r'<html[^>]*\blang="en"', source)
    for leftover in ("<script", "{{", "{%", "<mj-", "CHAIRSIDE__", "javascript:"):
        assert leftover not in source, leftover
    assert len(source.encode()) < 102 * 1024
    doc = lxml_html.fromstring(source)
    assert all(img.get("alt") is not None for img in doc.iter("img"))
    text = doc.text_content()
    assert "1420 Harbor Lane, Suite 200, Port Alder, WA 98362" in text
    assert "Hi Jordan," in text  # the sample patient, never a real one
    unsubscribe = [a for a in doc.iter("a") if a.text_content().strip() == "Unsubscribe"]
    assert unsubscribe[0].get("href") == (
        "https://harborlanedental.example.com/unsubscribe?token=preview"
    )
    assert "on" not in {attr[:2] for el in doc.iter() for attr in el.attrib}
    plain = (built / f"{segment}.txt").read_text(encoding="utf-8")
    assert "Hi Jordan," in plain
    assert "Unsubscribe: <https://harborlanedental.example.com/unsubscribe?token=preview>" in plain
    assert "1420 Harbor Lane" in plain


def test_posts_are_ordered_per_segment(built: Path):
    manifest = {
        v["segment"]: v["articles"]
        for v in json.loads((built / "manifest.json").read_text())["variants"]
    }
    # The general version leads with office news, then the posts for several concerns.
    holiday, jaw_and_neck, guards, posture = (
        manifest["general"][0],
        manifest["general"][1],
        manifest["general"][2],
        manifest["general"][3],
    )
    assert manifest["tmj"] == [jaw_and_neck, guards, holiday]
    assert manifest["neck_shoulder"] == [jaw_and_neck, posture, holiday]
    assert holiday.startswith("Holiday Hours")
    assert len(manifest["general"]) == 4


def test_the_author_bio_stays_out_of_the_article(built: Path):
    plain = (built / "tmj.txt").read_text(encoding="utf-8")  # her post leads: a byline
    assert "I’m Dr. Maya Castillo" not in plain and "I'm Dr. Maya Castillo" not in plain
    assert "By Dr. Maya Castillo" in plain


def test_links_carry_utm_but_never_a_concern(built: Path):
    for segment in SEGMENTS:
        doc = lxml_html.fromstring(page(built, segment))
        hrefs = [a.get("href") for a in doc.iter("a") if a.get("href", "").startswith("http")]
        tracked = [h for h in hrefs if "unsubscribe" not in h]
        assert tracked
        for href in tracked:
            assert "utm_source=newsletter&utm_medium=email&utm_campaign=2026-12" in href
            query = href.split("?", 1)[1].lower()
            assert not any(word in query for word in CONCERN_WORDS), href


def test_relative_image_in_saved_page_is_made_absolute(tmp_workspace: Path, run):
    toml = tmp_workspace / "campaigns/2026-12/campaign.toml"
    toml.write_text(toml.read_text().replace('format = "auto"', 'format = "full"'))
    assert run("build", "2026-12", cwd=tmp_workspace).exit_code == 0
    doc = lxml_html.fromstring(page(tmp_workspace / "build/2026-12", "neck_shoulder"))
    sources = [img.get("src") for img in doc.iter("img")]
    assert sources and all(src.startswith("https://") for src in sources)


def test_preview_page_frames_every_variant_at_desktop_and_mobile(built: Path):
    doc = lxml_html.fromstring((built / "index.html").read_text(encoding="utf-8"))
    frames = [(f.get("src"), f.get("width")) for f in doc.iter("iframe")]
    for segment in SEGMENTS:
        assert (f"{segment}.html", "375") in frames
        assert any(src == f"{segment}.html" and int(w) >= 600 for src, w in frames)
    assert "December at Harbor Lane" in doc.text_content()


def test_excerpt_format_links_to_the_full_post(tmp_workspace: Path, run):
    toml = tmp_workspace / "campaigns/2026-12/campaign.toml"
    toml.write_text(toml.read_text().replace('format = "auto"', 'format = "excerpt"'))
    assert run("build", "2026-12", cwd=tmp_workspace).exit_code == 0
    source = page(tmp_workspace / "build/2026-12", "tmj")
    doc = lxml_html.fromstring(source)
    links = [a.get("href") for a in doc.iter("a") if "Read the article" in a.text_content()]
    assert any("night-guards-for-grinding" in h and "utm_campaign=2026-12" in h for h in links)


def test_a_failed_build_keeps_the_previous_one(built: Path, tmp_workspace: Path, run):
    before = {p.name: p.read_bytes() for p in built.iterdir()}
    (tmp_workspace / "campaigns/2026-12/posts/holiday-hours.md").unlink()
    result = run("build", "2026-12", cwd=tmp_workspace)
    assert_user_error(result, "holiday-hours.md")
    assert {p.name: p.read_bytes() for p in built.iterdir()} == before
    assert [p.name for p in built.parent.iterdir()] == ["2026-12"]


def test_a_practice_template_overrides_the_theme(tmp_workspace: Path, run):
    assert run("templates", "--copy", "newsletter.txt", cwd=tmp_workspace).exit_code == 0
    mine = tmp_workspace / "templates/newsletter.txt"
    mine.write_text("Dear {{ first_name }}: {{ articles | length }} posts\n")
    assert run("build", "2026-12", cwd=tmp_workspace).exit_code == 0
    text = (tmp_workspace / "build/2026-12/tmj.txt").read_text()
    assert text == "Dear Jordan: 3 posts\n"
    listing = run("templates", cwd=tmp_workspace).output
    assert "yours: templates/newsletter.txt" in listing


def test_preview_prints_the_text_and_opens_the_page(tmp_workspace: Path, run, monkeypatch):
    opened = []
    monkeypatch.setattr("webbrowser.open", lambda uri: opened.append(uri) or True)
    result = run("preview", "2026-12", "--segment", "tmj", cwd=tmp_workspace)
    assert result.exit_code == 0
    # The text part, opening with the preview as the HTML does.
    assert result.output.startswith("Three short reads from our team")
    assert "\nHarbor Lane Dental\n" in result.output
    result = run("preview", "2026-12", "--open", cwd=tmp_workspace)
    assert result.exit_code == 0
    assert opened == [(tmp_workspace.resolve() / "build/2026-12/index.html").as_uri()]
    assert_user_error(run("preview", "2026-12", "-s", "nope", cwd=tmp_workspace), "nope")


def test_preview_without_a_browser_says_where_the_page_is(tmp_workspace: Path, run, monkeypatch):
    monkeypatch.setattr("webbrowser.open", lambda uri: False)
    result = run("preview", "2026-12", "--open", cwd=tmp_workspace)
    assert result.exit_code == 0
    assert "No web browser found here: open " in result.output
    assert "build/2026-12/index.html in one." in result.output


def preview_facts(folder: Path) -> dict[str, dict[str, str]]:
    """segment → the facts listed above its frames on the preview page."""
    doc = lxml_html.fromstring((folder / "index.html").read_text(encoding="utf-8"))
    facts = {}
    for section in doc.iter("section"):
        terms = [dt.text_content() for dt in section.iter("dt")]
        values = [dd.text_content() for dd in section.iter("dd")]
        facts[section.get("id")] = dict(zip(terms, values, strict=True))
    return facts


def test_preview_counts_patients_per_version_and_build_does_not(tmp_workspace: Path, run):
    assert run("build", "2026-12", cwd=tmp_workspace).exit_code == 0
    built_facts = preview_facts(tmp_workspace / "build/2026-12")
    assert built_facts["tmj"]["Patients"].startswith("not counted")
    assert built_facts["tmj"]["From"] == "Harbor Lane Dental <news@harborlanedental.example.com>"

    assert run("preview", "2026-12", cwd=tmp_workspace).exit_code == 0
    counts = json.loads(run("audience", "--json", cwd=tmp_workspace).output)["segments"]
    facts = preview_facts(tmp_workspace / "build/2026-12")
    assert {segment: int(f["Patients"]) for segment, f in facts.items()} == counts

    (tmp_workspace / "audiences/patients.csv").write_bytes(b"")
    assert run("preview", "2026-12", cwd=tmp_workspace).exit_code == 0
    reason = preview_facts(tmp_workspace / "build/2026-12")["tmj"]["Patients"]
    assert "chairside audience" in reason


@pytest.mark.parametrize(
    ("phone", "link"),
    [
        ("(360) 555-0142", "tel:3605550142"),
        ("+44 20 7946 0958", "tel:+442079460958"),
        ("360.555.0142 ext. 12", "tel:3605550142"),
        ("1-800-DENTIST", ""),
        ("", ""),
    ],
)
def test_phone_links(phone: str, link: str):
    from chairside.render.pipeline import phone_url

    assert phone_url(phone) == link
