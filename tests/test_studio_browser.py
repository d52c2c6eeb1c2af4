"""Chairside Studio driven in Debian's chromium: a month on a copy of the demo practice.

One browser for the module; a fresh practice and studio for each test.
"""

from __future__ import annotations

import json
import tomllib

import pytest

from tests.support import StudioServer, chromium, copy_demo


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


@pytest.fixture
def studio(tmp_path):
    server = StudioServer(copy_demo(tmp_path / "practice"))
    yield server
    server.close()


@pytest.fixture
def page(browser, studio):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(15_000)
    tab = context.new_page()
    tab.goto(studio.login_url)
    yield tab
    context.close()


def campaign_toml(studio: StudioServer) -> dict:
    return tomllib.loads((studio.root / "campaigns/2026-12/campaign.toml").read_text("utf-8"))


def test_campaigns_list_shows_each_campaign_with_its_state_and_next_step(page, studio):
    row = page.locator('tr[data-campaign="2026-12"]')
    assert row.locator(".state").inner_text() == "draft"
    assert "Edit it and check it" in row.locator(".next").inner_text()
    row.get_by_role("link", name="Edit it and check it").click()  # the next step, a link
    page.wait_for_url("**/c/2026-12/edit")
    page.get_by_role("link", name="Campaigns").first.click()
    # Opening it built and checked it: the demo has no errors, so the next step is a test.
    row = page.locator('tr[data-campaign="2026-12"]')
    assert row.locator(".state").inner_text() == "checked"
    assert "test" in row.locator(".next").inner_text()


def test_edit_the_subject_and_intro_and_see_the_preview_and_the_findings(page, studio):
    page.goto(f"{studio.url}/c/2026-12/edit")
    desktop = page.frame_locator('article[data-segment="general"] iframe.desktop')
    assert "Winter is a busy season" in desktop.locator("body").inner_text()

    page.fill('input[name="subject"]', "FREE holiday tips!!!")
    page.fill('textarea[name="intro"]', "A short hello from the front desk.\n\nSee you soon.")
    page.get_by_role("button", name="Save and preview").click()
    page.wait_for_selector("text=Saved and built")

    subject = page.locator('article[data-segment="general"] .subject').inner_text()
    assert subject == "FREE holiday tips!!!"
    desktop = page.frame_locator('article[data-segment="general"] iframe.desktop')
    mobile = page.frame_locator('article[data-segment="tmj"] iframe.mobile')
    assert "A short hello from the front desk." in desktop.locator("body").inner_text()
    assert "Winter is a busy season" not in desktop.locator("body").inner_text()
    assert page.locator('article[data-segment="tmj"] iframe.mobile').get_attribute("width") == "375"
    assert "sore jaw" in mobile.locator("body").inner_text()  # tmj keeps its own intro
    # check's findings sit under the subject field
    under_subject = page.locator('input[name="subject"] ~ ul.findings, label + ul.findings').first
    assert "subject-exclamation" in under_subject.inner_text()

    saved = campaign_toml(studio)
    assert saved["subject"] == "FREE holiday tips!!!"
    assert saved["intro"].strip() == "A short hello from the front desk.\n\nSee you soon."
    text = (studio.root / "campaigns/2026-12/campaign.toml").read_text("utf-8")
    assert "# The December 2026 newsletter." in text  # the office's comments survive
    assert (studio.root / "build/2026-12/general.html").read_text("utf-8").count("front desk") >= 1


def test_reorder_posts_change_a_concern_and_a_per_concern_subject(page, studio):
    page.goto(f"{studio.url}/c/2026-12/edit")
    posts = page.locator(".post")
    assert posts.nth(3).get_attribute("data-file") == "holiday-hours.md"
    posts.nth(3).locator("input.order").fill("0")  # office news first
    posts.nth(1).locator('input[value="neck_shoulder"]').check()
    page.fill('input[name="subject_tmj"]', "A calmer morning starts tonight")
    page.fill(
        'textarea[name="intro_tmj"]',
        "Temporomandibular dysfunction necessitates comprehensive multidisciplinary evaluation "
        "incorporating radiographic, occlusal and neuromuscular assessments to differentiate "
        "myogenous from arthrogenous etiologies.",
    )
    page.get_by_role("button", name="Save and preview").click()
    page.wait_for_selector("text=Saved and built")

    saved = campaign_toml(studio)
    assert saved["posts"][0]["file"] == "holiday-hours.md"
    night_guards = next(p for p in saved["posts"] if p["file"] == "night-guards-for-grinding.md")
    assert night_guards["tags"] == ["tmj", "neck_shoulder"]
    assert saved["segments"]["tmj"]["subject"] == "A calmer morning starts tonight"
    assert page.locator('article[data-segment="tmj"] .subject').inner_text() == (
        "A calmer morning starts tonight"
    )
    assert page.locator(".post").first.get_attribute("data-file") == "holiday-hours.md"
    # The reading level of tmj's own intro is reported under that intro, not elsewhere.
    under_tmj_intro = page.locator('textarea[name="intro_tmj"]').locator(
        "xpath=../following-sibling::ul[1]"
    )
    assert "reading-grade" in under_tmj_intro.inner_text()
    assert (
        "reading-grade"
        not in page.locator('textarea[name="intro"]')
        .locator("xpath=../following-sibling::*[1]")
        .inner_text()
    )


