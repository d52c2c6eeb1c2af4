"""`chairside inbox` against a real IMAP server (Dovecot on 127.0.0.1) holding real-world
unsubscribe requests, bounces from several mail servers, complaints and ordinary mail."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chairside.audience.suppression import read_suppressed
from chairside.tokens import Tokens, load_key
from tests.imap_server import DOVECOT, PASSWORD, USER, Dovecot
from tests.support import DATA, assert_user_error, need

MAIL = DATA / "returnpath"


@pytest.fixture(autouse=True)
def _dovecot_installed() -> None:
    need("Debian's dovecot-imapd", shutil.which(DOVECOT) is not None)


SUPPRESSED = {  # who each test mail must take off the list
    "maria.lopez@example.com",  # Gmail's List-Unsubscribe mailto, from another address
    "james.whitfield@example.com",  # "Unsubscribe" from the patient's own address
    "jose.hernandez@example.com",  # token in an encoded subject, "%20" left in
    "priya.raman@example.com",  # "Please unsubscribe me" in a reply
    "emily.chen@example.com",  # Postfix DSN 5.1.1
    "connor.murphy@example.com",  # Exim, not a DSN
    "grace.nakamura@example.com",  # Office 365 5.1.10
    "rachel.goldberg@example.com",  # Gmail 5.1.1
    "luis.mendoza@example.com",  # qmail
    "nadia.petrova@example.com",  # Yahoo, not a DSN
    "ethan.park@example.com",  # ARF from Yahoo
    "olivia.nguyen@example.com",  # ARF with the recipient redacted: found by its token
    "kenji.watanabe@example.com",  # the mailto sent by a provider's machinery, marked automatic
    "ravi.patel@example.com",  # "STOP", subject "désabonnement"
}
LEFT = {  # mail that is not Chairside's: stays unread where it is
    "other-out-of-office.eml",
    "other-reply-question.eml",
    "other-unsubscribe-from-stranger.eml",
    "other-vendor-newsletter.eml",
    "other-reply-stop-by.eml",
    "other-reply-do-not-unsubscribe.eml",
}
# Delay notices (bounce-delayed-*, one a warning in prose that bounce heuristics read as
# failed) are handled like the rest: marked read, nobody suppressed or counted.


def _mailbox(workspace: Path) -> dict[str, bytes]:
    """The test mails, with each `{TOKEN:address}` made in this practice, CRLF line ends."""
    tokens = Tokens(load_key(workspace / ".chairside"))
    found = {}
    for path in sorted(MAIL.glob("*.eml")):
        text = re.sub(r"\{TOKEN:([^}]+)\}", lambda m: tokens(m.group(1)), path.read_text())
        found[path.name] = text.replace("\r\n", "\n").replace("\n", "\r\n").encode()
    return found


# What the test mails return or answer: the newsletter Chairside sent each patient, by the
# Message-ID the ledger recorded for it. Without it, a bounce proves nothing.
SENT = {
    "emily.chen@example.com": "6b1f0c2d9e8a4b7c8d5e3f1a2b4c6d8e",
    "connor.murphy@example.com": "0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f",
    "grace.nakamura@example.com": "1a2b3c4d5e6f70819a0b1c2d3e4f5a6b",
    "rachel.goldberg@example.com": "2b3c4d5e6f708192a3b4c5d6e7f8091a",
    "luis.mendoza@example.com": "5a6b7c8d9e0f1a2b3c4d5e6f708192a3",
    "nadia.petrova@example.com": "6b7c8d9e0f1a2b3c4d5e6f708192a3b4",
    "hannah.schmidt@example.com": "7c8d9e0f1a2b3c4d5e6f708192a3b4c5",
    "ethan.park@example.com": "3c4d5e6f708192a3b4c5d6e7f8091a2b",
    "olivia.nguyen@example.com": "4d5e6f708192a3b4c5d6e7f8091a2b3c",
    "priya.raman@example.com": "9f8e7d6c5b4a39281706f5e4d3c2b1a0",
}


def _sent(workspace: Path, sent: dict[str, str] = SENT, campaign: str = "2026-11") -> None:
    """The ledger of an SMTP send of `campaign` to each address, with its Message-ID."""
    from chairside.ledger import open_ledger

    with open_ledger(workspace / ".chairside") as ledger:
        for email, message_id in sent.items():
            ledger.mark_sending(campaign, email, email, f"{campaign}-a")
            ledger.finish(
                campaign,
                email,
                "sent",
                reply="250 OK",
                message_id=f"<{message_id}@harborlanedental.example.com>",
            )


def _configure(workspace: Path, server: Dovecot, monkeypatch, after: str = "mark-read") -> None:
    _sent(workspace)
    with (workspace / "practice.toml").open("a") as handle:
        handle.write(
            f'\n[imap]\nhost = "127.0.0.1"\nport = {server.port}\nuser = "{USER}"\n'
            f'tls = false\nafter = "{after}"\n'
        )
    monkeypatch.setenv("CHAIRSIDE_IMAP_PASSWORD", PASSWORD)


def _subjects(messages) -> set[str]:
    return {re.search(rb"Message-I[dD]: (\S+)", m).group(1).decode() for _f, m in messages}


def test_inbox_acts_on_each_kind_once_and_deletes_nothing(imap, tmp_workspace, run, monkeypatch):
    _configure(tmp_workspace, imap, monkeypatch)
    mails = _mailbox(tmp_workspace)
    imap.append("INBOX", list(mails.values()))
    before = read_suppressed(tmp_workspace / "audiences/suppressed.csv")

    first = run("inbox", cwd=tmp_workspace)
    assert first.exit_code == 0, first.output
    after = read_suppressed(tmp_workspace / "audiences/suppressed.csv")
    assert after - before == SUPPRESSED
    assert f"{len(mails)} new messages, 0 read before" in first.output
    assert "soft bounce (1 in a row)" in first.output  # mailbox full: counted, not suppressed
    assert "2 × a delay notice" in first.output and "held for review" not in first.output
    assert f"{len(LEFT)} other messages left as they were" in first.output
    assert "hannah" not in first.output and "emily.chen" not in first.output  # masked
    assert "em***@example.com" in first.output
    assert "an unsubscribe request about so***@example.net, not a patient" in first.output

    contents = imap.contents("INBOX")
    assert len(contents) == len(mails)  # nothing deleted
    for flags, data in contents:
        name = next(n for n, m in mails.items() if m == data.replace(b"\n", b"\r\n") or m == data)
        assert ("\\Seen" in flags) == (name not in LEFT), name

    second = run("inbox", cwd=tmp_workspace)
    assert second.exit_code == 0, second.output
    assert f"0 new messages, {len(mails)} read before" in second.output
    assert "0 added" in second.output
    lines = (tmp_workspace / "audiences/suppressed.csv").read_text().splitlines()
    assert len(lines) == len(set(lines)) == len(before) + len(SUPPRESSED) + 1  # + header
    assert len(imap.contents("INBOX")) == len(mails)


def test_inbox_moves_to_a_folder_and_a_new_message_is_read_next_time(
    imap, tmp_workspace, run, monkeypatch
):
    _configure(tmp_workspace, imap, monkeypatch, after="move:Chairside")
    mails = _mailbox(tmp_workspace)
    first_half = {k: v for k, v in mails.items() if k != "arf-yahoo.eml"}
    imap.append("INBOX", list(first_half.values()))
    assert run("inbox", cwd=tmp_workspace).exit_code == 0
    inbox, moved = imap.contents("INBOX"), imap.contents("Chairside")
    assert len(inbox) == len(LEFT)
    assert len(inbox) + len(moved) == len(first_half)
    assert all("\\Seen" not in flags for flags, _ in inbox)

    imap.append("INBOX", [mails["arf-yahoo.eml"]])
    result = run("inbox", "--show", cwd=tmp_workspace)
    assert result.exit_code == 0, result.output
    assert "1 new message," in result.output
    assert "complaint" in result.output and "ethan.park@example.com" in result.output
    assert "ethan.park@example.com" in read_suppressed(tmp_workspace / "audiences/suppressed.csv")
    assert len(imap.contents("Chairside")) == len(moved) + 1


def test_dry_run_changes_nothing(imap, tmp_workspace, run, monkeypatch):
    _configure(tmp_workspace, imap, monkeypatch)
    mails = _mailbox(tmp_workspace)
    imap.append("INBOX", list(mails.values()))
    csv_before = (tmp_workspace / "audiences/suppressed.csv").read_bytes()
    result = run("inbox", "--dry-run", cwd=tmp_workspace)
    assert result.exit_code == 0, result.output
    assert f"{len(SUPPRESSED)} would be added" in result.output
    assert (tmp_workspace / "audiences/suppressed.csv").read_bytes() == csv_before
    assert all("\\Seen" not in flags for flags, _ in imap.contents("INBOX"))
    assert not (tmp_workspace / ".chairside/returnpath.db").exists()
    assert f"{len(mails)} new messages" in run("inbox", cwd=tmp_workspace).output


def test_wrong_password_and_missing_settings_are_clear_errors(
    imap, tmp_workspace, run, monkeypatch
):
    assert_user_error(run("inbox", cwd=tmp_workspace), "no [imap] section")
    _configure(tmp_workspace, imap, monkeypatch)
    monkeypatch.setenv("CHAIRSIDE_IMAP_PASSWORD", "wrong")
    assert_user_error(
        run("inbox", cwd=tmp_workspace), "refused the login", "CHAIRSIDE_IMAP_PASSWORD"
    )
    monkeypatch.delenv("CHAIRSIDE_IMAP_PASSWORD")
    assert_user_error(run("inbox", cwd=tmp_workspace), "CHAIRSIDE_IMAP_PASSWORD")


@pytest.fixture
def imap_tls() -> Iterator[Dovecot]:
    server = Dovecot(tls=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _configure_tls(workspace: Path, monkeypatch, port: int, tls: str, ca_file: str = "") -> None:
    _sent(workspace)
    ca = f'ca_file = "{ca_file}"\n' if ca_file else ""
    with (workspace / "practice.toml").open("a") as handle:
        handle.write(
            f'\n[imap]\nhost = "127.0.0.1"\nport = {port}\nuser = "{USER}"\ntls = {tls}\n{ca}'
        )
    monkeypatch.setenv("CHAIRSIDE_IMAP_PASSWORD", PASSWORD)


def _logins(server: Dovecot) -> list[str]:
    """Dovecot's log lines of successful logins."""
    log = (server.root / "dovecot.log").read_text()
    return [line for line in log.splitlines() if "Login: user=<" in line]


