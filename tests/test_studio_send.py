"""Send page over plain HTTP: one lock with the CLI, a changed count asks again."""

from __future__ import annotations

import pytest

from chairside.ledger import campaign_lock
from tests.support import StudioServer, copy_demo, csrf_of


@pytest.fixture
def studio(tmp_path):
    server = StudioServer(copy_demo(tmp_path / "practice"))
    yield server
    server.close()


def test_a_send_held_by_the_cli_shows_as_running_and_is_not_started_twice(studio, smtp_server):
    recorder, _ = smtp_server
    client = studio.client()
    page = client.get("/c/2026-12/send").text
    with campaign_lock(studio.root / ".chairside", "2026-12"):
        shown = client.get("/c/2026-12/send").text
        assert 'data-running="yes"' in shown and "from another window" in shown
        answer = client.post(
            "/c/2026-12/send/start", data={"csrf": csrf_of(page), "expected": "31"}
        )
        assert answer.status_code == 400
        assert "already being delivered by `chairside send`" in answer.text
    assert recorder.received == []


def test_a_count_that_changed_since_the_confirmation_is_asked_again(studio, smtp_server):
    recorder, _ = smtp_server
    client = studio.client()
    token = csrf_of(client.get("/c/2026-12/send").text)
    answer = client.post("/c/2026-12/send/start", data={"csrf": token, "expected": "40"})
    assert answer.status_code == 200
    assert "The number changed" in answer.text and "to 31 patients now?" in answer.text
    assert recorder.received == []


def test_a_bad_test_address_is_explained(studio):
    client = studio.client()
    token = csrf_of(client.get("/c/2026-12/send").text)
    answer = client.post("/c/2026-12/send/test", data={"csrf": token, "address": "office@"})
    assert answer.status_code == 400
    assert "Test address:" in answer.text


def test_stopping_the_studio_mid_send_finishes_the_current_message(tmp_path, smtp_server, run):
    import json
    import time

    recorder, port = smtp_server
    root = copy_demo(tmp_path / "practice")
    practice = root / "practice.toml"
    practice.write_text(practice.read_text("utf-8").replace("port = 1025", f"port = {port}"))
    studio = StudioServer(root)
    try:
        client = studio.client()
        token = csrf_of(client.get("/c/2026-12/send").text)
        recorder.delay = 0.2
        answer = client.post("/c/2026-12/send/start", data={"csrf": token, "expected": "31"})
        assert answer.status_code == 303
        deadline = time.monotonic() + 20
        while len(recorder.received) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        studio.close()  # what Ctrl-C does
    assert not studio.thread.is_alive()
    status = json.loads(run("status", "2026-12", "--json", cwd=root).output)
    assert status["unknown"] == []  # the message in flight was finished, not cut
    assert status["sent"] == len(recorder.received) < 31
    assert status["pending"] == 31 - status["sent"]
    # ...and the CLI continues where the studio stopped.
    recorder.delay = 0
    result = run("send", "2026-12", "--smtp-port", str(port), cwd=root)
    assert result.exit_code == 0, result.output
    assert len(recorder.recipients()) == 31 == len(set(recorder.recipients()))


def test_push_names_the_count_asks_about_the_baa_and_hands_everyone_over_once(
    studio, http_server, monkeypatch
):
    import time

    monkeypatch.setenv("SENDGRID_API_KEY", "SG.test-key")
    monkeypatch.setenv("CHAIRSIDE_SENDGRID_API_BASE", http_server.url)
    accepted: list[dict] = []
    http_server.route(
        "POST", r"/v3/mail/send", lambda r: (accepted.append(r.json()), (202, b""))[1]
    )
    client = studio.client()
    token = csrf_of(client.get("/c/2026-12/send").text)

    refused = client.post("/c/2026-12/push/confirm", data={"csrf": token, "provider": "sendgrid"})
    assert refused.status_code == 400
    assert "baa = true under [providers.sendgrid]" in refused.text
    assert 'name="without_baa"' in refused.text

    form = {"csrf": token, "provider": "sendgrid", "without_baa": "yes"}
    confirm = client.post("/c/2026-12/push/confirm", data=form)
    assert "without a business associate agreement" in confirm.text
    assert "for 31 patients?" in confirm.text
    assert accepted == []

    started = client.post("/c/2026-12/push/start", data={**form, "expected": "31"})
    assert started.status_code == 303
    deadline = time.monotonic() + 20
    while "Finished: 31 patients handed to" not in (page := client.get("/c/2026-12/send").text):
        assert time.monotonic() < deadline, page
        time.sleep(0.1)
    handed = [p["to"][0]["email"] for body in accepted for p in body["personalizations"]]
    assert len(handed) == 31 == len(set(handed))
    row = client.get("/").text.split('data-campaign="2026-12"')[1]
    assert 'class="state state-pushed"' in row