def test_an_edit_the_cli_would_refuse_is_not_kept_and_is_explained(page, studio):
    toml = studio.root / "campaigns/2026-12/campaign.toml"
    before = toml.read_bytes()
    page.goto(f"{studio.url}/c/2026-12/edit")
    page.evaluate("document.querySelector('input[name=subject]').removeAttribute('required')")
    page.fill('input[name="subject"]', "")
    page.get_by_role("button", name="Save and preview").click()
    assert "subject: missing" in page.locator(".error").inner_text()
    assert "Traceback" not in page.content()
    assert toml.read_bytes() == before


EXPORT = (
    "Reach At;Given;Surname;Health Issues;OK to email\n"
    "ana.silva@example.com;Ana;Silva;TMJ, clenching;Y\n"
    "ben.okafor@example.com;Ben;Okafor;stiff neck;Y\n"
    "carla.diaz@example.com;Carla;Diaz;;Y\n"
    "dev.patel@example;Dev;Patel;;Y\n"
    "erin.moss@example.com;Erin;Moss;jaw pain;N\n"
)


def test_upload_an_export_choose_its_columns_then_fix_one(page, studio, tmp_path, run):
    export = tmp_path / "export from the practice software.csv"
    export.write_bytes(EXPORT.encode("windows-1252"))
    before = (studio.root / "audiences/patients.csv").read_bytes()
    page.goto(f"{studio.url}/patients")
    page.set_input_files('input[name="export"]', str(export))
    page.get_by_role("button", name="Upload").click()
    # "Reach At" is no name Chairside knows: the current list stays, the columns are asked.
    assert "no email column" in page.locator(".error").first.inner_text()
    assert (studio.root / "audiences/patients.csv").read_bytes() == before
    pending = page.locator("section.pending")
    pending.locator('select[name="col_email"]').select_option("Reach At")
    pending.locator('select[name="col_first_name"]').select_option("Given")
    pending.get_by_role("button", name="Use this file with these columns").click()
    page.wait_for_selector("text=Uploaded")

    counts = {
        c.get_attribute("data-count"): c.inner_text() for c in page.locator("[data-count]").all()
    }
    # Health Issues is not recognised yet: everyone lands in general.
    assert counts == {
        "sendable": "3",
        "tmj": "0",
        "neck_shoulder": "0",
        "general": "3",
        "rejected": "1",
        "duplicates": "0",
        "suppressed": "0",
        "no_consent": "1",
    }
    rejected = page.locator("ul.rejected").inner_text()
    assert "line 5:" in rejected and "dev.patel@example" not in rejected  # masked

    # Fix the mapping of the list now in place: Health Issues are the concerns.
    page.locator('.columns-form select[name="col_concerns"]').last.select_option("Health Issues")
    page.get_by_role("button", name="Save columns").click()
    page.wait_for_selector("text=Columns saved")
    assert page.locator('[data-count="tmj"]').inner_text() == "1"
    assert page.locator('[data-count="neck_shoulder"]').inner_text() == "1"

    page.get_by_role("link", name="Show addresses").click()
    assert "dev.patel@example" in page.locator("ul.rejected").inner_text()
    assert "ana.silva@example.com" in page.locator("table.patients").inner_text()

    # The CLI reads the same files the same way.
    result = run("audience", "--json", cwd=studio.root)

    report = json.loads(result.output)
    assert report["segments"] == {"tmj": 1, "neck_shoulder": 1, "general": 1}
    assert report["rejected"] == [{"line": 5, "reason": report["rejected"][0]["reason"]}]
    columns = tomllib.loads((studio.root / "audiences/segments.toml").read_text("utf-8"))
    assert columns["patients"]["column_choices"] == [  # kept with the headers it was made for
        {
            "headers": ["Reach At", "Given", "Surname", "Health Issues", "OK to email"],
            "email": "Reach At",
            "first_name": "Given",
            "concerns": "Health Issues",
        }
    ]
    assert "# Chairside recognises the column names of Dentrix" in (
        studio.root / "audiences/segments.toml"
    ).read_text("utf-8")


def point_at(studio: StudioServer, port: int) -> None:
    """The copy's practice.toml sends to the test server (as `--smtp-port` would)."""
    practice = studio.root / "practice.toml"
    practice.write_text(
        practice.read_text("utf-8").replace("port = 1025", f"port = {port}"), "utf-8"
    )


def counts(page) -> dict[str, str]:
    box = page.locator("#progress")
    return {
        c.get_attribute("data-count"): c.inner_text() for c in box.locator("[data-count]").all()
    }


