"""Send page over plain HTTP: one lock with the CLI, a changed count asks again."""

from __future__ import annotations

import html
import re

import pytest

from chairside.ledger import DEFERRED, campaign_lock, open_ledger
from chairside.studio.words import plain
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
        assert "already being sent from another window" in answer.text
        assert "chairside send" not in answer.text
    assert recorder.received == []


def test_the_progress_of_a_send_from_another_window_is_read_from_the_ledger(studio):
    """The poll's numbers: the ledger's counts by status; not sent yet, the rest of the list."""
    with open_ledger(studio.root / ".chairside") as ledger:
        members = [(f"p{n}@example.com", f"p{n}@example.com", "v") for n in range(7)]
        ledger.mark_batch_sending("2026-12", "smtp", "b1", members[:6])
        ledger.finish_batch("2026-12", "b1", reply="250", failed={"p0@example.com": "5.1.1"})
        ledger.finish("2026-12", "p1@example.com", DEFERRED, reply="451")
        ledger.mark_sending("2026-12", *members[6])
    with campaign_lock(studio.root / ".chairside", "2026-12"):
        box = studio.client().get("/c/2026-12/send/progress").text
    shown = dict(re.findall(r'data-count="([a-z-]+)">(\d+)<', box))
    assert shown == {"sent": "4", "deferred": "1", "failed": "1", "unknown": "1", "pending": "24"}


def test_a_count_that_changed_since_the_confirmation_is_asked_again(studio, smtp_server):
    recorder, _ = smtp_server
    client = studio.client()
    token = csrf_of(client.get("/c/2026-12/send").text)
    answer = client.post("/c/2026-12/send/start", data={"csrf": token, "expected": "40"})
    assert answer.status_code == 200
    assert "The number changed" in answer.text and "to 31 patients now?" in answer.text
    assert recorder.received == []


def test_stop_pressed_just_after_the_run_ended_shows_how_it_ended(tmp_path, smtp_server):
    """A fast server can finish before the office's click on Stop arrives."""
    recorder, port = smtp_server
    root = copy_demo(tmp_path / "practice")
    practice = root / "practice.toml"
    practice.write_text(practice.read_text("utf-8").replace("port = 1025", f"port = {port}"))
    server = StudioServer(root)
    try:
        client = server.client()
        token = csrf_of(client.get("/c/2026-12/send").text)
        started = client.post("/c/2026-12/send/start", data={"csrf": token, "expected": "31"})
        assert started.status_code == 303
        ended = run_to_its_end(client)
        answer = client.post("/c/2026-12/send/stop", data={"csrf": csrf_of(ended)})
        assert answer.status_code == 303 and answer.headers["location"] == "/c/2026-12/send"
        assert "run-summary" in client.get("/c/2026-12/send").text
        assert len(recorder.received) == 31
    finally:
        server.close()


def test_a_bad_test_address_is_explained(studio):
    client = studio.client()
    token = csrf_of(client.get("/c/2026-12/send").text)
    answer = client.post("/c/2026-12/send/test", data={"csrf": token, "address": "office@"})
    assert answer.status_code == 400
    assert "Test address:" in answer.text


