"""`chairside send` against a real SMTP server (aiosmtpd on 127.0.0.1)."""

from __future__ import annotations

import csv
import email
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from email import policy
from pathlib import Path

import pytest

from chairside.sending import CONNECTIONS
from tests.support import assert_user_error, smtp_with_login

FAST = ("--retry-delay", "0.01")


def sendable(run, root: Path) -> dict[str, str]:
    """address → segment, as `chairside audience --show` reports them."""
    result = run("audience", "--json", "--show", cwd=root)
    return {p["email"].lower(): p["segment"] for p in json.loads(result.output)["patients"]}


def status(run, root: Path) -> dict:
    result = run("status", "2026-12", "--json", "--show", cwd=root)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def send(run, root: Path, port: int, *args: str):
    return run("send", "2026-12", "--smtp-port", str(port), *FAST, *args, cwd=root)


def titles_by_segment(root: Path, run) -> dict[str, list[str]]:
    assert run("build", "2026-12", cwd=root).exit_code == 0
    manifest = json.loads((root / "build/2026-12/manifest.json").read_text())
    return {v["segment"]: v["articles"] for v in manifest["variants"]}


def test_everyone_gets_exactly_one_message_with_their_variant(tmp_workspace, smtp_server, run):
    server, port = smtp_server
    expected = sendable(run, tmp_workspace)
    result = send(run, tmp_workspace, port)
    assert result.exit_code == 0, result.output
    assert Counter(server.recipients()) == Counter(set(expected))  # each once, nobody else
    titles = titles_by_segment(tmp_workspace, run)
    for rcpt, data in server.received:
        message = email.message_from_bytes(data, policy=policy.default)
        html = message.get_body(("html",)).get_content()
        for title in titles[expected[rcpt]]:
            assert title.replace("&", "&amp;") in html  # the patient's own variant
        other = {t for s, ts in titles.items() for t in ts} - set(titles[expected[rcpt]])
        assert not any(t in html for t in other)
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    again = send(run, tmp_workspace, port)
    assert "0 sent now, 31 sent before" in again.output
    assert len(server.received) == len(expected)
    assert status(run, tmp_workspace)["sent"] == len(expected)


def test_a_permanent_refusal_fails_one_and_suppresses_it(tmp_workspace, smtp_server, run):
    server, port = smtp_server
    server.refuse["maria.lopez@example.com"] = [550]
    result = send(run, tmp_workspace, port)
    assert result.exit_code == 3, result.output  # ran to the end, but one is failed
    assert "failed (suppressed from now on): ma***@example.com: 550 no such user" in result.output
    assert "maria.lopez@example.com" not in server.recipients()
    assert len(server.received) == len(sendable(run, tmp_workspace))  # everyone else got it
    report = status(run, tmp_workspace)
    assert report["failed"] == [{"email": "maria.lopez@example.com", "reason": "550 no such user"}]
    with (tmp_workspace / "audiences/suppressed.csv").open() as handle:
        last = list(csv.DictReader(handle))[-1]
    assert last["email"] == "maria.lopez@example.com" and "550" in last["reason"]


def test_a_temporary_refusal_is_retried_then_delivered_once(tmp_workspace, smtp_server, run):
    server, port = smtp_server
    server.refuse["priya.raman@example.com"] = [451, 451]
    result = send(run, tmp_workspace, port)
    assert result.exit_code == 0, result.output
    assert server.recipients().count("priya.raman@example.com") == 1
    assert status(run, tmp_workspace)["deferred"] == []


def test_a_refusal_that_outlasts_the_retries_is_deferred_to_the_next_run(
    tmp_workspace, smtp_server, run
):
    server, port = smtp_server
    server.refuse["priya.raman@example.com"] = [451, 451, 451]
    result = send(run, tmp_workspace, port, "--retries", "1")
    assert result.exit_code == 3, result.output
    assert "deferred (tried again next run): pr***@example.com: 451" in result.output
    assert status(run, tmp_workspace)["deferred"][0]["email"] == "priya.raman@example.com"
    assert send(run, tmp_workspace, port, "--retries", "1").exit_code == 0
    assert server.recipients().count("priya.raman@example.com") == 1
    assert status(run, tmp_workspace)["deferred"] == []