def test_test_send_then_send_stop_resume_and_status(page, studio, smtp_server, run):

    from playwright.sync_api import expect

    recorder, port = smtp_server
    point_at(studio, port)
    page.goto(f"{studio.url}/c/2026-12/send")
    page.fill('input[name="address"]', "office@example.com")
    page.get_by_role("button", name="Send test").click()
    replies = page.locator("ul.test-replies").inner_text()
    assert replies.count(" version to office@example.com") == 3 and "250" in replies
    assert "Jaw & TMJ" in replies and "tmj" not in replies  # the concern by its name
    assert recorder.recipients() == ["office@example.com"] * 3
    page.get_by_role("link", name="Campaigns").first.click()
    assert page.locator('tr[data-campaign="2026-12"] .state').inner_text() == "tested"

    page.goto(f"{studio.url}/c/2026-12/send")
    page.get_by_role("button", name="Send to patients…").click()
    assert "to 31 patients now?" in page.locator("form.confirm").inner_text()
    recorder.hold_after(3 + 3)  # the tests, 3 patients, then replies wait: it cannot end
    page.get_by_role("button", name="Yes, send to 31 patients").click()
    expect(page.locator('#progress[data-running="yes"]')).to_be_visible()
    while int(counts(page).get("sent", 0)) < 3:  # htmx refreshes the box every second
        page.wait_for_timeout(100)
    assert "time-left" in counts(page)
    with page.expect_navigation():  # the studio has asked the send to stop...
        page.get_by_role("button", name="Stop (after the current message)").click()
    recorder.release()  # ...and only now are the messages in hand answered
    expect(page.locator('#progress[data-running="no"]')).to_be_visible(timeout=20_000)
    assert "Stopped." in page.locator("#progress").inner_text()
    stopped = counts(page)
    sent_first = int(stopped["sent"])
    assert 3 <= sent_first < 31
    assert int(stopped["pending"]) == 31 - sent_first
    assert len(recorder.recipients()) == 3 + sent_first

    # The CLI sees what the studio did.
    status = json.loads(run("status", "2026-12", "--json", cwd=studio.root).output)
    assert status["sent"] == sent_first and status["pending"] == 31 - sent_first

    page.get_by_role("button", name="Resume sending…").click()
    left = 31 - sent_first
    page.get_by_role("button", name=f"Yes, send to {left} patient").click()
    expect(page.locator('#progress[data-running="no"]')).to_be_visible(timeout=30_000)
    assert "Finished" in page.locator("#progress").inner_text()
    assert counts(page)["sent"] == "31" and counts(page)["pending"] == "0"
    patients = recorder.recipients()[3:]
    assert len(patients) == 31 == len(set(patients))  # everyone once, nobody twice
    page.get_by_role("link", name="Campaigns").first.click()
    assert page.locator('tr[data-campaign="2026-12"] .state').inner_text() == "sent"
    page.goto(f"{studio.url}/c/2026-12/edit")
    assert "31 patients already have this campaign" in page.locator("#already-sent").inner_text()


def test_new_campaign_from_a_saved_feed_and_a_post_then_change_a_concern(page, studio):
    from tests.support import CONTENT

    page.get_by_role("link", name="New campaign").click()
    assert page.locator('input[name="name"]').input_value() == "2027-01"  # after 2026-12
    page.set_input_files('input[name="feeds"]', str(CONTENT / "harborview-wordpress.rss"))
    page.fill('input[name="since"]', "2026-11-01")
    page.set_input_files('input[name="posts"]', str(CONTENT / "whitening-questions.txt"))
    page.get_by_role("button", name="Create campaign").click()
    page.wait_for_url("**/c/2027-01/edit?created=*")

    folder = studio.root / "campaigns/2027-01"
    written = sorted(p.name for p in (folder / "posts").iterdir())
    shown = sorted(page.locator(".post").evaluate_all("els => els.map(e => e.dataset.file)"))
    assert shown == written
    assert "welcome-to-our-new-blog.html" not in written  # published before the date
    jaw = page.locator('.post[data-file="is-your-jaw-clicking.html"]')
    assert jaw.locator('input[value="tmj"]').is_checked()
    jaw.locator('input[value="tmj"]').uncheck()
    jaw.locator('input[value="neck_shoulder"]').check()
    page.get_by_role("button", name="Save and preview").click()
    page.wait_for_selector("text=Saved and built")
    saved = tomllib.loads((folder / "campaign.toml").read_text("utf-8"))
    tags = {p["file"]: p["tags"] for p in saved["posts"]}
    assert tags["is-your-jaw-clicking.html"] == ["neck_shoulder"]
    assert page.locator('article[data-segment="neck_shoulder"]').count() == 1


def test_unsubscribe_an_address_and_see_it_masked(page, studio):
    page.get_by_role("link", name="Unsubscribes").click()
    total = int(page.locator("#total").inner_text())
    page.fill('textarea[name="addresses"]', "Maria Lopez <maria.lopez@example.com>")
    page.get_by_role("button", name="Unsubscribe", exact=True).click()
    assert "1 added, 0 already there" in page.locator(".ok").inner_text()
    assert int(page.locator("#total").inner_text()) == total + 1
    assert "maria.lopez@example.com" not in page.locator("ul.suppressed").inner_text()
    page.get_by_role("link", name="Show addresses").click()
    assert "maria.lopez@example.com" in page.locator("ul.suppressed").inner_text()
