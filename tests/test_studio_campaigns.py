"""The campaigns list and its operations in the studio: next step as a link, add and remove
posts, copy a campaign as a start, delete a draft only after asking and only if unsent."""

from __future__ import annotations

import re
import tomllib

import lxml.html
import pytest

from chairside.ledger import SENT, open_ledger
from tests.support import StudioServer, copy_demo, csrf_of


@pytest.fixture
def studio(tmp_path):
    server = StudioServer(copy_demo(tmp_path / "practice"))
    yield server
    server.close()


def row(page: str, name: str) -> str:
    return page.split(f'data-campaign="{name}"')[1].split("</tr>")[0]


def test_the_next_step_is_a_link_to_where_it_is_done(studio):
    client = studio.client()
    assert re.search(r'class="next"><a href="/c/2026-12/edit">Edit it and check it</a>',
                     row(client.get("/").text, "2026-12"))  # fmt: skip
    client.get("/c/2026-12/edit")  # checked: the next step is a test, on the Send page
    assert '<a href="/c/2026-12/send">Send yourself a test' in row(client.get("/").text, "2026-12")


def test_posts_are_added_and_removed_on_the_edit_page(studio):
    client = studio.client()
    token = csrf_of(client.get("/c/2026-12/edit").text)
    post = ("jaw-exercises.txt", b"Gentle jaw exercises\n\nFor a sore jaw, try these.\n", "x")
    answer = client.post("/c/2026-12/posts/add", data={"csrf": token}, files={"posts": post})
    assert answer.status_code == 303
    page = client.get(answer.headers["location"]).text
    assert "1 post added at the end" in page and 'data-file="jaw-exercises.txt"' in page
    # Remove pressed after typing a new subject: the post goes, the subject is kept.
    form = dict(lxml.html.fromstring(page).forms[0].form_values())
    form.update(subject="A new subject", remove="holiday-hours.md")
    answer = client.post("/c/2026-12/posts/remove", data=form)
    assert answer.status_code == 200 and 'data-file="holiday-hours.md"' not in answer.text
    assert 'value="A new subject"' in answer.text
    kept = tomllib.loads((studio.root / "campaigns/2026-12/campaign.toml").read_text("utf-8"))
    assert [p["file"] for p in kept["posts"]] == [
        "jaw-and-neck-tension.txt",
        "night-guards-for-grinding.md",
        "desk-posture-and-neck-pain.html",
        "jaw-exercises.txt",
    ]
    assert not (studio.root / "campaigns/2026-12/posts/holiday-hours.md").exists()
    # Nothing to add: said beside the add form, on the same page.
    answer = client.post("/c/2026-12/posts/add", data={"csrf": token})
    assert answer.status_code == 400 and 'id="add-error"' in answer.text
    assert "Back to the campaigns" not in answer.text


def test_a_campaign_is_copied_as_a_start_and_a_draft_deleted_after_asking(studio):
    client = studio.client()
    page = client.get("/new").text
    assert 'name="copy_name" value="2027-01"' in page
    answer = client.post(
        "/copy", data={"csrf": csrf_of(page), "source": "2026-12", "copy_name": "2027-01"}
    )
    assert answer.status_code == 303 and answer.headers["location"].startswith("/c/2027-01/edit")
    assert (studio.root / "campaigns/2027-01/posts/holiday-hours.md").is_file()
    taken = client.post(
        "/copy", data={"csrf": csrf_of(page), "source": "2026-12", "copy_name": "2027-01"}
    )
    assert taken.status_code == 400 and 'id="copy-error"' in taken.text

    listing = client.get("/").text
    assert 'href="/c/2027-01/delete"' in row(listing, "2027-01")
    ask = client.get("/c/2027-01/delete").text
    assert "cannot be undone" in ask and (studio.root / "campaigns/2027-01").is_dir()
    answer = client.post("/c/2027-01/delete", data={"csrf": csrf_of(ask)})
    assert answer.status_code == 200 and "2027-01 was deleted" in answer.text
    assert not (studio.root / "campaigns/2027-01").exists()


def test_a_campaign_sent_to_anyone_is_not_offered_for_deletion_and_is_refused(studio):
    with open_ledger(studio.root / ".chairside") as ledger:
        ledger.mark_sending("2026-12", "ann@example.com", "ann@example.com", "v1")
        ledger.finish("2026-12", "ann@example.com", SENT, reply="250 ok")
    client = studio.client()
    assert "/delete" not in row(client.get("/").text, "2026-12")
    ask = client.get("/c/2026-12/delete").text
    assert "It is kept" in ask and "Yes, delete" not in ask
    answer = client.post("/c/2026-12/delete", data={"csrf": csrf_of(client.get("/new").text)})
    assert answer.status_code == 400 and "It is kept" in answer.text
    assert (studio.root / "campaigns/2026-12/campaign.toml").is_file()
