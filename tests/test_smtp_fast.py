"""SMTP with PIPELINING and several connections (issue 14), against aiosmtpd on 127.0.0.1
offering PIPELINING: the round trips are hidden, and exactly-once still holds — killed
mid-run and rerun, nobody twice, nobody lost; refusals judged by stage as before."""

from __future__ import annotations

import signal
import smtplib
import socket
from collections import Counter

import pytest

from chairside.providers.smtp import (
    NOT_STARTED,
    NotDelivered,
    SmtpConnection,
    SmtpSettings,
    stuffed,
)
from tests.support import PipeliningRecorder, PipeliningScripted, assert_user_error
from tests.test_send import (
    kill_mid_send,
    send,
    sendable,
    spawn_send,
    status,
    wait_for,
    wait_for_line,
)


def start(handler):
    from aiosmtpd.controller import Controller

    from tests.conftest import free_port

    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    handler.open_connections = lambda: controller.server._active_count  # see conftest.py
    return controller


@pytest.fixture
def piped():
    handler = PipeliningRecorder()
    controller = start(handler)
    yield handler, controller.port
    controller.stop()


@pytest.fixture
def scripted():
    handler = PipeliningScripted()
    controller = start(handler)
    handler.on_vanish = controller.stop
    yield handler, controller.port
    if controller._thread is not None:
        controller.stop()


class Wiretap:
    """What the client wrote on each connection, to see that commands left together."""

    def __init__(self, monkeypatch) -> None:
        self.writes: list[bytes] = []
        tap = self
        for name in ("sendall", "send"):
            real = getattr(socket.socket, name)

            def write(sock, data, *args, real=real):
                tap.writes.append(bytes(data))
                return real(sock, data, *args)

            monkeypatch.setattr(socket.socket, name, write)


def test_pipelining_sends_the_next_envelope_with_the_end_of_a_message(piped, monkeypatch):
    server, port = piped
    tap = Wiretap(monkeypatch)
    connection = SmtpConnection(SmtpSettings("127.0.0.1", port, "none"))
    connection.open()
    assert connection.pipelining
    first = connection.exchange(None, connection.envelope("office@example.com", "a@example.com"))
    assert first.envelope is None  # 354: its data awaited
    second = connection.exchange(
        b"Subject: a\r\n\r\n.leading dot\r\nbody\r\n",
        connection.envelope("office@example.com", "b@example.com"),
    )
    assert second.result.startswith("250") and second.envelope is None
    # The end of a's message and b's envelope left in one write (one system call).
    envelope_b = b"MAIL FROM:<office@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n"
    assert [w for w in tap.writes if w.endswith(b"body\r\n.\r\n" + envelope_b)]
    last = connection.exchange(b"Subject: b\r\n\r\nbody\r\n", None)
    assert last.result.startswith("250") and last.envelope is NOT_STARTED
    connection.close()
    together = [w for w in tap.writes if w.startswith(b"MAIL FROM:")]
    assert together[0] == b"MAIL FROM:<office@example.com>\r\nRCPT TO:<a@example.com>\r\nDATA\r\n"
    assert server.recipients() == ["a@example.com", "b@example.com"]
    assert b"\r\n.leading dot\r\n" in server.received[0][1]  # dot-stuffed, then unstuffed


