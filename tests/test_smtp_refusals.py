"""SMTP refusals judged by stage and enhanced code, against a scripted aiosmtpd on 127.0.0.1.

Only a mailbox's own permanent refusal fails and suppresses a patient; a server that refuses
everyone (login, relay, policy, content, size) stops the run, suppresses nobody and leaves
everyone pending; nothing transmitted is ever "unknown".
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest

from chairside.sending import CONNECTIONS
from tests.support import ScriptedSmtp, assert_user_error, write_patients

FAST = ("--retry-delay", "0.01")


def start_server(port: int = 0, *, smtputf8: bool = False):
    from aiosmtpd.controller import Controller

    from tests.conftest import free_port

    handler = ScriptedSmtp()
    controller = Controller(
        handler, hostname="127.0.0.1", port=port or free_port(), enable_SMTPUTF8=smtputf8
    )
    handler.on_vanish = controller.stop
    controller.start()
    return handler, controller


@pytest.fixture
def scripted():
    handler, controller = start_server()
    yield handler, controller.port
    if controller._thread is not None:
        controller.stop()


def send(run, root: Path, port: int, *args: str):
    return run("send", "2026-12", "--smtp-port", str(port), *FAST, *args, cwd=root)


def status(run, root: Path, *args: str) -> dict:
    result = run("status", "2026-12", "--json", *args, cwd=root)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def suppressed(root: Path) -> list[dict[str, str]]:
    with (root / "audiences/suppressed.csv").open(encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def test_a_relay_refusing_300_patients_suppresses_nobody(tmp_workspace, scripted, run):
    server, port = scripted
    emails = [f"patient{n:04d}@example.com" for n in range(300)]
    write_patients(tmp_workspace / "audiences/patients.csv", emails)
    before = (tmp_workspace / "audiences/suppressed.csv").read_bytes()
    server.at["RCPT"] = "550 5.7.1 <{rcpt}>: Relay access denied"

    result = send(run, tmp_workspace, port)
    assert_user_error(result, "refused pa***@example.com at RCPT", "pass mail on", "pending")
    assert "patient0000@example.com" not in result.output  # the reply is masked too
    assert (tmp_workspace / "audiences/suppressed.csv").read_bytes() == before
    report = status(run, tmp_workspace)
    assert (report["failed"], report["unknown"], report["pending"]) == ([], [], 300)

    server.at.clear()  # the office fixed the login: everyone goes out, once
    assert send(run, tmp_workspace, port).exit_code == 0
    assert Counter(server.recipients()) == Counter(emails)


@pytest.mark.parametrize(
    ("stage", "reply", "advice"),
    [
        ("MAIL", "530 5.7.0 Authentication required", "It wants a login"),
        ("MAIL", "535 5.7.8 Authentication credentials invalid", "It wants a login"),
        ("MAIL", "553 5.7.1 Sender address rejected: not owned by user", "refused the sender"),
        ("RCPT", "554 5.7.1 <{rcpt}>: Relay access denied", "pass mail on"),
        ("RCPT", "550 5.7.1 Client host blocked using zen.spamhaus.org", "pass mail on"),
        ("RCPT", "550 relay not permitted", "pass mail on"),
        ("DATA", "554 5.6.0 Message content rejected", "rejected the message itself"),
        ("DATA", "554 Transaction failed: spam", "rejected the message itself"),
        ("DATA", "552 5.3.4 Message size exceeds fixed limit", "larger than this server"),
        ("DATA", "552 Message too big", "larger than this server"),
    ],
)
def test_a_server_refusal_stops_the_run_and_leaves_everyone_pending(
    tmp_workspace, scripted, run, stage, reply, advice
):
    server, port = scripted
    before = (tmp_workspace / "audiences/suppressed.csv").read_bytes()
    server.at[stage] = reply
    result = send(run, tmp_workspace, port)
    assert_user_error(result, reply.split()[0], advice, "Nobody was suppressed")
    assert (tmp_workspace / "audiences/suppressed.csv").read_bytes() == before
    report = status(run, tmp_workspace)
    assert report["failed"] == [] and report["unknown"] == [] and report["deferred"] == []
    assert report["sent"] == 0 and report["pending"] == 31


@pytest.mark.parametrize(
    "reply",
    [
        "550 Requested action not taken: mailbox unavailable",
        # An inbound server taken for a relay: every outside address is "unknown" to it.
        "550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown in local recipient table",
    ],
)
def test_the_same_refusal_in_a_row_trips_the_breaker(tmp_workspace, scripted, run, reply):
    server, port = scripted
    before = (tmp_workspace / "audiences/suppressed.csv").read_bytes()
    server.at["RCPT"] = reply
    result = send(run, tmp_workspace, port)
    assert_user_error(result, "5 patients in a row were refused with the same reply")
    assert (tmp_workspace / "audiences/suppressed.csv").read_bytes() == before
    report = status(run, tmp_workspace)
    assert report["failed"] == [] and report["pending"] == 31


def test_a_server_that_turns_on_everyone_mid_run_trips_the_breaker(tmp_workspace, scripted, run):
    """It delivered two, then says "unknown user" to all, each reply with its own id."""
    server, port = scripted
    emails = [f"p{n}@example.com" for n in range(12)]
    write_patients(tmp_workspace / "audiences/patients.csv", emails)
    before = (tmp_workspace / "audiences/suppressed.csv").read_bytes()
    for n, address in enumerate(emails[2:]):
        server.reply_for[address] = f"550 5.1.1 <{address}>: user unknown [ref {9000 + n}]"
    result = send(run, tmp_workspace, port)
    assert_user_error(result, "5 patients in a row were refused with the same reply")
    assert (tmp_workspace / "audiences/suppressed.csv").read_bytes() == before
    assert status(run, tmp_workspace)["pending"] == 10


def test_a_refusal_is_not_trusted_before_the_server_delivered_anything(
    tmp_workspace, scripted, run
):
    """Three patients refused with a plain 550 and nobody else on the list: the server
    never proved it delivers, so nobody is suppressed; they are deferred for next run."""
    server, port = scripted
    emails = ["a@example.com", "b@example.com", "c@example.com"]
    write_patients(tmp_workspace / "audiences/patients.csv", emails)
    before = (tmp_workspace / "audiences/suppressed.csv").read_bytes()
    server.at["RCPT"] = "550 mailbox unavailable"
    result = send(run, tmp_workspace, port)
    assert result.exit_code == 3, result.output
    assert "not trusted yet" in result.output
    assert (tmp_workspace / "audiences/suppressed.csv").read_bytes() == before
    assert len(status(run, tmp_workspace)["deferred"]) == 3


def test_only_a_mailboxs_own_refusal_fails_and_suppresses(tmp_workspace, scripted, run):
    server, port = scripted
    server.reply_for["maria.lopez@example.com"] = "550 5.1.1 <{rcpt}>: User unknown"
    server.reply_for["priya.raman@example.com"] = "550 5.2.1 Mailbox disabled"
    server.reply_for["james.whitfield@example.com"] = "550 No such user here"
    server.reply_for["jose.hernandez@example.com"] = "552 5.2.2 Mailbox full"
    server.reply_for["daniel.kowalski@example.com"] = "556 5.1.10 Recipient domain has null MX"
    result = send(run, tmp_workspace, port)
    assert result.exit_code == 3, result.output
    assert "failed 4, deferred 1, unknown 0, pending 0" in result.output
    assert "ma***@example.com: 550 5.1.1 <ma***@example.com>: User unknown" in result.output
    assert "maria.lopez@example.com" not in result.output
    bounced = {row["email"] for row in suppressed(tmp_workspace) if "bounced" in row["reason"]}
    assert bounced == {
        "maria.lopez@example.com",
        "priya.raman@example.com",
        "james.whitfield@example.com",
        "daniel.kowalski@example.com",
    }
    report = status(run, tmp_workspace)
    assert [d["email"] for d in report["deferred"]] == ["jo***@example.com"]
    assert all("maria.lopez" not in f["reason"] for f in report["failed"])  # masked reply
    shown = status(run, tmp_workspace, "--show")
    assert any("<maria.lopez@example.com>" in f["reason"] for f in shown["failed"])
    assert len(server.received) == 31 - 5


def test_a_mailbox_refused_after_its_message_is_failed(tmp_workspace, scripted, run):
    server, port = scripted
    server.after_data_for["maria.lopez@example.com"] = "550 5.1.1 User unknown"
    result = send(run, tmp_workspace, port)
    assert result.exit_code == 3, result.output
    assert "failed (suppressed from now on): ma***@example.com: 550 5.1.1" in result.output


def test_retry_failed_resends_failed_patients(tmp_workspace, scripted, run):
    server, port = scripted
    server.reply_for["maria.lopez@example.com"] = "550 5.1.1 User unknown"
    assert send(run, tmp_workspace, port).exit_code == 3
    server.reply_for.clear()
    undo = run("unsubscribe", "--undo", "maria.lopez@example.com", cwd=tmp_workspace)
    assert undo.exit_code == 0, undo.output  # the suppression was wrong: taken back
    again = send(run, tmp_workspace, port)
    assert "maria.lopez@example.com" not in server.recipients()  # failed stays failed...
    assert again.exit_code == 3
    retried = send(run, tmp_workspace, port, "--retry-failed")  # ...until asked
    assert retried.exit_code == 0, retried.output
    assert server.recipients().count("maria.lopez@example.com") == 1
    assert max(Counter(server.recipients()).values()) == 1


def test_a_server_that_vanishes_leaves_the_rest_pending_not_unknown(tmp_workspace, run):
    server, controller = start_server()
    port = controller.port
    server.vanish_after = 10
    # One connection: with more, a message the server was taking as it vanished is
    # (rightly) unknown; tests/test_smtp_fast.py covers that.
    result = send(run, tmp_workspace, port, "--retries", "1", "--connections", "1")
    assert_user_error(result, "Cannot connect to the mail server", "pending")
    report = status(run, tmp_workspace)
    assert report["sent"] == 10 and report["unknown"] == [] and report["pending"] == 21
    assert "--resend-unknown" not in result.output

    again, controller = start_server(port)  # the server is back
    try:
        rerun = send(run, tmp_workspace, port)
        assert rerun.exit_code == 0, rerun.output
    finally:
        controller.stop()
    delivered = Counter(server.recipients() + again.recipients())
    assert len(delivered) == 31 and max(delivered.values()) == 1


def test_unknown_only_when_the_message_went_and_no_reply_came(tmp_workspace, scripted, run):
    server, port = scripted
    server.hang_up_after_data_for.add("maria.lopez@example.com")
    result = send(run, tmp_workspace, port)
    assert result.exit_code == 3, result.output
    assert "failed 0, deferred 0, unknown 1, pending 0" in result.output
    assert status(run, tmp_workspace, "--show")["unknown"] == ["maria.lopez@example.com"]
    assert send(run, tmp_workspace, port).exit_code == 3  # in doubt: not resent unasked
    assert Counter(server.recipients()) == Counter(set(server.recipients()))
    assert len(server.received) == 31


def test_a_421_closes_the_connection_and_the_patient_is_sent_on_a_new_one(
    tmp_workspace, scripted, run
):
    server, port = scripted
    server.refuse["maria.lopez@example.com"] = [421]
    result = send(run, tmp_workspace, port)
    assert result.exit_code == 0, result.output
    assert server.recipients().count("maria.lopez@example.com") == 1
    assert len(server.received) == 31


def test_non_ascii_addresses_without_smtputf8(tmp_workspace, scripted, run):
    server, port = scripted
    write_patients(
        tmp_workspace / "audiences/patients.csv",
        ["ana@bücher.example", "łukasz@example.com", "plain@example.com"],
    )
    before = (tmp_workspace / "audiences/suppressed.csv").read_bytes()
    result = send(run, tmp_workspace, port)
    assert result.exit_code == 3, result.output
    assert sorted(server.recipients()) == ["ana@xn--bcher-kva.example", "plain@example.com"]
    assert "no SMTPUTF8" in result.output and "failed 0, deferred 1" in result.output
    assert "łukasz@" not in result.output  # masked inside the reason too
    assert (tmp_workspace / "audiences/suppressed.csv").read_bytes() == before
    ana = next(d for r, d in server.received if r.startswith("ana@"))
    assert b"To: Pat <ana@xn--bcher-kva.example>" in ana


def test_non_ascii_mailboxes_use_smtputf8_when_offered(tmp_workspace, run):
    server, controller = start_server(smtputf8=True)
    try:
        write_patients(tmp_workspace / "audiences/patients.csv", ["łukasz@example.com"])
        result = send(run, tmp_workspace, controller.port)
        assert result.exit_code == 0, result.output
        assert server.recipients() == ["łukasz@example.com"]
        assert "SMTPUTF8" in server.mail_options[0]
    finally:
        controller.stop()


@pytest.mark.parametrize(
    ("stage", "reply"),
    [
        ("RCPT", "451 4.7.1 <{rcpt}>: Try again later"),
        ("MAIL", "421 4.7.0 Too many messages, rate limited, closing connection"),
        ("DATA", "452 4.3.1 Insufficient system storage"),
    ],
)
def test_a_server_refusing_everyone_for_now_stops_the_run_quickly(
    tmp_workspace, scripted, run, stage, reply
):
    """A 4xx storm: each patient retried with backoff one by one would take hours on a big
    list; the same temporary reply to several patients in a row stops the run, everyone
    not sent stays pending, and a later run sends everyone once."""
    server, port = scripted
    emails = [f"patient{n:03d}@example.com" for n in range(40)]
    write_patients(tmp_workspace / "audiences/patients.csv", emails)
    before = (tmp_workspace / "audiences/suppressed.csv").read_bytes()
    server.at[stage] = reply
    # Without the storm breaker every one of the 40 was tried and retried with backoff
    # (~150 s here) and ended deferred; with it, the run stops after a few refusals and
    # the patients never tried stay pending. Counted, not timed.
    result = run(
        "send", "2026-12", "--smtp-port", str(port), "--retry-delay", "1", cwd=tmp_workspace
    )
    assert_user_error(
        result, "refusing mail for now", reply.split()[0], "Nobody failed", "again later"
    )
    assert "patient000@example.com" not in result.output
    assert (tmp_workspace / "audiences/suppressed.csv").read_bytes() == before
    report = status(run, tmp_workspace)
    assert (report["sent"], report["failed"], report["unknown"]) == (0, [], [])
    assert report["pending"] + len(report["deferred"]) == 40
    assert report["pending"] >= 40 - 2 * CONNECTIONS, report  # most were never tried

    server.at.clear()  # the server has recovered: everyone goes out, once
    again = send(run, tmp_workspace, port)
    assert again.exit_code == 0, again.output
    assert Counter(server.recipients()) == Counter(emails)


def test_one_patients_own_temporary_refusal_is_retried_and_deferred(tmp_workspace, scripted, run):
    """`450 4.2.1` for one mailbox, every time: retried to the end (the others' successes
    between, or not), then deferred; the run is not stopped for it."""
    server, port = scripted
    server.reply_for["maria.lopez@example.com"] = "450 4.2.1 <{rcpt}>: Mailbox busy"
    result = send(run, tmp_workspace, port, "--retries", "6")
    assert result.exit_code == 3, result.output
    assert "refusing mail for now" not in result.output
    assert "failed 0, deferred 1, unknown 0, pending 0" in result.output
    assert len(server.received) == 30
