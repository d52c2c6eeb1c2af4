"""`chairside new --feed URL` fetches the blog's feed (a real HTTP server on 127.0.0.1),
and `--base-url` gives a saved page the address its relative links need."""

from __future__ import annotations

import socket
import threading
import tomllib
from pathlib import Path

import httpx
import pytest

from chairside.content import fetch
from tests.support import assert_user_error
from tests.test_new import FEED

PAGE_WITHOUT_CANONICAL = """<html><head><title>Jaw pain at night</title></head><body>
<article><h1>Jaw pain at night</h1>
<p>Clenching your jaw at night can leave it sore. <a href="/blog/night-guards/">Night
guards</a> help many patients.</p>
<p><img src="images/jaw.jpg" alt="A relaxed jaw" width="400"></p>
</article></body></html>"""


@pytest.fixture
def server(http_server):
    """The HTTP recorder, quiet when `new` hangs up on purpose (too big, too slow): its
    thread's broken-pipe traceback would otherwise land in a later test's output."""
    http_server.server.handle_error = lambda request, address: None
    return http_server


def serve_feed(server, body: bytes = FEED.encode()) -> str:
    server.route("GET", "/feed/", lambda request: (200, body))
    return f"{server.url}/feed/"


def campaign(root: Path, name: str = "2027-01") -> dict:
    return tomllib.loads((root / f"campaigns/{name}/campaign.toml").read_text())


def test_new_fetches_a_feed_by_its_address(tmp_workspace, run, server):
    url = serve_feed(server)
    result = run("new", "2027-01", "--feed", url, "--since", "2026-12-01", cwd=tmp_workspace)
    assert result.exit_code == 0, result.output
    assert [p["file"] for p in campaign(tmp_workspace)["posts"]] == [
        "why-your-jaw-clicks-when-you-yawn.html"
    ]
    [request] = server.requests
    assert request.method == "GET" and request.headers["user-agent"].startswith("Chairside/")
    assert "application/rss+xml" in request.headers["accept"]
    built = run("build", "2027-01", cwd=tmp_workspace)
    assert built.exit_code == 0, built.output
    tmj = (tmp_workspace / "build/2027-01/tmj.html").read_text()
    assert "https://harborlanedental.example.com/wp-content/uploads/jaw.jpg" in tmj
    assert len(server.requests) == 1  # the build itself fetched nothing


def test_relative_links_in_a_feed_without_a_link_resolve_against_its_address(
    tmp_workspace, run, server
):
    feed = FEED.replace("<link>https://harborlanedental.example.com/blog/</link>", "")
    feed = feed.replace("<link>https://harborlanedental.example.com/blog/jaw-clicks/</link>", "")
    url = serve_feed(server, feed.encode())
    result = run("new", "2027-01", "--feed", url, cwd=tmp_workspace)
    assert result.exit_code == 0, result.output
    page = tmp_workspace / "campaigns/2027-01/posts/why-your-jaw-clicks-when-you-yawn.html"
    assert f"{server.url}/wp-content/uploads/jaw.jpg" in page.read_text()
    assert "could not be resolved" not in result.output


def test_redirects_are_followed_a_few_times(tmp_workspace, run, server):
    url = serve_feed(server)
    server.fail_next = [(301, b"", {"Location": "/moved"}), (302, b"", {"Location": url})]
    result = run("new", "2027-01", "--feed", f"{server.url}/rss", cwd=tmp_workspace)
    assert result.exit_code == 0, result.output
    assert f"read the feed at {url}" in result.output
    assert [r.path for r in server.requests] == ["/rss", "/moved", "/feed/"]


def test_a_redirect_loop_is_an_error(tmp_workspace, run, server):
    server.fail_next = [(302, b"", {"Location": f"/r{n}"}) for n in range(20)]
    result = run("new", "2027-01", "--feed", f"{server.url}/r", cwd=tmp_workspace)
    assert_user_error(result, "redirected more than 5 times")
    assert len(server.requests) == 6
    assert not (tmp_workspace / "campaigns/2027-01").exists()


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (404, b"Not here", "the server answered 404 Not Found"),
        (500, b"oops", "answered 500"),
        (200, b"<html><body><p>A blog home page</p></body></html>", "not an RSS or Atom feed"),
        (200, b"\x89PNG\r\n\x1a\n binary", "not a readable RSS or Atom feed"),
    ],
)
def test_what_is_not_a_feed_stops_new(tmp_workspace, run, server, status, body, message):
    server.fail_next = [(status, body)]
    result = run("new", "2027-01", "--feed", f"{server.url}/feed", cwd=tmp_workspace)
    assert_user_error(result, f"{server.url}/feed", message)
    assert not (tmp_workspace / "campaigns/2027-01").exists()