@pytest.mark.parametrize("unsent", [20, 60])
def test_a_write_cut_short_is_not_delivered_only_if_the_final_dot_stayed(
    piped, monkeypatch, unsent
):
    """The end of a message and the next envelope leave in one write; when the write fails
    part-way, the message was delivered or not by whether its final "." left (60 bytes of
    that write unsent: the dot stayed; 20: only part of the next envelope stayed)."""
    server, port = piped
    connection = SmtpConnection(SmtpSettings("127.0.0.1", port, "none"))
    connection.open()
    connection.exchange(None, connection.envelope("office@example.com", "a@example.com"))
    real = socket.socket.send

    def cut_short(sock, data, *args):
        if len(data) > unsent:
            return real(sock, memoryview(data)[: len(data) - unsent], *args)
        raise ConnectionResetError("reset by peer")

    monkeypatch.setattr(socket.socket, "send", cut_short)
    outcome = connection.exchange(
        b"Subject: a\r\n\r\nbody\r\n", connection.envelope("office@example.com", "b@x.com")
    )
    monkeypatch.undo()
    connection.close()
    if unsent > 57:  # the 57-byte envelope and the end of the message stayed
        assert isinstance(outcome.result, NotDelivered)
        assert server.recipients() == []
    else:
        assert outcome.result.startswith("250") and outcome.envelope is NOT_STARTED
        assert server.recipients() == ["a@example.com"]


def test_stuffing_doubles_leading_dots_and_fixes_line_ends():
    assert stuffed(b".a\r\n..b\r\nc.\r\n") == b"..a\r\n...b\r\nc.\r\n"
    assert stuffed(b"a\n.b\r\nc\n") == b"a\r\n..b\r\nc\r\n"  # no bare LF reaches the server
    assert stuffed(b"a\r.\r\n") == b"a\r\n..\r\n"  # nor a bare CR
    assert stuffed(b"x\r\n") == b"x\r\n"


def test_without_pipelining_offered_commands_go_one_at_a_time(smtp_server, monkeypatch):
    _server, port = smtp_server  # plain aiosmtpd: no PIPELINING in its EHLO
    tap = Wiretap(monkeypatch)
    connection = SmtpConnection(SmtpSettings("127.0.0.1", port, "none"))
    connection.open()
    assert not connection.pipelining
    connection.send("office@example.com", "a@example.com", b"Subject: a\r\n\r\nbody\r\n")
    connection.close()
    assert b"MAIL FROM:<office@example.com>\r\n" in tap.writes
    assert not any(w.startswith(b"MAIL") and b"RCPT" in w for w in tap.writes)


def test_four_connections_and_pipelining_send_each_patient_once(tmp_workspace, piped, run):
    server, port = piped
    result = send(run, tmp_workspace, port, "--connections", "4")
    assert result.exit_code == 0, result.output
    assert Counter(server.recipients()) == Counter(set(sendable(run, tmp_workspace)))
    assert send(run, tmp_workspace, port).exit_code == 0
    assert len(server.received) == 31


def test_a_killed_pipelined_send_on_four_connections_loses_nobody_and_repeats_nobody(
    tmp_workspace, piped, run
):
    server, port = piped
    everyone = set(sendable(run, tmp_workspace))
    kill_mid_send(tmp_workspace, server, port, 12, "--connections", "4", in_flight=4)
    assert len(server.received) == 12 + 4 < len(everyone)
    rerun = send(run, tmp_workspace, port, "--connections", "4")
    delivered = Counter(server.recipients())
    assert max(delivered.values()) == 1, "someone got the campaign twice"
    report = status(run, tmp_workspace)
    unknown = set(report["unknown"])
    assert set(delivered) | unknown == everyone, "someone was lost"
    assert report["pending"] == 0 and len(unknown) <= 4  # one in flight per connection
    assert unknown <= set(delivered)  # unknown only when the message had gone
    assert rerun.exit_code == (3 if unknown else 0), rerun.output


def test_a_refused_recipient_with_pipelining_is_reset_and_the_rest_go(tmp_workspace, scripted, run):
    """RCPT refused: the pipelined DATA gets 503, the client sends RSET, the connection goes on."""
    server, port = scripted
    server.reply_for["maria.lopez@example.com"] = "550 5.1.1 <{rcpt}>: User unknown"
    server.refuse["priya.raman@example.com"] = [451]
    result = send(run, tmp_workspace, port, "--connections", "2")
    assert result.exit_code == 3, result.output
    assert "failed 1, deferred 0, unknown 0, pending 0" in result.output
    assert "maria.lopez@example.com" not in server.recipients()
    assert server.recipients().count("priya.raman@example.com") == 1  # 451, then delivered
    assert len(server.received) == 30


