"""The studio's Reports and sync page and each campaign's Report page, over plain HTTP
against the real app: the figures `chairside report` gives, a Sync button per provider
(against a local server answering as SendGrid's API does), and no file, setting, option,
command or environment variable named to the office manager."""

from __future__ import annotations

from urllib.parse import parse_qs

import lxml.html
import pytest

from chairside import secrets
from chairside.audience.suppression import read_suppressed
from tests.support import StudioServer, copy_demo, csrf_of

TECHNICAL = ("SENDGRID_API_KEY", "chairside ", "practice.toml", "--", "[providers", ".csv")


def _plain(page: str) -> str:
    """The words a person reads on a page (no markup, no form tokens)."""
    tree = lxml.html.document_fromstring(page)
    for hidden in tree.xpath("//style | //script | //svg"):
        hidden.drop_tree()
    return tree.text_content()


def _no_jargon(page: str) -> None:
    words = _plain(page)
    for technical in TECHNICAL:
        assert technical not in words, (technical, words)


@pytest.fixture
def practice(tmp_path, monkeypatch):
    monkeypatch.delenv("SENDGRID_API_KEY", raising=False)
    root = copy_demo(tmp_path / "practice")
    with (root / "practice.toml").open("a") as handle:
        handle.write("\n[providers.sendgrid]\nunsubscribe_group = 77\n")
    return root


@pytest.fixture
def studio(practice):
    server = StudioServer(practice)
    yield server
    server.close()


@pytest.fixture
def sendgrid(http_server, monkeypatch):
    monkeypatch.setenv("CHAIRSIDE_SENDGRID_API_BASE", http_server.url)
    lists = {
        "unsubscribes": [{"email": "maria.lopez@example.com", "created": 1764600000}],
        "bounces": [{"email": "gone@example.com", "created": 1764600001, "status": "5.1.1"}],
        "invalid_emails": [
            {"email": "typo@exmaple.com", "created": 1764600002, "reason": "Bad domain"}
        ],
        "spam_reports": [],
    }

    def answer(name):
        def handler(request):
            query = {k: v[-1] for k, v in parse_qs(request.query).items()}
            assert request.headers["authorization"] == "Bearer SG.saved-key"
            offset, limit = int(query["offset"]), int(query["limit"])
            return 200, lists[name][offset : offset + limit]

        return handler

    for name in lists:
        http_server.route("GET", f"/v3/suppression/{name}", answer(name))
    http_server.route(
        "GET", "/v3/asm/groups/77/suppressions", lambda r: (200, ["left@example.com"])
    )
    return http_server


def test_sync_with_a_saved_key_shows_what_came_back_masked(studio, sendgrid):
    secrets.store("sendgrid", "SG.saved-key")
    client = studio.client()
    page = client.get("/reports")
    assert page.status_code == 200
    assert 'href="/reports"' in page.text  # the nav link
    token = csrf_of(page.text)
    done = client.post("/sync/sendgrid", data={"csrf": token})
    assert done.status_code == 200, done.text
    words = _plain(done.text)
    assert "SendGrid: read 4 records in 4 pages" in words
    assert "4 patients will not be emailed again" in words
    assert "ma***@example.com" in words and "maria.lopez@example.com" not in words
    assert "left group" in words or "unsubscribe group 77" in words
    suppressed = read_suppressed(studio.root / "audiences/suppressed.csv")
    assert {"maria.lopez@example.com", "gone@example.com", "left@example.com"} <= suppressed
    _no_jargon(done.text)
    again = client.post("/sync/sendgrid", data={"csrf": token})
    assert "Nothing new since the last sync" in _plain(again.text)


def test_a_missing_key_points_to_settings_and_nothing_is_asked(studio, sendgrid):
    client = studio.client()
    page = client.get("/reports")
    tree = lxml.html.document_fromstring(page.text)
    block = tree.xpath('//div[@data-provider="sendgrid"]')[0]
    assert "No SendGrid key is saved yet" in block.text_content()
    assert block.xpath('.//a[@href="/settings"]')
    assert not block.xpath(".//button")
    _no_jargon(page.text)
    token = csrf_of(client.get("/unsubscribes").text)  # no form here: any page's token
    refused = client.post("/sync/sendgrid", data={"csrf": token})
    assert refused.status_code == 400
    assert "No SendGrid key is saved yet" in _plain(refused.text)
    assert sendgrid.requests == []


def test_a_refused_key_is_said_in_the_pages_words(studio, http_server, monkeypatch):
    secrets.store("sendgrid", "SG.old")
    monkeypatch.setenv("CHAIRSIDE_SENDGRID_API_BASE", http_server.url)
    http_server.route(
        "GET",
        "/v3/suppression/unsubscribes",
        lambda r: (401, {"errors": [{"field": None, "message": "authorization required"}]}),
    )
    client = studio.client()
    token = csrf_of(client.get("/reports").text)
    refused = client.post("/sync/sendgrid", data={"csrf": token})
    assert refused.status_code == 400
    words = _plain(refused.text)
    assert "SendGrid refused the key" in words and "Settings" in words
    _no_jargon(refused.text)