def test_stopping_the_studio_mid_send_finishes_the_current_message(tmp_path, smtp_server, run):
    import json
    import threading

    from tests.test_send import wait_for

    recorder, port = smtp_server
    root = copy_demo(tmp_path / "practice")
    practice = root / "practice.toml"
    practice.write_text(practice.read_text("utf-8").replace("port = 1025", f"port = {port}"))
    studio = StudioServer(root)
    closing = threading.Thread(target=studio.close)  # what Ctrl-C does
    try:
        client = studio.client()
        token = csrf_of(client.get("/c/2026-12/send").text)
        recorder.hold_after(2)  # the send cannot end before the studio is stopped
        answer = client.post("/c/2026-12/send/start", data={"csrf": token, "expected": "31"})
        assert answer.status_code == 303
        wait_for(lambda: recorder.held >= 1)
        closing.start()
        job = studio.app.app.state.studio.jobs["2026-12"]  # inside the guard middleware
        wait_for(job.stop.is_set)  # the studio asked the send to stop...
    finally:
        recorder.release()  # ...and only now can the messages in hand be finished
        if closing.is_alive():
            closing.join(timeout=60)
        else:
            studio.close()
    assert not studio.thread.is_alive()
    status = json.loads(run("status", "2026-12", "--json", cwd=root).output)
    assert status["unknown"] == []  # the message in flight was finished, not cut
    assert status["sent"] == len(recorder.received) < 31
    assert status["pending"] == 31 - status["sent"]
    # ...and the CLI continues where the studio stopped.
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
    assert "business associate agreement with SendGrid" in refused.text
    assert "[providers" not in refused.text and "--without-baa" not in refused.text
    assert 'name="without_baa"' in refused.text

    form = {"csrf": token, "provider": "sendgrid", "without_baa": "yes"}
    confirm = client.post("/c/2026-12/push/confirm", data=form)
    assert "without a business associate agreement" in confirm.text
    assert "for 31 patients?" in confirm.text
    assert accepted == []

    started = client.post("/c/2026-12/push/start", data={**form, "expected": "31"})
    assert started.status_code == 303
    deadline = time.monotonic() + 20
    while "sendgrid: 31 patients handed over in" not in (
        page := client.get("/c/2026-12/send").text
    ):
        assert time.monotonic() < deadline, page
        time.sleep(0.1)
    handed = [p["to"][0]["email"] for body in accepted for p in body["personalizations"]]
    assert len(handed) == 31 == len(set(handed))
    row = client.get("/").text.split('data-campaign="2026-12"')[1]
    assert 'class="state state-pushed"' in row


def run_to_its_end(client, name: str = "2026-12") -> str:
    """The send page once the studio's run has ended (the progress box polled as htmx does)."""
    import time

    deadline = time.monotonic() + 30
    while True:
        box = client.get(f"/c/{name}/send/progress").text
        if 'data-running="no"' in box and ("run-summary" in box or "The send stopped" in box):
            return client.get(f"/c/{name}/send").text
        assert time.monotonic() < deadline, box
        time.sleep(0.1)


def shown_lines(page: str) -> list[str]:
    """The run's summary as the page lists it, as text."""
    import re

    found = re.search(r'<ul class="run-summary">(.*?)</ul>', page, re.S)
    assert found, page
    return [html.unescape(li).strip() for li in re.findall(r"<li>(.*?)</li>", found.group(1))]


@pytest.fixture
def scripted():
    from tests.test_smtp_refusals import start_server

    handler, controller = start_server()
    yield handler, controller.port
    controller.stop()


def studio_on(root, port: int) -> StudioServer:
    practice = root / "practice.toml"
    practice.write_text(practice.read_text("utf-8").replace("port = 1025", f"port = {port}"))
    return StudioServer(root)


def start_send(client, expected: str, **extra) -> None:
    token = csrf_of(client.get("/c/2026-12/send").text)
    answer = client.post(
        "/c/2026-12/send/start", data={"csrf": token, "expected": expected, **extra}
    )
    assert answer.status_code == 303, answer.text


def test_a_server_refusal_is_a_user_error_in_the_cli_words(tmp_path, scripted, run):
    server, port = scripted
    server.at["RCPT"] = "554 5.7.1 <{rcpt}>: Relay access denied"
    root = copy_demo(tmp_path / "practice")
    before = (root / "audiences/suppressed.csv").read_bytes()
    studio = studio_on(root, port)
    try:
        client = studio.client()
        start_send(client, "31")
        page = run_to_its_end(client)
    finally:
        studio.close()
    assert "The send stopped:" in page and "Something went wrong" not in page
    assert "pass mail on" in page and "Nobody was suppressed" in page
    assert "@example.com" not in page.replace("***@example.com", "")  # masked
    assert (root / "audiences/suppressed.csv").read_bytes() == before
    # The CLI, run the same way, says the same: exit 1 and the same refusal.
    result = run("send", "2026-12", "--smtp-port", str(port), cwd=root)
    assert result.exit_code == 1
    said = result.output.split("Error: ", 1)[1].strip()
    # ...in the studio's words: what to do in Settings, not in practice.toml or an option.
    assert plain(said.splitlines()[0]) in html.unescape(page)
    assert "practice.toml" not in page and "--starttls" not in page