@pytest.mark.parametrize("tls", ["true", '"starttls"'])
def test_inbox_reads_mail_over_tls_from_a_server_whose_ca_it_is_told_to_trust(
    imap_tls, tmp_workspace, run, monkeypatch, tls
):
    port = imap_tls.tls_port if tls == "true" else imap_tls.port
    shutil.copy(imap_tls.ca_file, tmp_workspace / "mail-ca.pem")
    _configure_tls(tmp_workspace, monkeypatch, port, tls, ca_file="mail-ca.pem")  # relative
    mails = _mailbox(tmp_workspace)
    imap_tls.append("INBOX", [mails["arf-yahoo.eml"], mails["unsub-reply-please.eml"]])
    before = len(_logins(imap_tls))
    result = run("inbox", cwd=tmp_workspace)
    assert result.exit_code == 0, result.output
    assert "2 new messages" in result.output
    assert {"ethan.park@example.com", "priya.raman@example.com"} <= read_suppressed(
        tmp_workspace / "audiences/suppressed.csv"
    )
    logins = _logins(imap_tls)
    assert len(logins) == before + 1 and ", TLS" in logins[-1], logins


@pytest.mark.parametrize("tls", ["true", '"starttls"'])
def test_a_certificate_not_trusted_is_a_clear_error(imap_tls, tmp_workspace, run, monkeypatch, tls):
    port = imap_tls.tls_port if tls == "true" else imap_tls.port
    _configure_tls(tmp_workspace, monkeypatch, port, tls)
    assert_user_error(run("inbox", cwd=tmp_workspace), "127.0.0.1", "certificate", "ca_file")
    assert len(_logins(imap_tls)) == 1  # the server's own probe at start: ours never came