@pytest.mark.parametrize("stage", ["MAIL", "RCPT", "DATA"])
def test_a_server_refusal_on_any_connection_stops_them_all(tmp_workspace, scripted, run, stage):
    server, port = scripted
    server.at[stage] = {
        "MAIL": "530 5.7.0 Authentication required",
        "RCPT": "554 5.7.1 <{rcpt}>: Relay access denied",
        "DATA": "554 5.6.0 Message content rejected",
    }[stage]
    result = send(run, tmp_workspace, port, "--connections", "4")
    assert_user_error(result, "Nobody was suppressed")
    report = status(run, tmp_workspace)
    assert report["sent"] == 0 and report["unknown"] == [] and report["pending"] == 31


def test_the_breaker_counts_across_connections(tmp_workspace, scripted, run):
    server, port = scripted
    server.at["RCPT"] = "550 Requested action not taken: mailbox unavailable"
    result = send(run, tmp_workspace, port, "--connections", "4")
    assert_user_error(result, "5 patients in a row were refused with the same reply")
    assert status(run, tmp_workspace)["pending"] == 31


def test_a_4xx_storm_mid_run_stops_with_the_delivered_kept(tmp_workspace, scripted, run):
    """Pipelined, on 4 connections: 12 delivered, then `451` to everyone (a rate limit
    reached). The run stops; the 12 stay sent, nobody failed; the rerun sends the rest once."""
    from tests.support import write_patients

    server, port = scripted
    emails = [f"p{n:02d}@example.com" for n in range(60)]
    write_patients(tmp_workspace / "audiences/patients.csv", emails)
    for address in emails[12:]:
        server.reply_for[address] = "451 4.7.1 Rate limit reached, try again later"
    result = send(run, tmp_workspace, port, "--connections", "4")
    assert_user_error(result, "refusing mail for now", "451 4.7.1", "Nobody failed")
    report = status(run, tmp_workspace)
    assert (report["sent"], report["failed"], report["unknown"]) == (12, [], [])
    assert report["pending"] + len(report["deferred"]) == 48
    assert report["pending"] > 30  # stopped early, not after trying each in turn

    server.reply_for.clear()
    again = send(run, tmp_workspace, port)
    assert again.exit_code == 0, again.output
    assert Counter(server.recipients()) == Counter(emails)


def test_a_server_that_vanishes_mid_run_leaves_no_duplicate(tmp_workspace, run):
    server = PipeliningScripted()
    controller = start(server)
    server.on_vanish = controller.stop
    server.vanish_after = 10
    result = send(run, tmp_workspace, controller.port, "--retries", "1")
    assert_user_error(result, "Cannot connect to the mail server", "pending")
    report = status(run, tmp_workspace)
    assert report["sent"] >= 10 and len(report["unknown"]) <= 3  # in flight on the others
    settled = report["sent"] + len(report["unknown"]) + len(report["deferred"])
    assert settled + report["pending"] == 31  # a retry cut off by the vanish: deferred


def test_rate_is_shared_by_all_connections(tmp_workspace, piped, run):
    """--rate 600 (10 a second) on 4 connections: 5 messages take at least 0.4 s."""
    import time

    from tests.support import write_patients

    server, port = piped
    write_patients(
        tmp_workspace / "audiences/patients.csv", [f"p{n}@example.com" for n in range(5)]
    )
    started = time.monotonic()
    result = send(run, tmp_workspace, port, "--connections", "4", "--rate", "600")
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started >= 0.4
    assert len(server.received) == 5


def test_smtplib_still_talks_to_the_test_server(piped):
    """The fixture is a real SMTP server that offers PIPELINING."""
    _server, port = piped
    with smtplib.SMTP("127.0.0.1", port) as client:
        client.ehlo()
        assert client.has_extn("pipelining")