def test_a_blog_page_leads_to_its_feed(tmp_workspace, run, server):
    serve_feed(server)
    page = b"""<!DOCTYPE html><html><head>
    <link rel="alternate" type="application/rss+xml" title="Blog" href="/feed/">
    </head><body>Our blog</body></html>"""
    server.route("GET", "/blog/", lambda request: (200, page))
    result = run("new", "2027-01", "--feed", f"{server.url}/blog/", cwd=tmp_workspace)
    assert result.exit_code == 0, result.output
    assert len(campaign(tmp_workspace)["posts"]) == 2


def test_offline_or_nothing_listening(tmp_workspace, run):
    with socket.socket() as probe:  # a port on 127.0.0.1 that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run("new", "2027-01", "--feed", f"http://127.0.0.1:{port}/feed", cwd=tmp_workspace)
    assert_user_error(result, "cannot reach 127.0.0.1", "online")
    assert not (tmp_workspace / "campaigns/2027-01").exists()


def test_a_feed_larger_than_the_limit(tmp_workspace, run, server, monkeypatch):
    monkeypatch.setattr(fetch, "MAX_BYTES", 4096)
    url = serve_feed(server, FEED.encode() + b"<!--" + b"x" * 10_000 + b"-->")
    assert_user_error(run("new", "2027-01", "--feed", url, cwd=tmp_workspace), "larger than")


def test_a_server_that_stops_answering(tmp_workspace, run, server, monkeypatch):
    monkeypatch.setattr(fetch, "TIMEOUT", httpx.Timeout(0.3))
    answer = threading.Event()

    def slow(request):
        answer.wait(60)  # no answer until the test has its result, however slow the machine
        return 200, FEED.encode()

    server.route("GET", "/slow", slow)
    try:
        result = run("new", "2027-01", "--feed", f"{server.url}/slow", cwd=tmp_workspace)
    finally:
        answer.set()
    assert_user_error(result, "stopped sending")


@pytest.mark.parametrize(
    "url", ["ftp://blog.example.com/feed", "file:///etc/passwd", "https://", "http:/x/feed"]
)
def test_only_web_addresses_are_fetched(tmp_workspace, run, url):
    assert_user_error(run("new", "2027-01", "--feed", url, cwd=tmp_workspace), "http://")


def test_a_saved_page_without_a_canonical_link_asks_for_base_url(tmp_workspace, run, tmp_path):
    page = tmp_path / "jaw-pain.html"
    page.write_text(PAGE_WITHOUT_CANONICAL, encoding="utf-8")
    result = run("new", "2027-01", "--post", str(page), cwd=tmp_workspace)
    assert_user_error(result, "no canonical address", "--base-url", "/blog/night-guards/")
    assert not (tmp_workspace / "campaigns/2027-01").exists()

    base = "https://blog.example.com/2026/12/jaw-pain/"
    result = run("new", "2027-01", "--post", str(page), "--base-url", base, cwd=tmp_workspace)
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output
    built = run("build", "2027-01", cwd=tmp_workspace)
    assert built.exit_code == 0, built.output
    html = (tmp_workspace / "build/2027-01/tmj.html").read_text()
    assert "https://blog.example.com/blog/night-guards/" in html
    assert "https://blog.example.com/2026/12/jaw-pain/images/jaw.jpg" in html
    check = run("check", "2027-01", "--json", cwd=tmp_workspace)
    assert "relative-url" not in check.output


def test_new_warns_about_links_it_could_not_resolve(tmp_workspace, run, tmp_path):
    post = tmp_path / "kids.md"
    post.write_text(
        "---\ntitle: Sealants\n---\nSealants protect teeth. See [our prices](/prices) and "
        "[this](javascript:alert(1)).\n",
        encoding="utf-8",
    )
    result = run("new", "2027-01", "--post", str(post), cwd=tmp_workspace)
    assert result.exit_code == 0, result.output
    assert "warning: kids.md: the relative link '/prices' could not be resolved" in result.output
    assert "warning: kids.md: the link 'javascript:alert(1)' was left out" in result.output


def test_base_url_must_be_a_web_address(tmp_workspace, run, tmp_path):
    post = tmp_path / "kids.md"
    post.write_text("---\ntitle: Sealants\n---\nSealants protect teeth.\n", encoding="utf-8")
    result = run(
        "new", "2027-01", "--post", str(post), "--base-url", "javascript:x", cwd=tmp_workspace
    )
    assert_user_error(result, "--base-url")