def test_a_ca_file_that_is_missing_or_not_a_certificate_is_a_clear_error(
    imap_tls, tmp_workspace, run, monkeypatch
):
    _configure_tls(tmp_workspace, monkeypatch, imap_tls.tls_port, "true", ca_file="nope.pem")
    assert_user_error(run("inbox", cwd=tmp_workspace), "[imap] ca_file", "nope.pem")
    (tmp_workspace / "notes.pem").write_text("not a certificate\n")
    text = (tmp_workspace / "practice.toml").read_text().replace("nope.pem", "notes.pem")
    (tmp_workspace / "practice.toml").write_text(text)
    assert_user_error(run("inbox", cwd=tmp_workspace), "notes.pem", "PEM")


def test_a_server_without_starttls_gets_no_password(imap, tmp_workspace, run, monkeypatch):
    """Asked for STARTTLS, a server that does not offer it is an error: the login is never
    sent in clear (only tls = false does that, and only to this computer)."""
    _configure_tls(tmp_workspace, monkeypatch, imap.port, '"starttls"')
    assert_user_error(run("inbox", cwd=tmp_workspace), "STARTTLS", "127.0.0.1", "tls = true")
    log_file = imap.root / "dovecot.log"
    deadline = time.monotonic() + 5
    while "no auth attempts" not in log_file.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "no auth attempts" in log_file.read_text()
    assert len(_logins(imap)) == 1  # the server's own probe at start: ours never came


