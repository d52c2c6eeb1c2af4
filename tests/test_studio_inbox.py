"""The studio's Inbox page over HTTP against a real IMAP server: read the mailbox, see what
was done and what waits, apply or dismiss it; errors in the page's own words."""

from __future__ import annotations

import re
import shutil

import pytest

from chairside.audience.suppression import read_suppressed
from tests.imap_server import DOVECOT, PASSWORD, USER
from tests.support import StudioServer, copy_demo, csrf_of

PRACTICE = "harborlanedental.example.com"
FORGED = [
    "maria.lopez@example.com",
    "james.whitfield@example.com",
]


@pytest.fixture(autouse=True)
def _dovecot_installed() -> None:
    from tests.support import need

    need("Debian's dovecot-imapd", shutil.which(DOVECOT) is not None)


@pytest.fixture
def studio(tmp_path):
    server = StudioServer(copy_demo(tmp_path / "practice"))
    yield server
    server.close()


def _forged_bounce() -> bytes:
    blocks = "".join(
        f"Final-Recipient: rfc822; {a}\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n" for a in FORGED
    )
    return (
        "Return-Path: <>\r\nFrom: MAILER-DAEMON@evil.example\r\nTo: news@"
        f"{PRACTICE}\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <forged.1@evil.example>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nNot delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; evil.example"
        f"\r\n\r\n{blocks}--B--\r\n"
    ).encode()


def test_read_the_mailbox_then_apply_and_dismiss_what_waits(studio, imap, monkeypatch):
    with (studio.root / "practice.toml").open("a") as handle:
        handle.write(
            f'\n[imap]\nhost = "127.0.0.1"\nport = {imap.port}\nuser = "{USER}"\ntls = false\n'
        )
    monkeypatch.setenv("CHAIRSIDE_IMAP_PASSWORD", PASSWORD)
    imap.append("INBOX", [_forged_bounce()])
    client = studio.client()
    page = client.get("/inbox")
    assert page.status_code == 200 and "Read the mailbox now" in page.text
    assert "Waiting for you: 0" in page.text
    token = csrf_of(page.text)

    read = client.post("/inbox/read", data={"csrf": token})
    assert read.status_code == 200, read.text
    assert "1 new message read, 0 patients taken off the list, 2 held for you to decide" in (
        read.text
    )
    assert "Waiting for you: 2" in read.text
    assert FORGED[0] not in read.text and "ma***@example.com" in read.text  # masked
    assert FORGED[0] in client.get("/inbox?show=1").text
    assert read_suppressed(studio.root / "audiences/suppressed.csv").isdisjoint(FORGED)

    ids = re.findall(r'name="id" value="(\d+)"', read.text)
    assert len(ids) == 2
    applied = client.post("/inbox/decide", data={"csrf": token, "id": ids[0], "action": "apply"})
    assert "suppressed" in applied.text and "Waiting for you: 1" in applied.text
    dismissed = client.post(
        "/inbox/decide", data={"csrf": token, "id": ids[1], "action": "dismiss"}
    )
    assert "dismissed" in dismissed.text and "Waiting for you: 0" in dismissed.text
    suppressed = read_suppressed(studio.root / "audiences/suppressed.csv")
    assert FORGED[0] in suppressed and FORGED[1] not in suppressed
    again = client.post("/inbox/decide", data={"csrf": token, "id": ids[0], "action": "apply"})
    assert "applied before: nothing changed" in again.text

    # Without the CSRF token nothing is decided.
    refused = client.post("/inbox/decide", data={"id": ids[1], "action": "apply"})
    assert refused.status_code == 403


def test_a_mailbox_not_set_up_or_unreachable_is_said_in_the_pages_words(studio, monkeypatch):
    client = studio.client()
    token = csrf_of(client.get("/inbox").text)
    answer = client.post("/inbox/read", data={"csrf": token})
    assert answer.status_code == 400
    assert "mailbox is not set up yet" in answer.text and "Settings" in answer.text
    with (studio.root / "practice.toml").open("a") as handle:
        handle.write(f'\n[imap]\nhost = "127.0.0.1"\nport = 9\nuser = "{USER}"\ntls = false\n')
    monkeypatch.setenv("CHAIRSIDE_IMAP_PASSWORD", PASSWORD)
    answer = client.post("/inbox/read", data={"csrf": token})
    assert answer.status_code == 400 and "could not be reached" in answer.text
    for words in ("practice.toml", "[imap]", "CHAIRSIDE_", "chairside ", "--"):
        assert words not in answer.text.split("<main", 1)[-1], words
