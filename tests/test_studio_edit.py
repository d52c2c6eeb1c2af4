"""The Edit page offers every `format` the library knows, each in its own words, and saves
the one chosen into campaign.toml."""

from __future__ import annotations

import html
import re
import tomllib

import pytest

from chairside.campaign import FORMATS
from tests.support import StudioServer, copy_demo, csrf_of


@pytest.fixture
def studio(tmp_path):
    server = StudioServer(copy_demo(tmp_path / "practice"))
    yield server
    server.close()


def radios(page: str) -> dict[str, tuple[bool, str]]:
    """format value → (checked, label) for each radio of the Edit form."""
    found = re.findall(
        r'<input type="radio" name="format" value="([^"]+)" (checked)?>\s*([^<]+)</label>', page
    )
    return {value: (bool(checked), label.strip()) for value, checked, label in found}


def test_each_format_has_its_own_label_and_the_demo_is_auto(studio):
    page = studio.client().get("/c/2026-12/edit").text
    shown = radios(page)
    assert list(shown) == list(FORMATS)
    assert len({label for _, label in shown.values()}) == len(FORMATS), shown
    assert shown["auto"][0] and not shown["full"][0] and not shown["excerpt"][0]


def as_posted(page: str) -> list[tuple[str, str]]:
    """What a browser posts from the Edit form: every field as shown, checked boxes only."""
    form: list[tuple[str, str]] = []
    for tag in re.findall(r"<input[^>]*>", page):
        name, value = re.search(r'name="([^"]+)"', tag), re.search(r'value="([^"]*)"', tag)
        kind = re.search(r'type="([^"]+)"', tag)
        if not name or not value or (kind and kind.group(1) in ("radio", "checkbox")):
            if kind and kind.group(1) == "checkbox" and " checked" in tag:
                form.append((name.group(1), html.unescape(value.group(1))))
            continue
        form.append((name.group(1), html.unescape(value.group(1))))
    for name, text in re.findall(r'<textarea name="([^"]+)"[^>]*>([^<]*)</textarea>', page):
        form.append((name, html.unescape(text)))
    return form


def test_choosing_excerpt_is_saved(studio):
    client = studio.client()
    page = client.get("/c/2026-12/edit").text
    form = [*as_posted(page), ("format", "excerpt")]
    assert ("csrf", csrf_of(page)) in form
    before = tomllib.loads((studio.root / "campaigns/2026-12/campaign.toml").read_text())
    fields: dict[str, list[str]] = {}
    for name, value in form:
        fields.setdefault(name, []).append(value)
    answer = client.post("/c/2026-12/edit", data=fields)
    assert answer.status_code == 200, answer.text[:2000]
    saved = tomllib.loads((studio.root / "campaigns/2026-12/campaign.toml").read_text())
    assert saved["format"] == "excerpt"
    assert saved["posts"] == before["posts"]  # nothing else changed
    assert radios(answer.text)["excerpt"][0]


def test_the_call_to_action_after_the_lead_is_edited_per_version(studio):
    client = studio.client()
    page = client.get("/c/2026-12/edit").text
    assert 'name="call_to_action"' in page and 'name="call_tmj"' in page
    form = [(k, v) for k, v in as_posted(page) if k not in ("call_tmj", "format")]
    form += [("call_tmj", "Clicking jaw? Ask us at your next visit."), ("format", "auto")]
    fields: dict[str, list[str]] = {}
    for name, value in form:
        fields.setdefault(name, []).append(value)
    answer = client.post("/c/2026-12/edit", data=fields)
    assert answer.status_code == 200, answer.text[:2000]
    saved = tomllib.loads((studio.root / "campaigns/2026-12/campaign.toml").read_text())
    assert saved["segments"]["tmj"]["call_to_action"] == "Clicking jaw? Ask us at your next visit."
    assert saved["call_to_action"].startswith("Due for a check-up?")  # left as it was
