"""New campaign from the blog's feed address: the studio hands the address to
`create_campaign`, which fetches it as `chairside new --feed URL` does (a real HTTP server
on 127.0.0.1 serves the feed)."""

from __future__ import annotations

import tomllib

import pytest

from tests.support import StudioServer, copy_demo, csrf_of
from tests.test_new import FEED


@pytest.fixture
def studio(tmp_path):
    server = StudioServer(copy_demo(tmp_path / "practice"))
    yield server
    server.close()


def create(studio: StudioServer, files=None, **fields):
    client = studio.client()
    token = csrf_of(client.get("/new").text)
    answer = client.post(
        "/new", data={"csrf": token, "name": "2027-01", **fields}, files=files or {}
    )
    return client, answer


def test_a_campaign_from_the_feed_address_and_a_post(studio, http_server):
    http_server.route("GET", "/feed/", lambda request: (200, FEED.encode()))
    http_server.fail_next = [(301, b"", {"Location": "/feed/"})]
    post = ("whitening.txt", b"Whitening questions\n\nIs whitening safe? Yes.\n", "text/plain")
    client, answer = create(
        studio,
        files={"posts": post},
        feed_url=f"{http_server.url}/rss",
        since="2026-12-01",
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/c/2027-01/edit?created=2"
    assert [r.path for r in http_server.requests] == ["/rss", "/feed/"]
    assert http_server.requests[0].headers["user-agent"].startswith("Chairside/")
    saved = tomllib.loads((studio.root / "campaigns/2027-01/campaign.toml").read_text("utf-8"))
    assert sorted(p["file"] for p in saved["posts"]) == [
        "whitening.txt",
        "why-your-jaw-clicks-when-you-yawn.html",
    ]
    # What `new` prints (here: where the feed was read in the end) is shown once, on Edit.
    edit = client.get(answer.headers["location"]).text
    assert f"read the feed at {http_server.url}/feed/" in edit
    assert "read the feed at" not in client.get("/c/2027-01/edit").text


@pytest.mark.parametrize(
    ("path", "said"),
    [
        ("/gone/", "the server answered 404"),
        (None, "fetches feeds from http:// or https:// addresses only"),
    ],
)
def test_an_address_that_cannot_be_read_is_said_and_nothing_is_made(
    studio, http_server, path, said
):
    address = f"{http_server.url}{path}" if path else "file:///etc/passwd"
    _, answer = create(studio, feed_url=address, since="2026-12-01")
    assert answer.status_code == 400
    assert said in answer.text and "Traceback" not in answer.text
    assert f'value="{address}"' in answer.text  # the form keeps what was typed
    assert not (studio.root / "campaigns/2027-01").exists()
