"""The demo newsletter checked in real tools: SpamAssassin scores each exported version, and
Debian's Chromium (driven by Playwright, never a downloaded browser) renders each version at
phone and desktop widths, light and dark, and runs axe-core on the preview page.

Without `spamassassin` or `/usr/bin/chromium` these tests skip with the reason, except in CI
(`CI=true`), where a missing tool fails them: `.ci/run` installs both.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import chromium, need

SEGMENTS = ("tmj", "neck_shoulder", "general")
AXE = Path(__file__).parent / "data" / "axe.min.js"  # axe-core 4.14.1, MPL-2.0
# Every picture the email asks for is answered with one far wider than the email, as a
# practice's uncropped photo would be: a layout that trusts the file's size overflows.
BIG_PICTURE = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="1600" height="900">'
    '<rect width="1600" height="900" fill="#8aa"/></svg>'
)


@pytest.fixture(scope="module")
def demo_build(tmp_path_factory) -> Path:
    from click.testing import CliRunner

    from chairside.cli import cli
    from tests.support import copy_demo

    root = copy_demo(tmp_path_factory.mktemp("real") / "practice")
    runner = CliRunner()
    result = runner.invoke(cli, ["-C", str(root), "preview", "2026-12"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        cli, ["-C", str(root), "export", "2026-12", "--to", "eml", "--out", str(root / "eml")]
    )
    assert result.exit_code == 0, result.output
    return root


# --- SpamAssassin ----------------------------------------------------------------------


def one_message_per_variant(folder: Path) -> dict[str, Path]:
    chosen: dict[str, Path] = {}
    with (folder / "manifest.csv").open(encoding="utf-8") as manifest:
        for row in csv.DictReader(manifest):
            chosen.setdefault(row["variant"], folder / row["file"])
    return chosen


def test_every_version_scores_at_most_zero_in_spamassassin(demo_build: Path, tmp_path: Path):
    need("spamassassin", shutil.which("spamassassin") is not None)
    messages = one_message_per_variant(demo_build / "eml")
    assert len(messages) == len(SEGMENTS)
    env = {**os.environ, "HOME": str(tmp_path)}  # its user_prefs go there
    for variant, path in messages.items():
        report = subprocess.run(
            ["spamassassin", "-L", "-t"],  # local tests only: no network lookups
            input=path.read_bytes(),
            capture_output=True,
            timeout=120,
            env=env,
            check=True,
        ).stdout.decode("utf-8", "replace")
        found = re.search(r"Content analysis details:\s+\((-?[\d.]+) points", report)
        assert found, report[-2000:]
        details = report[found.start() :]
        assert float(found.group(1)) <= 0, f"{variant} scores {found.group(1)}:\n{details}"
        assert "HTML_FONT_LOW_CONTRAST" not in details  # the old white preheader
        assert "MAILING_LIST_MULTI" in details  # List-Id is seen


# --- Chromium ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator:
    with chromium() as launched:
        yield launched


def open_page(browser, url: str, width: int, scheme: str = "light"):
    page = browser.new_page(viewport={"width": width, "height": 800}, color_scheme=scheme)

    def answer(route) -> None:  # nothing leaves the machine
        if route.request.url.startswith("file:"):
            route.continue_()
        elif route.request.resource_type == "image":
            route.fulfill(status=200, content_type="image/svg+xml", body=BIG_PICTURE)
        else:
            route.abort()

    page.route("**/*", answer)
    page.goto(url)
    page.wait_for_load_state("load")
    return page


LAYOUT = """() => {
  const doc = document.documentElement;
  const column = el => el.closest('[class*="mj-column"]') || document.body;
  return {
    scrollWidth: doc.scrollWidth, clientWidth: doc.clientWidth,
    buttons: [...document.querySelectorAll('a.cs-btn')].map(a => ({
      text: a.textContent.trim(), height: a.getBoundingClientRect().height})),
    images: [...document.images].map(img => ({
      src: img.src, loaded: img.naturalWidth,
      width: img.getBoundingClientRect().width,
      right: img.getBoundingClientRect().right,
      column: column(img).getBoundingClientRect().width,
      columnRight: column(img).getBoundingClientRect().right})),
  };
}"""


@pytest.mark.parametrize("segment", SEGMENTS)
def test_each_version_fits_phones_and_desktop(browser, demo_build: Path, segment: str):
    url = (demo_build / "build/2026-12" / f"{segment}.html").as_uri()
    for width in (320, 375, 600):
        page = open_page(browser, url, width)
        found = page.evaluate(LAYOUT)
        page.close()
        where = f"{segment} at {width} px"
        assert found["scrollWidth"] <= found["clientWidth"] == width, where
        # Book a visit and the phone, after the lead post and at the end.
        assert len(found["buttons"]) == 4, where
        for button in found["buttons"]:
            assert button["height"] >= 44, (where, button)
        assert found["images"] or segment == "neck_shoulder", where  # its post has none
        for image in found["images"]:
            assert image["loaded"] == 1600, (where, image)  # the big picture was drawn
            assert image["width"] <= image["column"] + 0.5, (where, image)
            assert image["right"] <= min(image["columnRight"], width) + 0.5, (where, image)


# A post as a practice's blog may write it: a long title, a bare long link, a wide table, a
# code block, an image without a width and one far wider than the email.
AWKWARD_POST = """---
title: "Insurance Benefits Explained: Deductibles, Maximums and Waiting Periods"
url: https://harborlanedental.example.com/blog/benefits
image: https://harborlanedental.example.com/images/chart.jpg
image_alt: A chart of the plans
---

