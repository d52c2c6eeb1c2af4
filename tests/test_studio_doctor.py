"""The studio's Delivery page: the doctor's last findings with the records to add, and a
button that checks again (over HTTP against the real app; DNS from a test server)."""

from __future__ import annotations

import pytest

from tests.dns_server import dns_server
from tests.support import StudioServer, copy_demo, csrf_of

DOMAIN = "harborlanedental.example.com"


@pytest.fixture
def studio(tmp_path):
    server = StudioServer(copy_demo(tmp_path / "practice"))
    try:
        yield server
    finally:
        server.close()


def test_the_page_checks_and_shows_each_record_to_add(studio, monkeypatch):
    client = studio.client()
    page = client.get("/doctor")
    assert page.status_code == 200 and "Not checked yet" in page.text
    assert 'href="/doctor" aria-current="page"' in page.text
    zones = {DOMAIN: [("MX", f"10 mx.{DOMAIN}"), ("TXT", "v=spf1 mx ~all")]}
    with dns_server(zones) as nameserver:
        monkeypatch.setenv("CHAIRSIDE_NAMESERVER", nameserver)
        checked = client.post("/doctor/check", data={"csrf": csrf_of(page.text)})
    assert checked.status_code == 200
    text = checked.text
    assert "problem" in text and "has no DMARC record" in text
    assert "<code>_dmarc</code> (_dmarc.harborlanedental.example.com)" in text
    assert '<code class="value">v=DMARC1; p=none</code>' in text
    # The studio never names a file, a TOML path or a command.
    for word in ("practice.toml", "chairside doctor", "[smtp]", "--"):
        assert word not in text.split("<main")[1], word
    again = client.get("/doctor")  # the result is kept: shown without checking again
    assert "has no DMARC record" in again.text and "Checked " in again.text


def test_checking_needs_the_pages_token(studio):
    client = studio.client()
    refused = client.post("/doctor/check", data={})
    assert refused.status_code in (400, 403)


def test_a_signing_key_is_made_on_the_page_and_the_findings_speak_the_studios_words(
    studio, monkeypatch
):
    """The office makes the DKIM key without a terminal: kept in the keychain, its record
    shown to add; every finding after it in the page's own words."""
    import keyring

    from chairside.workspace import Workspace, load_practice
    from tests.test_studio_words import problems

    client = studio.client()
    token = csrf_of(client.get("/doctor").text)
    made = client.post("/doctor/dkim", data={"csrf": token, "selector": "cs2026"})
    assert made.status_code == 200, made.text
    assert "<code>cs2026._domainkey</code>" in made.text
    assert "v=DKIM1; k=rsa; p=" in made.text
    assert keyring.get_password("chairside", f"dkim:cs2026._domainkey.{DOMAIN}")
    assert load_practice(Workspace(studio.root)).dkim.selector == "cs2026"
    assert "PRIVATE KEY" not in (studio.root / "practice.toml").read_text()

    again = client.post("/doctor/dkim", data={"csrf": token, "selector": "cs2026"})
    assert 'id="key-error"' in again.text and "kept already" in again.text
    assert problems("a second key", again.text) == []

    # The key is lost from this computer: the doctor's finding says what to do here.
    keyring.delete_password("chairside", f"dkim:cs2026._domainkey.{DOMAIN}")
    zones = {DOMAIN: [("MX", f"10 mx.{DOMAIN}"), ("TXT", "v=spf1 mx ~all")]}
    with dns_server(zones) as nameserver:
        monkeypatch.setenv("CHAIRSIDE_NAMESERVER", nameserver)
        checked = client.post("/doctor/check", data={"csrf": token})
    assert "signing key is not on this computer" in checked.text
    assert "Make a signing key" in checked.text
    assert problems("the doctor's findings", checked.text) == []