def test_a_server_that_allows_two_connections_gets_two(tmp_workspace, run):
    """Relays limit connections per account: the extra ones are refused at the greeting
    (421) and the run goes on over the ones it got, each patient once."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import SMTP

    from tests.conftest import free_port

    class Limited(SMTP):
        open = 0
        refused = 0

        async def _handle_client(self):
            if Limited.open >= 2:
                Limited.refused += 1
                await self.push("421 4.7.0 Too many concurrent connections")
                self.transport.close()
                return
            Limited.open += 1
            try:
                await super()._handle_client()
            finally:
                Limited.open -= 1

    class LimitedController(Controller):
        def factory(self):
            return Limited(self.handler, **self.SMTP_kwargs)

    handler = PipeliningRecorder()
    controller = LimitedController(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        result = send(run, tmp_workspace, controller.port, "--connections", "4")
    finally:
        controller.stop()
    assert result.exit_code == 0, result.output
    assert Limited.refused >= 1
    assert Counter(handler.recipients()) == Counter(set(sendable(run, tmp_workspace)))


def _crash(*args):
    raise SystemExit("killed")


def test_a_crash_inside_a_group_commit_keeps_the_sent_and_frees_the_sending(tmp_path, monkeypatch):
    """One group holds one connection's outcome (sent) and another's next message
    (sending). Killed after the journal, before state.db: the next open applies the sent
    and releases the sending, whose "." never left (nothing is sent before the commit)."""
    import chairside.ledger as ledger_module
    from chairside.journal import SENDING, SENT, status_record
    from chairside.ledger import open_ledger

    def sending(key):
        return status_record(SENDING, rows=[[key, key, "v"]], via="smtp")

    with open_ledger(tmp_path / ".chairside") as ledger:
        ledger.commit_group("c", [sending("a@example.com"), sending("b@example.com")])
        monkeypatch.setattr(ledger_module, "apply", _crash)
        with pytest.raises(SystemExit):
            ledger.commit_group(
                "c",
                [
                    status_record(SENT, keys=["a@example.com"], reply="250 OK"),
                    sending("c@example.com"),
                ],
            )
        monkeypatch.undo()
        assert ledger.rows("c")[0].status == SENDING  # the commit never happened
    with open_ledger(tmp_path / ".chairside") as ledger:
        assert ledger.statuses("c") == {"a@example.com": SENT, "b@example.com": SENDING}
    with open_ledger(tmp_path / ".chairside") as ledger:  # and the journal agrees after the release
        assert ledger.statuses("c") == {"a@example.com": SENT, "b@example.com": SENDING}


def test_after_a_failed_group_commit_nothing_more_is_written(tmp_path, monkeypatch):
    """A journal line may be on disk that state.db lacks: another write in the same run
    would reuse its number, so every later commit raises the same error."""
    import errno
    import os

    from chairside.journal import SENDING, status_record
    from chairside.ledger import GroupCommit, LedgerError, open_ledger

    with open_ledger(tmp_path / ".chairside") as ledger:
        commits = GroupCommit(ledger, "c", gather=0)
        commits.commit([status_record(SENDING, rows=[["a", "a", "v"]], via="smtp")])

        def full(fd):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        monkeypatch.setattr(os, "fsync", full)
        with pytest.raises(LedgerError, match="is full"):
            commits.commit([status_record(SENDING, rows=[["b", "b", "v"]], via="smtp")])
        monkeypatch.undo()
        with pytest.raises(LedgerError, match="is full"):
            commits.commit([status_record(SENDING, rows=[["c", "c", "v"]], via="smtp")])
    with open_ledger(tmp_path / ".chairside") as ledger:
        assert ledger.statuses("c") == {"a": SENDING}  # "b" rolled forward, then released


def test_ctrl_c_on_four_pipelined_connections_finishes_each_message_in_hand(
    tmp_workspace, piped, run
):
    """A stop finishes the message on each connection and abandons the envelopes sent
    ahead of it (the connection is closed before their data: the server discards them)."""
    server, port = piped
    server.hold_after(8)
    process = spawn_send(tmp_workspace, port, "--connections", "4")
    wait_for(lambda: server.held == 4)  # a message in hand on each connection
    process.send_signal(signal.SIGINT)
    wait_for_line(process.stderr, "Stopping after the current message")
    server.release()
    _out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    report = status(run, tmp_workspace)
    assert report["unknown"] == [] and report["sent"] == len(server.received) < 31
    assert send(run, tmp_workspace, port).exit_code == 0
    assert Counter(server.recipients()) == Counter(set(sendable(run, tmp_workspace)))


def test_an_unreadable_reply_to_the_end_of_a_message_is_unknown_not_retried():
    """A reply that is not SMTP after the final "." may follow a delivery: retrying it
    could send the message twice, so it is Unknown."""
    import threading

    from chairside.providers.smtp import Unknown

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve():
        conn, _ = listener.accept()
        with conn, conn.makefile("rb") as lines:
            conn.sendall(b"220 hi\r\n")
            for line in lines:
                verb = line[:4].upper()
                if verb == b"EHLO":
                    conn.sendall(b"250 hi\r\n")
                elif verb == b"DATA":
                    conn.sendall(b"354 go\r\n")
                elif line == b".\r\n":
                    conn.sendall(b"garbage after the message\r\n")
                elif verb in (b"MAIL", b"RCPT"):
                    conn.sendall(b"250 ok\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    connection = SmtpConnection(SmtpSettings("127.0.0.1", listener.getsockname()[1], "none"))
    with pytest.raises(Unknown, match="unreadable reply"):
        connection.send("office@example.com", "a@example.com", b"Subject: a\r\n\r\nx\r\n")
    connection.close()
    listener.close()


def test_work_given_to_a_group_commit_is_done_while_waiting_and_never_holds_the_group():
    """`meanwhile` (a message's DKIM signature) is done by a thread that will wait for its
    group before it waits, and by the thread that leads the commit only after it."""
    import threading

    from chairside.ledger import GroupCommit

    class HeldLedger:  # commits only when the test lets it: the race is arranged
        def __init__(self) -> None:
            self.groups: list[list[dict]] = []
            self.started, self.go = threading.Event(), threading.Event()

        def commit_group(self, campaign: str, changes: list[dict]) -> None:
            self.started.set()
            assert self.go.wait(30)
            self.groups.append(changes)

    ledger = HeldLedger()
    commits = GroupCommit(ledger, "2026-12", members=2, gather=30.0)  # waits for both
    done: list[str] = []
    first = threading.Thread(target=commits.commit, args=([{"a": 1}], lambda: done.append("a")))
    first.start()
    wait_for(lambda: done == ["a"])  # the first will wait for the second: works first
    second = threading.Thread(target=commits.commit, args=([{"b": 2}], lambda: done.append("b")))
    second.start()
    assert ledger.started.wait(30)  # the second leads: the group is being committed …
    assert done == ["a"]  # … before the leader's own work
    ledger.go.set()
    first.join(30)
    second.join(30)
    assert done == ["a", "b"] and ledger.groups == [[{"a": 1}, {"b": 2}]]


def test_a_refused_sender_is_explained_with_the_settings_it_comes_from(
    tmp_workspace, scripted, run
):
    """A relay that will not send as the practice's return address (Microsoft 365 refuses
    an address it does not know, 5.7.60): the run stops, nobody fails, and the advice names
    the settings the sender is made from, as practice.toml spells them."""
    server, port = scripted
    server.at["MAIL"] = "550 5.7.60 SMTP; Client does not have permissions to send as this sender"
    result = send(run, tmp_workspace, port)
    assert_user_error(result, "from under [email]", "bounce_address", "Nobody was suppressed")
    assert "[sender]" not in result.output
    assert status(run, tmp_workspace)["pending"] == 31
