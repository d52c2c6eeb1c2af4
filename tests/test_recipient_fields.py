"""Per-recipient fields are data: escaped in HTML, literal in text, never template code."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import html as lxml_html

from chairside import placeholders
from chairside.build import render_campaign
from chairside.csvsafe import safe_cell
from chairside.workspace import Workspace
from tests.support import copy_demo

HOSTILE = [
    "<script>alert(1)</script>",
    "{{ 7*7 }}",
    "{% raw %}x",
    '"><img src=x onerror=alert(1)>',
    "Ann\r\nBcc: all@example.com",
]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory):
    root = copy_demo(tmp_path_factory.mktemp("demo") / "practice")
    practice, _campaign, variants = render_campaign(Workspace(root), "2026-12")
    return practice, variants[0]


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_first_name_stays_text(rendered, name: str):
    practice, variant = rendered
    values = placeholders.values_for(
        placeholders.Recipient(first_name=name, unsubscribe_token="t"),
        fallback_name=practice.greeting_fallback,
        unsubscribe_url=practice.unsubscribe_url,
        unsubscribe_email=practice.unsubscribe_email,
    )
    html = placeholders.fill_html(variant.html, values)
    doc = lxml_html.fromstring(html)
    assert not doc.xpath("//script") and not doc.xpath("//img[@onerror]")
    greeting = next(p for p in doc.iter("p") if p.text_content().startswith("Hi "))
    expected = " ".join(name.split())  # line breaks folded, never passed on
    assert greeting.text_content() == f"Hi {expected},"
    text = placeholders.fill_text(variant.text, values)
    assert f"Hi {expected}," in text
    assert "49" not in greeting.text_content()


@pytest.mark.parametrize(
    ("cell", "safe"),
    [
        ('=HYPERLINK("x")', '\'=HYPERLINK("x")'),
        ("+1", "'+1"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=x", "'\t=x"),
        ("Ann", "Ann"),
        ("", ""),
    ],
)
def test_csv_cells_never_become_formulas(cell: str, safe: str):
    assert safe_cell(cell) == safe


def test_the_preview_never_uses_a_real_patient(tmp_workspace: Path, run):
    assert run("build", "2026-12", cwd=tmp_workspace).exit_code == 0
    built = "".join(p.read_text() for p in (tmp_workspace / "build/2026-12").iterdir())
    patients = (tmp_workspace / "audiences/patients.csv").read_text().splitlines()[1:]
    for row in patients:
        email = row.split(",")[3]
        if "@" in email:
            assert email.lower() not in built.lower()