def test_a_failed_mailbox_ends_with_the_summary_of_the_cli_then_retry_failed(
    tmp_path, scripted, run
):
    server, port = scripted
    server.reply_for["maria.lopez@example.com"] = "550 5.1.1 <{rcpt}>: User unknown"
    # The same run from the CLI, on a copy of the same practice, to compare the words.
    by_cli = copy_demo(tmp_path / "by-cli")
    cli = run("send", "2026-12", "--smtp-port", str(port), cwd=by_cli)
    assert cli.exit_code == 3, cli.output
    server.received.clear()

    studio = studio_on(copy_demo(tmp_path / "practice"), port)
    try:
        client = studio.client()
        start_send(client, "31")
        page = run_to_its_end(client)
        lines = shown_lines(page)
        # The CLI's numbers, in the studio's words (no command to run again: a button).
        assert "2026-12: 30 sent now, 0 sent before; failed 1" in cli.output
        assert lines == [
            "30 sent now, 0 had it before.",
            "1 failed, 0 to try again, 0 not known to have arrived, 0 not sent yet.",
        ]
        assert "Not finished:" in page and "Finished: everyone" not in page
        assert "Not everyone has it yet: 1 failed" in html.unescape(page)
        assert "chairside send" not in page and "--retry-failed" not in page
        assert "ma***@example.com" in page  # the failed patient listed, masked
        assert "maria.lopez@example.com" not in page

        # A wrong bounce: undone under Unsubscribes, then "retry failed" sends to her once.
        server.reply_for.clear()
        token = csrf_of(page)
        client.post(
            "/unsubscribes/undo", data={"csrf": token, "addresses": "maria.lopez@example.com"}
        )
        assert 'name="retry_failed"' in page
        plain = client.post("/c/2026-12/send/confirm", data={"csrf": token}).text
        assert "Nobody is left to send to" in plain
        confirm = client.post(
            "/c/2026-12/send/confirm", data={"csrf": token, "retry_failed": "yes"}
        ).text
        assert "to 1 patient now?" in confirm and 'name="retry_failed" value="yes"' in confirm
        start_send(client, "1", retry_failed="yes")
        page = run_to_its_end(client)
        assert "Finished: everyone on the list has it." in page
        assert shown_lines(page)[0] == "1 sent now, 30 had it before."
    finally:
        studio.close()
    sent = server.recipients()
    assert sent[-1] == "maria.lopez@example.com"
    assert len(sent) == 31 == len(set(sent))  # everyone once, she last


def test_a_lost_ledger_is_never_shown_as_nothing_sent_and_is_rebuilt(tmp_path, smtp_server, run):
    """state.db deleted after a send from the CLI: the campaigns list and Edit say the
    ledger is lost and how to rebuild it, not 'draft' (which invites sending again); the
    Send page offers no send, only the rebuild `chairside rebuild-ledger` does."""
    _, port = smtp_server
    root = copy_demo(tmp_path / "practice")
    assert run("send", "2026-12", "--smtp-port", str(port), cwd=root).exit_code == 0
    (root / ".chairside/state.db").unlink()
    studio = StudioServer(root)
    try:
        client = studio.client()
        row = client.get("/").text.split('data-campaign="2026-12"')[1].split("</tr>")[0]
        assert 'class="state state-ledger-lost"' in row
        assert "Rebuild button on the Send page" in row and "rebuild-ledger" not in row
        assert "Rebuild button on the Send page" in client.get("/c/2026-12/edit").text
        # Looking did not make the lost ledger pass for an empty one: the CLI still refuses.
        status = run("status", "2026-12", cwd=root)
        assert status.exit_code == 1 and "rebuild-ledger 2026-12" in status.output

        page = client.get("/c/2026-12/send").text
        assert "Send to patients" not in page and "Rebuild the send record" in page
        answer = client.post("/c/2026-12/ledger/rebuild", data={"csrf": csrf_of(page)})
        assert answer.status_code == 200
        said = html.unescape(answer.text)
        assert "Rebuilt the ledger of 2026-12 from its journal: 31 sent, 0 failed" in said
        assert "chairside status" not in said
        assert 'data-count="sent">31<' in answer.text and 'data-count="pending">0<' in answer.text
        row = client.get("/").text.split('data-campaign="2026-12"')[1].split("</tr>")[0]
        assert 'class="state state-sent"' in row
    finally:
        studio.close()
    assert run("status", "2026-12", cwd=root).exit_code == 0
    # The CLI says the same of the same rebuild (the studio without the command).
    (root / ".chairside/state.db").unlink()
    cli = run("rebuild-ledger", "2026-12", cwd=root)
    assert cli.exit_code == 0 and plain(cli.output.strip()) in said


