"""The studio's locks, tried with plain HTTP requests: no secret, a foreign Host, a form
without its CSRF token, an oversized upload, a user error (words, no traceback)."""

from __future__ import annotations

import httpx
import pytest
from starlette.routing import Route

from tests.support import StudioServer, copy_demo, csrf_of


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    server = StudioServer(copy_demo(tmp_path_factory.mktemp("studio") / "practice"))
    yield server
    server.close()


def post_routes(studio: StudioServer) -> list[str]:
    """Every POST path of the app, with a real campaign name filled in."""
    app = studio.app.app  # inside the guard middleware
    paths = [
        r.path.replace("{name}", "2026-12")
        for r in app.routes
        if isinstance(r, Route) and "POST" in (r.methods or ())
    ]
    assert len(paths) >= 2
    return paths


def test_the_server_listens_on_127_0_0_1_only(studio):
    assert studio.running.sock.getsockname()[0] == "127.0.0.1"


def test_without_the_secret_every_page_is_refused(studio):
    with httpx.Client(base_url=studio.url) as anonymous:
        for path in ("/", "/c/2026-12/edit", "/static/htmx.min.js", "/patients"):
            answer = anonymous.get(path)
            assert answer.status_code == 403, path
            assert "chairside studio" in answer.text
        assert anonymous.get("/login?token=wrong").status_code == 403
    forged = {f"chairside_studio_{studio.port}": "not-the-secret"}
    with httpx.Client(base_url=studio.url, cookies=forged) as guesser:
        assert guesser.get("/").status_code == 403


def test_the_secret_becomes_an_httponly_strict_cookie_and_leaves_the_address(studio):
    with httpx.Client(base_url=studio.url) as client:
        answer = client.get(studio.login_url)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/"
        cookie = answer.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        page = client.get("/")
        assert page.status_code == 200
        assert "2026-12" in page.text
        assert studio.secret not in page.text


def test_a_foreign_host_is_refused_even_with_the_cookie(studio):
    client = studio.client()
    for host in ("evil.example.com", f"evil.example.com:{studio.port}", "127.0.0.1:1"):
        answer = client.get("/", headers={"Host": host})
        assert answer.status_code == 421, host
    assert client.get("/", headers={"Host": f"localhost:{studio.port}"}).status_code == 200


def test_every_form_without_its_csrf_token_is_refused_and_changes_nothing(studio):
    client = studio.client()
    toml = studio.root / "campaigns/2026-12/campaign.toml"
    before = toml.read_bytes()
    for path in post_routes(studio):
        for data in ({}, {"csrf": "forged"}):
            answer = client.post(path, data={**data, "subject": "Forged"})
            assert answer.status_code == 403, path
            assert "out of date" in answer.text
    assert toml.read_bytes() == before


def test_pages_forbid_framing_by_others_and_scripts_from_elsewhere(studio):
    answer = studio.client().get("/")
    policy = answer.headers["content-security-policy"]
    assert "frame-ancestors 'self'" in policy and "script-src 'self'" in policy
    assert "https:" not in policy.split("script-src")[1].split(";")[0]
    assert answer.headers["cache-control"] == "no-store"


def test_an_oversized_upload_is_refused_before_it_is_read(studio):
    client = studio.client()
    page = client.get("/new").text
    answer = client.post(
        "/new",
        data={"csrf": csrf_of(page), "name": "big"},
        files={"posts": ("big.txt", b"x" * (21 * 1024 * 1024))},
    )
    assert answer.status_code == 413
    assert not (studio.root / "campaigns/big").exists()


def test_a_user_error_is_shown_in_the_studios_words_without_a_traceback(studio):
    client = studio.client()
    answer = client.get("/c/no-such-month/edit")
    assert answer.status_code == 400
    assert "No campaign &#39;no-such-month&#39;" in answer.text
    assert "chairside new" not in answer.text  # the studio's words: no command to run
    assert "Traceback" not in answer.text


def test_the_email_preview_is_sandboxed(studio):
    client = studio.client()
    client.get("/c/2026-12/edit")  # builds it
    answer = client.get("/c/2026-12/preview/general.html")
    assert answer.status_code == 200
    assert answer.headers["content-security-policy"].startswith("sandbox;")
    assert client.get("/c/2026-12/preview/..%2Fpractice.html").status_code == 404


def test_no_address_ever_appears_in_a_link_or_form_address(studio):
    import re

    client = studio.client()
    pages = [
        client.get(path).text
        for path in ("/", "/patients?show=1", "/c/2026-12/send?show=1", "/unsubscribes?show=1")
    ]
    assert "@example.com" in pages[1]  # shown, as asked...
    for page in pages:
        for target in re.findall(r'(?:href|src|action|hx-get)="([^"]*)"', page):
            assert "@" not in target and "example.com" not in target, target  # ...never in a URL


def test_hostile_text_in_a_field_is_shown_as_text(studio):
    client = studio.client()
    page = client.get("/c/2026-12/edit").text
    form = {
        "csrf": csrf_of(page),
        "subject": '<img src=x onerror="alert(1)"> News',
        "preheader": "p",
        "intro": "Hello",
        "format": "full",
        "post_count": "0",
    }
    shown = client.post("/c/2026-12/edit", data=form).text
    assert '<img src=x onerror="alert(1)">' not in shown
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt; News" in shown
    assert (
        'file = "holiday-hours.md"' in (studio.root / "campaigns/2026-12/campaign.toml").read_text()
    )