def test_report_page_shows_the_campaigns_figures_and_writes_its_page(
    studio, smtp_server, run, monkeypatch
):
    result = run("send", "2026-12", "--smtp-port", str(smtp_server[1]), cwd=studio.root)
    assert result.exit_code == 0, result.output
    assert run("unsubscribe", "mei.lin@example.com", cwd=studio.root).exit_code == 0
    client = studio.client()
    listing = client.get("/")
    assert 'href="/c/2026-12/report"' in listing.text
    page = client.get("/c/2026-12/report")
    assert page.status_code == 200
    tree = lxml.html.document_fromstring(page.text)
    assert tree.xpath("//h1")[0].text_content() == "2026-12: how it went"
    tiles = {
        t.xpath("span")[0].text_content(): t.xpath("b")[0].text_content()
        for t in tree.xpath('//div[@class="tile"]')
    }
    assert tiles["unsubscribed"] == "1"
    assert tree.xpath(
        '//figure[@aria-label="Bounced, unsubscribed and complaints for each version"]/svg'
    )
    words = _plain(page.text)
    assert "No opens or clicks recorded yet" in words
    assert "mei.lin" not in page.text
    assert (studio.root / "build/2026-12/report.html").is_file()  # as the CLI writes it
    _no_jargon(page.text)
    shown = client.get("/c/2026-12/report?show=1")
    assert "Jaw" in shown.text or "Neck" in shown.text
    assert not any(w in page.text for w in ("Jaw", "Neck &"))


def test_report_of_a_campaign_not_sent_says_so(studio):
    page = studio.client().get("/c/2026-12/report")
    assert page.status_code == 200
    words = _plain(page.text)
    assert "Nothing of 2026-12 has been sent yet" in words
    _no_jargon(page.text)


def test_report_of_a_sendgrid_campaign_without_a_key_points_to_settings(studio, monkeypatch):
    from chairside.ledger import open_ledger

    with open_ledger(studio.root / ".chairside") as ledger:
        ledger.mark_batch_sending(
            "2026-12", "sendgrid", "b1", [("a@example.com", "a@example.com", "2026-12-a")]
        )
        ledger.finish_batch("2026-12", "b1", reply="202")
    page = studio.client().get("/c/2026-12/report")
    assert page.status_code == 200
    words = _plain(page.text)
    assert "No SendGrid key is saved yet. Add it on the Settings page" in words
    _no_jargon(page.text)


def test_in_a_phone_sized_browser_sync_then_read_the_report(studio, sendgrid):
    """Debian's chromium at 390 px: press Sync, read what came back, open the report; no
    sideways scroll and no serious axe-core finding on either page."""
    from pathlib import Path

    from chairside.ledger import open_ledger
    from tests.support import chromium

    axe = (Path(__file__).parent / "data" / "axe.min.js").read_text(encoding="utf-8")
    secrets.store("sendgrid", "SG.saved-key")
    with open_ledger(studio.root / ".chairside") as ledger:
        members = [(e, e, "2026-12-a") for e in ("maria.lopez@example.com", "b@example.com")]
        ledger.mark_batch_sending("2026-12", "smtp", "b1", members)
        ledger.finish_batch("2026-12", "b1", reply="250")

    def check(tab) -> None:
        assert tab.evaluate("document.documentElement.scrollWidth") <= 390
        tab.add_script_tag(content=axe)
        found = tab.evaluate(
            "async () => (await axe.run(document, {resultTypes: ['violations']}))"
            ".violations.map(v => ({id: v.id, impact: v.impact}))"
        )
        assert [v for v in found if v["impact"] in ("serious", "critical")] == []

    with chromium() as browser:
        # bypass_csp: the studio allows no inline script, and axe-core is injected as one.
        context = browser.new_context(viewport={"width": 390, "height": 800}, bypass_csp=True)
        tab = context.new_page()
        tab.goto(studio.login_url)
        tab.get_by_role("link", name="Reports and sync").click()
        tab.get_by_role("button", name="Sync with SendGrid").click()
        status = tab.get_by_role("status")
        assert "SendGrid: read 4 records" in status.inner_text()
        assert "ma***@example.com" in status.inner_text()
        check(tab)
        tab.get_by_role("link", name="2026-12").click()
        assert tab.locator("h1").inner_text() == "2026-12: how it went"
        assert tab.get_by_text("No opens or clicks recorded yet").is_visible()
        check(tab)