See https://harborlanedental.example.com/a/very/long/path/that/never/ends/and/keeps/going/index.html

| Plan | Deductible | Annual maximum | Waiting period for major services | Orthodontics |
|---|---|---|---|---|
| Basic | $50 | $1,000 | 12 months | Not covered |
| Premium | $25 | $2,500 | 6 months | 50% up to $1,500 lifetime |

    a code block with a long line that a phone cannot show in one piece, not wrapped

<img src="https://harborlanedental.example.com/images/nowidth.jpg" alt="No width">
<img src="https://harborlanedental.example.com/images/w.jpg" alt="Wide" width="1200" height="800">
"""


def test_an_awkward_post_still_fits_a_phone(browser, tmp_path: Path):
    from chairside.build import build
    from chairside.workspace import Workspace
    from tests.support import copy_demo

    root = copy_demo(tmp_path / "practice")
    (root / "campaigns/2026-12/posts/benefits.md").write_text(AWKWARD_POST, encoding="utf-8")
    toml = root / "campaigns/2026-12/campaign.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8").replace('format = "auto"', 'format = "full"')
        + '\n[[posts]]\nfile = "benefits.md"\ntags = []\n',
        encoding="utf-8",
    )
    url = (build(Workspace(root), "2026-12").out_dir / "general.html").as_uri()
    for width in (320, 375, 600):
        page = open_page(browser, url, width)
        found = page.evaluate(LAYOUT)
        page.close()
        assert found["scrollWidth"] <= width, (width, found["scrollWidth"])
        assert len(found["images"]) == 6, width  # three of the demo, three of the post
        for image in found["images"]:
            assert image["right"] <= min(image["columnRight"], width) + 0.5, (width, image)


CONTRAST = """() => {
  const rgba = s => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const c = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * c(r) + 0.7152 * c(g) + 0.0722 * c(b);
  };
  const background = el => {
    for (; el; el = el.parentElement) {
      const c = rgba(getComputedStyle(el).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const worst = [];
  let checked = 0;
  for (const el of document.body.querySelectorAll('*')) {
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    const box = el.getBoundingClientRect();
    if (!own || box.width === 0 || box.height === 0) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || style.opacity === '0') continue;
    const fg = lum(rgba(style.color)), bg = lum(background(el));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    checked += 1;
    if (ratio < 4.5) worst.push([el.tagName, el.textContent.trim().slice(0, 40), ratio]);
  }
  const brand = [...document.querySelectorAll('a.cs-btn:not(.cs-btn-line)')].map(
    el => getComputedStyle(el).backgroundColor);
  const head = getComputedStyle(document.querySelector('.cs-head > table > tbody > tr > td'));
  return {checked, worst, brand, page: lum(background(document.body)),
          head: [head.backgroundColor, head.borderTopColor]};
}"""


@pytest.mark.parametrize("segment", SEGMENTS)
def test_dark_mode_keeps_every_text_readable(browser, demo_build: Path, segment: str):
    url = (demo_build / "build/2026-12" / f"{segment}.html").as_uri()
    for scheme in ("light", "dark"):
        page = open_page(browser, url, 375, scheme)
        found = page.evaluate(CONTRAST)
        page.close()
        assert found["checked"] > 30, found
        assert found["worst"] == [], (scheme, found["worst"])
        # The brand colour stays on the buttons and above the header, light or dark; the
        # header stays white, so a logo drawn in the brand colour shows in dark mode too.
        assert set(found["brand"]) == {"rgb(11, 93, 107)"}, found["brand"]
        assert found["head"] == ["rgb(255, 255, 255)", "rgb(11, 93, 107)"], found["head"]
        if scheme == "dark":
            assert found["page"] < 0.05  # the dark styles did apply


def test_the_preview_page_passes_axe(browser, demo_build: Path):
    page = open_page(browser, (demo_build / "build/2026-12/index.html").as_uri(), 1440)
    page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    results = page.evaluate(
        "async () => (await axe.run(document, {iframes: false, resultTypes: ['violations']}))"
        ".violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.length}))"
    )
    layout = page.evaluate(
        """() => [...document.querySelectorAll('section')].map(s => {
            const [desktop, text] = [s.querySelector('iframe'), s.querySelector('pre')];
            return [desktop.getBoundingClientRect().top, text.getBoundingClientRect().top];
        })"""
    )
    page.close()
    serious = [v for v in results if v["impact"] in ("serious", "critical")]
    assert serious == [], serious
    for frame_top, text_top in layout:  # the text beside the frames, not under them
        assert abs(frame_top - text_top) < 40


def test_a_missing_tool_fails_in_ci_and_skips_elsewhere(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="missing in CI"):
        need("spamassassin", False)
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="not installed here"):
        need("spamassassin", False)