def test_unencrypted_imap_is_refused_for_a_remote_server(tmp_workspace, run, monkeypatch):
    with (tmp_workspace / "practice.toml").open("a") as handle:
        handle.write('\n[imap]\nhost = "imap.example.com"\nuser = "u"\ntls = false\nfolder = 3\n')
    monkeypatch.setenv("CHAIRSIDE_IMAP_PASSWORD", "x")
    assert_user_error(run("inbox", cwd=tmp_workspace), "[imap] tls", "[imap] folder")


def _ledger_with_campaigns(workspace: Path, email: str, campaigns: list[str]) -> None:
    """`email` sent each campaign in turn, a month apart, as the ledger records it."""
    import sqlite3

    from chairside.ledger import open_ledger

    with open_ledger(workspace / ".chairside") as ledger:
        for campaign in campaigns:
            ledger.mark_sending(campaign, email, email, f"{campaign}-a")
            ledger.finish(campaign, email, "sent", reply="250 OK")
    with sqlite3.connect(workspace / ".chairside/state.db") as db:
        for month, campaign in enumerate(campaigns, 1):
            db.execute(
                "UPDATE deliveries SET updated_at = ? WHERE campaign = ?",
                (f"2026-{month:02d}-01T09:00:00+00:00", campaign),
            )


def _soft(recorder, email: str, campaign: str, n: int):
    from chairside.returnpath.state import SOFT_BOUNCE, Event

    event = Event(f"test:{n}", "inbox", SOFT_BOUNCE, email, campaign, "5.2.2 full", "2026-12-09")
    outcome = recorder.record(event)
    recorder.flush()
    return outcome


def test_soft_bounces_suppress_only_three_campaigns_in_a_row(tmp_workspace):
    from chairside.returnpath.record import Recorder
    from chairside.returnpath.state import LedgerView, ReturnState
    from chairside.workspace import Workspace

    email = "hannah.schmidt@example.com"
    months = ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05"]
    _ledger_with_campaigns(tmp_workspace, email, months)
    state = ReturnState(tmp_workspace / ".chairside")
    ledger = LedgerView(tmp_workspace / ".chairside")
    recorder = Recorder(Workspace(tmp_workspace), state, ledger, dry_run=False)
    try:
        assert _soft(recorder, email, "2026-01", 1).streak == 1
        assert _soft(recorder, email, "2026-03", 2).streak == 1  # 2026-02 went through
        again = _soft(recorder, email, "2026-03", 2)  # the same bounce read twice
        assert not again.new and again.streak == 0
        assert _soft(recorder, email, "2026-04", 3).streak == 2
        assert email not in read_suppressed(tmp_workspace / "audiences/suppressed.csv")
        third = _soft(recorder, email, "2026-05", 4)
        assert third.streak == 3 and third.suppressed
        assert email in read_suppressed(tmp_workspace / "audiences/suppressed.csv")
    finally:
        state.close()


def test_a_message_without_message_id_and_broken_bytes_are_processed_once(
    imap, tmp_workspace, run, monkeypatch
):
    _configure(tmp_workspace, imap, monkeypatch)
    no_id = (
        b"Authentication-Results: mx.harborlanedental.example.com; dkim=pass "
        b"header.d=example.com\r\nFrom: James Whitfield <james.whitfield@example.com>\r\nTo: "
        b"unsubscribe@harborlanedental.example.com\r\nSubject: unsubscribe\r\n\r\n\r\n"
    )
    garbled = (
        b"From: \xff\xfe broken <x@example.net>\r\nSubject: =?bogus?q?=ZZ?=\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="none"\r\n'
        b"\r\n\x00\x01 not mime at all \xc3\x28\r\n"
    )
    imap.append("INBOX", [no_id, garbled])
    first = run("inbox", cwd=tmp_workspace)
    assert first.exit_code == 0, first.output
    assert "james.whitfield@example.com" in read_suppressed(
        tmp_workspace / "audiences/suppressed.csv"
    )
    assert "1 other message left as they were" in first.output
    second = run("inbox", cwd=tmp_workspace)
    assert "0 new messages, 2 read before" in second.output