def spawn_send(root: Path, port: int, *args: str) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "chairside",
        "-C",
        str(root),
        "send",
        "2026-12",
        "--smtp-port",
        str(port),
        *FAST,
        *args,
    ]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(condition, timeout: float = 60.0) -> None:
    """Until `condition()` holds: what it waits for is arranged (a server holding its
    reply), so the deadline only stops a test that would hang."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def wait_for_line(stream, text: str, timeout: float = 60.0) -> None:
    """Read a subprocess's output until a line holds `text` (the rest stays unread)."""
    import selectors

    deadline, seen = time.monotonic() + timeout, b""
    with selectors.DefaultSelector() as selector:
        selector.register(stream.fileno(), selectors.EVENT_READ)
        while text.encode() not in seen:
            assert selector.select(max(0.0, deadline - time.monotonic())), ("timed out", seen)
            chunk = os.read(stream.fileno(), 4096)
            assert chunk, ("the process ended", seen)
            seen += chunk


def kill_mid_send(
    root: Path, server, port: int, answered: int, *args: str, in_flight: int = 1
) -> None:
    """`chairside send` killed (SIGKILL, as a crash or a power cut) once `answered` messages
    were answered and the next `in_flight` are at the server, their replies held: it cannot
    end first."""
    server.hold_after(answered)
    process = spawn_send(root, port, *args)
    wait_for(lambda: server.held >= in_flight)
    process.send_signal(signal.SIGKILL)
    process.wait()
    wait_for(lambda: server.open_connections() == 0)  # all it sent has been taken
    server.release()


def test_a_killed_send_resumes_without_duplicates_or_losses(tmp_workspace, smtp_server, run):
    server, port = smtp_server
    everyone = set(sendable(run, tmp_workspace))
    kill_mid_send(tmp_workspace, server, port, 10)
    before = Counter(server.recipients())
    assert 10 < len(before) <= 10 + CONNECTIONS < len(everyone)

    rerun = send(run, tmp_workspace, port)
    delivered = Counter(server.recipients())
    assert max(delivered.values()) == 1  # nobody twice
    report = status(run, tmp_workspace)
    unknown = set(report["unknown"])
    assert set(delivered) | unknown == everyone  # nobody lost: delivered or reported unknown
    assert report["pending"] == 0 and len(unknown) <= CONNECTIONS  # one in flight on each
    assert rerun.exit_code == (3 if unknown else 0), rerun.output
    if unknown:
        assert "--resend-unknown" in rerun.output
        assert send(run, tmp_workspace, port, "--resend-unknown").exit_code == 0
        assert set(server.recipients()) == everyone
        assert status(run, tmp_workspace)["unknown"] == []


def test_a_kill_while_the_server_answers_leaves_an_unknown_never_resent(
    tmp_workspace, smtp_server, run
):
    server, port = smtp_server
    server.hold_after(0)  # every message taken, none answered
    process = spawn_send(tmp_workspace, port)
    wait_for(lambda: server.held == CONNECTIONS)  # each connection has handed one over
    process.send_signal(signal.SIGKILL)
    process.wait()
    server.release()
    taken = server.recipients()
    assert len(taken) == CONNECTIONS
    rerun = send(run, tmp_workspace, port)
    assert f"unknown: {len(taken)} messages may or may not have arrived" in rerun.output
    assert rerun.exit_code == 3
    assert Counter(server.recipients()) == Counter(set(server.recipients()))  # none again
    assert sorted(status(run, tmp_workspace)["unknown"]) == sorted(taken)
    assert len(server.received) == len(sendable(run, tmp_workspace))


def test_ctrl_c_finishes_the_current_message_and_stops(tmp_workspace, smtp_server, run):
    server, port = smtp_server
    server.hold_after(5)
    process = spawn_send(tmp_workspace, port)
    wait_for(lambda: server.held >= 1)
    process.send_signal(signal.SIGINT)
    wait_for_line(process.stderr, "Stopping after the current message")
    server.release()  # only now can the messages in hand be finished
    _out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    report = status(run, tmp_workspace)
    assert report["unknown"] == []  # the message in hand was finished, not abandoned
    assert report["sent"] == len(server.received)
    assert send(run, tmp_workspace, port).exit_code == 0
    assert max(Counter(server.recipients()).values()) == 1


