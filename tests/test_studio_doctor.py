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