@pytest.mark.parametrize("path", sorted(MAIL.glob("*.eml")), ids=lambda p: p.name)
def test_each_test_mail_is_classified_as_its_name_says(path: Path):
    from chairside.returnpath import classify as cl

    tokens = Tokens(b"k" * 32)
    text = re.sub(r"\{TOKEN:([^}]+)\}", lambda m: tokens(m.group(1)), path.read_text())
    raw = text.replace("\n", "\r\n").encode()
    found = cl.classify(
        cl.parse(raw), raw=raw, unsubscribe_address="unsubscribe@harborlanedental.example.com"
    )
    kinds = {f.kind for f in found.found}
    expected = {
        "unsub": ("unsubscribe", {"unsubscribe"}),
        "arf": ("complaint", {"complaint"}),
        "bounce-hard": ("bounce", {cl.HARD}),
        "bounce-soft": ("bounce", {cl.SOFT}),
        "bounce-delayed": ("bounce", {cl.DELAYED}),
    }
    prefix = next((p for p in expected if path.name.startswith(p + "-")), None)
    if prefix is None:  # other-*: nothing to do, or an unsubscribe from nobody we know
        assert found.kind in ("other", "auto-reply") or path.name.endswith("stranger.eml")
    else:
        assert (found.kind, kinds) == expected[prefix]
    for item in found.found:
        assert "@" not in item.detail  # diagnostics quote the address; reports must not


def test_a_dsn_with_undecodable_headers_is_still_read_from_its_fields():
    from chairside.returnpath import classify as cl

    raw = (
        (MAIL / "bounce-hard-postfix.eml")
        .read_bytes()
        .replace(b"(Mail Delivery System)", b"(Syst\xe8me de messagerie)")
        .replace(b"\n", b"\r\n")
    )
    found = cl.classify(cl.parse(raw), raw=raw)
    assert [(f.email, f.kind) for f in found.found] == [("emily.chen@example.com", cl.HARD)]


def test_a_lost_connection_keeps_what_was_done_and_the_rerun_finishes(
    imap, tmp_workspace, run, monkeypatch
):
    from chairside.returnpath import inbox as inbox_module

    _configure(tmp_workspace, imap, monkeypatch)
    mails = _mailbox(tmp_workspace)
    imap.append("INBOX", list(mails.values()))
    real_fetch = inbox_module._fetch
    calls = []

    def fetch_then_drop(connection, uids):
        calls.append(uids)
        if len(calls) == 2:
            connection.shutdown()  # the server "vanishes" before the second batch
        return real_fetch(connection, uids)

    monkeypatch.setattr(inbox_module, "FETCH_BATCH", 6)
    monkeypatch.setattr(inbox_module, "_fetch", fetch_then_drop)
    lost = run("inbox", cwd=tmp_workspace)
    assert_user_error(lost, "connection to the mail server was lost", "chairside inbox")
    monkeypatch.setattr(inbox_module, "_fetch", real_fetch)
    done = run("inbox", cwd=tmp_workspace)
    assert done.exit_code == 0, done.output
    assert f"{len(mails) - 6} new messages, 6 read before" in done.output
    suppressed = read_suppressed(tmp_workspace / "audiences/suppressed.csv")
    assert suppressed >= SUPPRESSED
    text = (tmp_workspace / "audiences/suppressed.csv").read_text()
    assert all(text.count(email) == 1 for email in SUPPRESSED)


def test_a_mark_that_did_not_happen_is_made_on_the_next_run(imap, tmp_workspace, run, monkeypatch):
    import sqlite3

    _configure(tmp_workspace, imap, monkeypatch)
    mails = _mailbox(tmp_workspace)
    imap.append("INBOX", [mails["arf-yahoo.eml"]])
    assert run("inbox", cwd=tmp_workspace).exit_code == 0
    # As if the program died between recording the message and marking it read.
    client = imap.client()
    client.select("INBOX")
    client.store("1", "-FLAGS", "(\\Seen)")
    client.logout()
    with sqlite3.connect(tmp_workspace / ".chairside/returnpath.db") as db:
        db.execute("UPDATE messages SET after_done = 0")
    again = run("inbox", cwd=tmp_workspace)
    assert "0 new messages, 1 read before" in again.output and "0 added" in again.output
    assert [flags for flags, _ in imap.contents("INBOX")] == [{"\\Seen"}]


