"""Every studio page on a 360 px phone: nothing scrolls sideways, and axe-core finds no
accessibility violation (Debian's chromium, driven by Playwright)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import StudioServer, chromium, copy_demo
from tests.test_studio_words import crawl

AXE = Path(__file__).parent / "data" / "axe.min.js"  # axe-core 4.14.1, MPL-2.0
WIDTH = 360


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


@pytest.fixture
def studio(tmp_path):
    server = StudioServer(copy_demo(tmp_path / "practice"))
    yield server
    server.close()


def check(page) -> tuple[int, list[dict]]:
    """(how wide the page is, axe's violations), the email previews left out: they are the
    practice's email, checked on their own (tests/test_real_clients.py)."""
    width = page.evaluate("() => document.documentElement.scrollWidth")
    page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    violations = page.evaluate(
        "async () => (await axe.run({exclude: [['iframe']]}, {iframes: false, "
        "resultTypes: ['violations']})).violations.map(v => ({id: v.id, impact: v.impact, "
        "nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 3)}))"
    )
    return width, violations


def test_every_page_fits_a_phone_and_passes_axe(browser, studio, tmp_path):
    client = studio.client()
    paths = sorted(crawl(client))
    assert len(paths) >= 8
    # The studio allows no inline script (its CSP): axe is added past it, for the test only.
    context = browser.new_context(viewport={"width": WIDTH, "height": 740}, bypass_csp=True)
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.goto(studio.login_url)
    found = {}
    try:
        # axe runs and sees: a picture without alternative text is a violation.
        page.goto(f"{studio.url}/new")
        page.evaluate("() => document.querySelector('main').append(document.createElement('img'))")
        assert "image-alt" in [v["id"] for v in check(page)[1]]
        for path in paths:
            page.goto(f"{studio.url}{path}")
            width, violations = check(page)
            if width > WIDTH or violations:
                found[path] = (width, violations)
        # Pages a form shows: the columns chooser after an odd upload, a refused push.
        odd = tmp_path / "odd.csv"
        odd.write_text("Pt Mail,Given,Health Issues,Allowed\nann@example.com,Ann,TMJ,Y\n")
        page.goto(f"{studio.url}/patients")
        page.set_input_files('input[name="export"]', str(odd))
        page.get_by_role("button", name="Upload").click()
        page.wait_for_selector("section.pending")
        width, violations = check(page)
        if width > WIDTH or violations:
            found["/patients (columns asked)"] = (width, violations)
        page.goto(f"{studio.url}/patients?show=1")
        width, violations = check(page)
        if width > WIDTH or violations:
            found["/patients?show=1"] = (width, violations)
    finally:
        context.close()
    assert found == {}


def test_pages_whose_part_is_still_read_fit_a_phone_pass_axe_and_then_show_it(
    browser, tmp_path, monkeypatch
):
    """The list and the send record held unread (as a 100k read is slow): each page shows
    at once with its part saying so, and the browser swaps the part in once it is read."""
    import threading

    from chairside.studio import state

    release = threading.Event()

    def held(real):
        def slow(*args, **kwargs):
            assert release.wait(60)
            return real(*args, **kwargs)

        return slow

    monkeypatch.setattr(state, "load_audience", held(state.load_audience))
    monkeypatch.setattr(state, "_delivered", held(state._delivered))
    monkeypatch.setattr(state, "WAIT", 0.0)
    state.CACHE.clear()
    server = StudioServer(copy_demo(tmp_path / "practice"))
    context = browser.new_context(viewport={"width": WIDTH, "height": 740}, bypass_csp=True)
    context.set_default_timeout(30_000)
    page = context.new_page()
    found = {}
    try:
        page.goto(server.login_url)
        for path in ("/", "/c/2026-12/send", "/c/2026-12/edit", "/patients"):
            page.goto(f"{server.url}{path}")
            assert page.locator("[hx-trigger='load']").count() >= 1, path
            width, violations = check(page)
            if width > WIDTH or violations:
                found[path] = (width, violations)
        assert page.get_by_text("Counting patients…").is_visible()
        release.set()
        page.wait_for_selector("#counts")  # swapped in by htmx, on the same page
        assert not page.get_by_text("Counting patients…").is_visible()
        width, violations = check(page)
        if width > WIDTH or violations:
            found["/patients (counted)"] = (width, violations)
    finally:
        release.set()
        context.close()
        server.close()
    assert found == {}