def test_unknown_patients_are_resent_only_when_the_office_ticks_the_box(tmp_path, scripted, run):
    """`send --resend-unknown` from the Send page: the box says they may get it twice."""
    server, port = scripted
    server.hang_up_after_data_for.add("maria.lopez@example.com")  # took it, then went dead
    root = copy_demo(tmp_path / "practice")
    studio = studio_on(root, port)
    try:
        client = studio.client()
        start_send(client, "31")
        page = run_to_its_end(client)
        assert 'data-count="unknown">1<' in page and 'name="resend_unknown"' in page
        assert "receive the campaign twice" in page
        token = csrf_of(page)
        unticked = client.post("/c/2026-12/send/confirm", data={"csrf": token}).text
        assert "Nobody is left to send to" in unticked
        ticked = client.post(
            "/c/2026-12/send/confirm", data={"csrf": token, "resend_unknown": "yes"}
        ).text
        assert "to 1 patient now?" in ticked and "receive the campaign twice" in ticked
        assert 'name="resend_unknown" value="yes"' in ticked
        start_send(client, "1", resend_unknown="yes")
        assert "Finished: everyone on the list has it." in run_to_its_end(client)
    finally:
        studio.close()
    assert server.recipients().count("maria.lopez@example.com") == 2
    assert len(server.received) == 32
    assert run("status", "2026-12", cwd=root).exit_code == 0


def test_a_push_without_a_key_says_so_before_yes_and_a_refused_push_shows_in_its_section(
    studio, http_server, monkeypatch
):
    import time

    import lxml.html

    monkeypatch.delenv("SENDGRID_API_KEY", raising=False)
    client = studio.client()
    token = csrf_of(client.get("/c/2026-12/send").text)
    form = {"csrf": token, "provider": "sendgrid", "without_baa": "yes"}
    asked = client.post("/c/2026-12/push/confirm", data=form)
    assert asked.status_code == 400 and "No SendGrid API key is saved" in asked.text
    assert "Yes, push" not in asked.text and 'href="/settings"' in asked.text

    monkeypatch.setenv("SENDGRID_API_KEY", "SG.wrong-key")
    monkeypatch.setenv("CHAIRSIDE_SENDGRID_API_BASE", http_server.url)
    http_server.route("POST", r"/v3/mail/send", lambda r: (401, b'{"errors":[{"message":"no"}]}'))
    confirm = client.post("/c/2026-12/push/confirm", data=form)
    assert "Yes, push to SendGrid" in confirm.text
    started = client.post("/c/2026-12/push/start", data={**form, "expected": "31"})
    assert started.status_code == 303
    deadline = time.monotonic() + 20
    while "The hand-over stopped" not in (page := client.get("/c/2026-12/send").text):
        assert time.monotonic() < deadline, page
        time.sleep(0.1)
    tree = lxml.html.fromstring(page)
    assert "The hand-over stopped" in tree.get_element_by_id("push").text_content()
    assert "stopped" not in tree.get_element_by_id("progress").text_content()