def test_a_second_send_of_the_same_campaign_refuses_to_start(tmp_workspace, smtp_server, run):
    server, port = smtp_server
    server.hold_after(2)  # the first send cannot end before the test has looked
    process = spawn_send(tmp_workspace, port)
    try:
        wait_for(lambda: server.held >= 1)
        second = send(run, tmp_workspace, port)
        assert_user_error(second, "already being delivered by `chairside send`")
        assert status(run, tmp_workspace)["running"] is True
    finally:
        server.release()
        process.wait(timeout=60)
    assert process.returncode == 0
    assert max(Counter(server.recipients()).values()) == 1
    assert len(server.received) == len(sendable(run, tmp_workspace))


def test_test_sends_each_variant_and_records_nothing(tmp_workspace, smtp_server, run):
    server, port = smtp_server
    result = send(run, tmp_workspace, port, "--test", "office@example.com")
    assert result.exit_code == 0, result.output
    subjects = sorted(
        email.message_from_bytes(d, policy=policy.default)["Subject"] for _, d in server.received
    )
    assert [s.split("]")[0] for s in subjects] == [
        "[TEST general",
        "[TEST neck_shoulder",
        "[TEST tmj",
    ]
    assert server.recipients() == ["office@example.com"] * 3
    assert status(run, tmp_workspace)["sent"] == 0
    one = send(run, tmp_workspace, port, "--test", "office@example.com", "--segment", "tmj")
    assert one.exit_code == 0 and len(server.received) == 4


def test_dry_run_sends_nothing(tmp_workspace, smtp_server, run):
    server, port = smtp_server
    result = send(run, tmp_workspace, port, "--dry-run")
    assert result.exit_code == 0
    assert "would send 31 messages" in result.output
    assert server.received == [] and status(run, tmp_workspace)["pending"] == 31


def test_consent_and_suppressions_are_checked_at_send_time(tmp_workspace, smtp_server, run):
    server, port = smtp_server
    assert run("unsubscribe", "maria.lopez@example.com", cwd=tmp_workspace).exit_code == 0
    send(run, tmp_workspace, port)
    received = set(server.recipients())
    assert "maria.lopez@example.com" not in received
    assert "kevin.tran@example.com" not in received  # suppressed in the demo
    with (tmp_workspace / "audiences/patients.csv").open(encoding="utf-8") as handle:
        declined = {r["Email"].lower() for r in csv.DictReader(handle) if r["Email Opt In"] != "Y"}
    assert declined and not declined & received


def test_server_errors_stop_cleanly(tmp_workspace, run):
    from tests.conftest import free_port

    result = run("send", "2026-12", "--smtp-port", str(free_port()), cwd=tmp_workspace)
    assert_user_error(result, "Cannot connect to the mail server 127.0.0.1:")
    assert status(run, tmp_workspace)["sent"] == 0


def test_a_login_without_a_password_is_refused_before_connecting(tmp_workspace, smtp_server, run):
    _server, port = smtp_server
    os.environ.pop("CHAIRSIDE_SMTP_PASSWORD", None)
    result = send(run, tmp_workspace, port, "--smtp-user", "office")
    assert_user_error(result, "CHAIRSIDE_SMTP_PASSWORD")


@pytest.fixture
def auth_server():
    with smtp_with_login("office", "right") as server:
        yield server


def test_authentication(tmp_workspace, auth_server, run, monkeypatch):
    server, port = auth_server
    monkeypatch.setenv("CHAIRSIDE_SMTP_PASSWORD", "wrong")
    result = send(run, tmp_workspace, port, "--smtp-user", "office")
    assert_user_error(result, "refused the login for 'office'", "535")
    assert server.received == []
    monkeypatch.setenv("CHAIRSIDE_SMTP_PASSWORD", "right")
    assert send(run, tmp_workspace, port, "--smtp-user", "office").exit_code == 0
    assert len(server.received) == 31
