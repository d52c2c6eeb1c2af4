"""The studio's Look page: a preview of each built-in look, and the choice saved as
[brand] theme in practice.toml with the file's comments kept."""

from __future__ import annotations

from chairside.workspace import Workspace, load_practice
from tests.support import StudioServer, csrf_of


def test_the_look_page_previews_each_look_and_saves_the_choice(tmp_workspace):
    studio = StudioServer(tmp_workspace)
    try:
        client = studio.client()
        page = client.get("/settings/theme")
        assert page.status_code == 200
        text = page.text
        for label in ("Clear", "Classic letter", "Bold"):
            assert label in text
        assert text.count("<iframe") == 3 and "(in use)" in text
        assert "Georgia" in text  # the letter's preview is drawn in its own type
        chosen = client.post("/settings/theme", data={"csrf": csrf_of(text), "look": "letter"})
        assert chosen.status_code == 303
        assert load_practice(Workspace(tmp_workspace)).theme == "letter"
        toml = (tmp_workspace / "practice.toml").read_text(encoding="utf-8")
        assert "# Who sends the newsletter." in toml and 'theme = "letter"' in toml
        after = client.get(chosen.headers["location"]).text
        assert "now uses the Classic letter look" in after
        refused = client.post("/settings/theme", data={"csrf": csrf_of(text), "look": "neon"})
        assert "Choose one of the looks" in refused.text
        assert load_practice(Workspace(tmp_workspace)).theme == "letter"
    finally:
        studio.close()


def test_an_unknown_theme_in_practice_toml_is_a_clear_error(tmp_workspace, run):
    from tests.support import assert_user_error

    toml = tmp_workspace / "practice.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8").replace('logo = ""', 'logo = ""\ntheme = "neon"'),
        encoding="utf-8",
    )
    result = run("build", "2026-12", cwd=tmp_workspace)
    assert_user_error(result, "[brand] theme", "'neon'", '"clear", "letter", "bold"')


def test_the_look_page_passes_axe(tmp_workspace):
    from tests.support import DATA, chromium

    studio = StudioServer(tmp_workspace)
    try:
        with chromium() as browser:
            # The studio's policy forbids inline scripts; axe is the test's, not the page's.
            context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
            page = context.new_page()
            page.route(  # nothing leaves the machine (the previews ask for pictures)
                "**/*",
                lambda route: (
                    route.continue_() if route.request.url.startswith(studio.url) else route.abort()
                ),
            )
            page.goto(studio.login_url)
            page.goto(f"{studio.url}/settings/theme")
            page.add_script_tag(content=(DATA / "axe.min.js").read_text(encoding="utf-8"))
            violations = page.evaluate(
                "async () => (await axe.run(document, {iframes: false, resultTypes: "
                "['violations']})).violations.map(v => ({id: v.id, impact: v.impact}))"
            )
            labels = page.locator("input[name=look]").count()
    finally:
        studio.close()
    assert [v for v in violations if v["impact"] in ("serious", "critical")] == []
    assert labels == 3