def test_a_complaint_with_every_address_redacted_is_matched_by_message_id(
    imap, smtp_server, tmp_workspace, run, monkeypatch
):
    """Microsoft's JMRP redacts the recipient; the reported message's Message-ID is in the
    ledger of the SMTP send."""
    recorder, port = smtp_server
    assert run("send", "2026-12", "--smtp-port", str(port), cwd=tmp_workspace).exit_code == 0
    data = next(d for to, d in recorder.received if to == "zoe.martinez@example.com")
    headers = data.split(b"\r\n\r\n", 1)[0].decode()
    kept = [
        h
        for h in re.split(r"\r\n(?![ \t])", headers)
        if h.split(":")[0] in ("From", "Subject", "Message-ID", "Date")
    ]
    report = (
        "From: staff@hotmail.com\r\nTo: abuse@harborlanedental.example.com\r\n"
        "Subject: complaint about message\r\nMessage-ID: <jmrp.1@hotmail.com>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/report; "
        'report-type=feedback-report; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nAbuse report.\r\n"
        "--b\r\nContent-Type: message/feedback-report\r\n\r\n"
        "Feedback-Type: abuse\r\nUser-Agent: Hotmail FBL\r\nVersion: 1\r\n\r\n"
        "--b\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        + "\r\n".join(kept)
        + "\r\nTo: redacted@hotmail.com\r\n\r\n--b--\r\n"
    )
    _configure(tmp_workspace, imap, monkeypatch)
    imap.append("INBOX", [report.encode()])
    result = run("inbox", cwd=tmp_workspace)
    assert result.exit_code == 0, result.output
    assert "zoe.martinez@example.com" in read_suppressed(tmp_workspace / "audiences/suppressed.csv")


@pytest.mark.parametrize(
    ("subject", "first_line", "kind"),
    [
        ("Re: Your December newsletter", "No more emails please.", "unsubscribe"),
        ("Re: Your December newsletter", "Cancel my subscription", "unsubscribe"),
        ("Re: Your December newsletter", "Please remove me from your list", "unsubscribe"),
        ("Désinscription", "", "unsubscribe"),
        ("Re: Your December newsletter", "Stop by on Tuesday?", "other"),
        ("Re: Your December newsletter", "I don't want to unsubscribe, just moved.", "other"),
        ("Re: Your December newsletter", "Thanks! See you at my cleaning.", "other"),
    ],
)
def test_what_a_reply_says_decides(subject: str, first_line: str, kind: str):
    from email.message import EmailMessage

    from chairside.returnpath import classify as cl

    message = EmailMessage()
    message["From"] = "Pat <pat@example.com>"
    message["Subject"] = subject
    message.set_content(f"{first_line}\n\nOn Tue, Dec 1, 2026, Harbor Lane Dental wrote:\n> Hi\n")
    raw = message.as_bytes()
    assert cl.classify(cl.parse(raw), raw=raw).kind == kind


def test_an_unsubscribe_by_a_code_made_with_an_older_key_still_counts(
    imap, tmp_workspace, run, monkeypatch
):
    """The practice folder was synced from two computers and one key went to a conflicted
    copy: a patient answering mail sent with that key is still unsubscribed."""
    _configure(tmp_workspace, imap, monkeypatch)
    old_code = Tokens(load_key(tmp_workspace / ".chairside"))("maria.lopez@example.com")
    key_file = tmp_workspace / "unsubscribe-key.txt"
    key_file.rename(tmp_workspace / "unsubscribe-key (conflicted copy).txt")
    key_file.write_text("")  # this computer's own, new key
    assert Tokens(load_key(tmp_workspace / ".chairside"))("maria.lopez@example.com") != old_code
    mail = (MAIL / "unsub-gmail-mailto.eml").read_text()
    mail = re.sub(r"\{TOKEN:[^}]+\}", old_code, mail).replace("\n", "\r\n").encode()
    imap.append("INBOX", [mail])
    result = run("inbox", cwd=tmp_workspace)
    assert result.exit_code == 0, result.output
    assert "maria.lopez@example.com" in read_suppressed(tmp_workspace / "audiences/suppressed.csv")
