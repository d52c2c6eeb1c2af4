"""Proof before action, against a real IMAP server (Dovecot on 127.0.0.1): forged bounces,
complaints and unsubscribes suppress nobody and are held for review; auto-replies and DMARC
failure reports touch nobody; a real-format bounce that returns a message Chairside sent is
applied; a refusal of the practice's mail never counts against the patient."""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import pytest

from chairside.audience.suppression import read_suppressed
from chairside.tokens import Tokens, load_key
from tests.imap_server import DOVECOT, PASSWORD, USER, Dovecot
from tests.support import assert_user_error, need

PRACTICE = "harborlanedental.example.com"


@pytest.fixture(autouse=True)
def _dovecot_installed() -> None:
    need("Debian's dovecot-imapd", shutil.which(DOVECOT) is not None)


def _patients(workspace: Path) -> list[str]:
    with (workspace / "audiences/patients.csv").open(newline="") as handle:
        emails = [row["Email"].strip().lower() for row in csv.DictReader(handle)]
    return list(dict.fromkeys(e for e in emails if "@" in e))


def _sent(workspace: Path, emails: list[str], campaign: str = "2026-11") -> dict[str, str]:
    """An SMTP send of `campaign` in the ledger; address → the Message-ID it went with."""
    from chairside.ledger import open_ledger

    ids = {}
    with open_ledger(workspace / ".chairside") as ledger:
        for n, email in enumerate(emails):
            ids[email] = f"<{n:04d}{'ab' * 14}@{PRACTICE}>"
            ledger.mark_sending(campaign, email, email, f"{campaign}-a")
            ledger.finish(campaign, email, "sent", reply="250 OK", message_id=ids[email])
    return ids


def _configure(workspace: Path, server: Dovecot, monkeypatch, extra: str = "") -> None:
    with (workspace / "practice.toml").open("a") as handle:
        handle.write(
            f'\n[imap]\nhost = "127.0.0.1"\nport = {server.port}\nuser = "{USER}"\n'
            f"tls = false\n{extra}"
        )
    monkeypatch.setenv("CHAIRSIDE_IMAP_PASSWORD", PASSWORD)


def _crlf(text: str) -> bytes:
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode()


def _dsn(recipients: list[tuple[str, str, str]], *, original: str = "", sender: str = "") -> bytes:
    """A Postfix-style RFC 3464 bounce: (address, status, diagnostic) per recipient."""
    blocks = "\n".join(
        f"Final-Recipient: rfc822; {a}\nAction: failed\nStatus: {s}\n"
        f"Remote-MTA: dns; mx.{a.split('@')[1]}\nDiagnostic-Code: smtp; {d}\n"
        for a, s, d in recipients
    )
    returned = f"--B\nContent-Type: text/rfc822-headers\n\n{original}\n" if original else ""
    return _crlf(
        f"Return-Path: <>\nFrom: MAILER-DAEMON@{sender or 'mx.' + PRACTICE} (Mail Delivery "
        f"System)\nTo: news@{PRACTICE}\nSubject: Undelivered Mail Returned to Sender\n"
        f"Message-ID: <dsn.{abs(hash((blocks, original)))}@mx.example.net>\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\n\n'
        "--B\nContent-Type: text/plain\n\nYour message could not be delivered.\n\n"
        f"--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.net\n\n"
        f"{blocks}\n{returned}--B--\n"
    )


def _returned(email: str, message_id: str) -> str:
    return (
        f"From: Harbor Lane Dental <news@{PRACTICE}>\nTo: {email}\n"
        f"Subject: Your December newsletter\nMessage-ID: {message_id}\n"
    )


def test_a_forged_bounce_naming_forty_patients_suppresses_nobody_and_holds_all(
    imap, tmp_workspace, run, monkeypatch
):
    patients = [f"patient{n:04d}@example.com" for n in range(1, 41)]
    with (tmp_workspace / "audiences/patients.csv").open("a") as handle:
        handle.writelines(
            f"HLD-9{n:04d},Pat,Ient,{p},,Y,2026-10-01\n" for n, p in enumerate(patients)
        )
    _sent(tmp_workspace, patients)
    _configure(tmp_workspace, imap, monkeypatch)
    forged = _dsn(
        [(p, "5.1.1", f"550 5.1.1 <{p}>: User unknown") for p in patients],
        sender="evil.example",
    )
    imap.append("INBOX", [forged])
    before = read_suppressed(tmp_workspace / "audiences/suppressed.csv")

    result = run("inbox", cwd=tmp_workspace)
    assert result.exit_code == 0, result.output
    assert read_suppressed(tmp_workspace / "audiences/suppressed.csv") == before
    assert "40 held for review" in result.output and "0 added" in result.output
    assert patients[0] not in result.output  # masked

    again = run("inbox", cwd=tmp_workspace)
    assert "0 new messages, 1 read before" in again.output
    review = run("inbox", "--review", cwd=tmp_workspace)
    assert review.exit_code == 0, review.output
    assert review.output.startswith("40 held for review:")
    assert review.output.count("bounce (address gone)") == 40
    assert "does not return any message Chairside sent" in review.output
    assert "from MA***@evil.example" in review.output  # addresses masked, even this one
    assert patients[0] not in review.output
    assert patients[0] in run("inbox", "--review", "--show", cwd=tmp_workspace).output


def test_held_items_are_applied_or_dismissed_once(imap, tmp_workspace, run, monkeypatch):
    patients = _patients(tmp_workspace)[:3]
    _configure(tmp_workspace, imap, monkeypatch)
    imap.append("INBOX", [_dsn([(p, "5.1.1", "550 5.1.1 User unknown") for p in patients])])
    assert run("inbox", cwd=tmp_workspace).exit_code == 0
    listed = run("inbox", "--review", "--show", cwd=tmp_workspace).output
    ids = {email: int(n) for n, email in re.findall(r"#(\d+) .*?: (\S+@\S+)", listed)}
    assert set(ids) == set(patients)

    applied = run(
        "inbox",
        "--apply",
        str(ids[patients[0]]),
        "--dismiss",
        str(ids[patients[1]]),
        cwd=tmp_workspace,
    )
    assert applied.exit_code == 0, applied.output
    assert "suppressed" in applied.output and "dismissed" in applied.output
    suppressed = read_suppressed(tmp_workspace / "audiences/suppressed.csv")
    assert patients[0] in suppressed and patients[1] not in suppressed
    twice = run("inbox", "--apply", str(ids[patients[0]]), cwd=tmp_workspace)
    assert "applied before: nothing changed" in twice.output
    text = (tmp_workspace / "audiences/suppressed.csv").read_text()
    assert text.count(patients[0]) == 1
    assert run("inbox", "--review", cwd=tmp_workspace).output.startswith("1 held for review:")
    assert_user_error(run("inbox", "--apply", "999", cwd=tmp_workspace), "999", "--review")
    both = run("inbox", "--apply", "3", "--dismiss", "3", cwd=tmp_workspace)
    assert both.exit_code == 2


def test_a_bounce_acts_only_for_the_recipients_it_proves(imap, tmp_workspace, run, monkeypatch):
    """A real-format bounce with three recipients, the returned headers of one message of
    the ledger, a second proven by the code in the returned List-Unsubscribe; a third named
    without proof is held."""
    first, second, third = _patients(tmp_workspace)[:3]
    ids = _sent(tmp_workspace, [first, second, third])
    code = Tokens(load_key(tmp_workspace / ".chairside"))(second)
    original = _returned(first, ids[first]) + (
        f"List-Unsubscribe: <mailto:unsubscribe@{PRACTICE}?subject=unsubscribe%20{code}>\n"
    )
    _configure(tmp_workspace, imap, monkeypatch)
    bounce = _dsn(
        [
            (first, "5.1.1", "550-5.1.1 The email account that you tried to reach does not exist"),
            (second, "5.0.0", "550 5.1.1 <x>: Recipient address rejected: User unknown"),
            (third, "5.1.1", "550 5.1.1 User unknown"),
        ],
        original=original,
    )
    imap.append("INBOX", [bounce])
    result = run("inbox", cwd=tmp_workspace)
    assert result.exit_code == 0, result.output
    suppressed = read_suppressed(tmp_workspace / "audiences/suppressed.csv")
    assert {first, second} <= suppressed and third not in suppressed
    assert "1 held for review" in result.output


def test_forged_complaints_bounces_in_prose_and_unsubscribes_are_held(
    imap, tmp_workspace, run, monkeypatch
):
    a, b, c = _patients(tmp_workspace)[3:6]
    _sent(tmp_workspace, [a, b, c])
    _configure(tmp_workspace, imap, monkeypatch)
    arf = _crlf(
        f"From: abuse@evil.example\nTo: abuse@{PRACTICE}\nSubject: complaint\n"
        "Message-ID: <arf.1@evil.example>\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="b"\n\n'
        "--b\nContent-Type: text/plain\n\nAbuse report.\n"
        "--b\nContent-Type: message/feedback-report\n\n"
        f"Feedback-Type: abuse\nUser-Agent: Evil/1.0\nVersion: 1\nOriginal-Rcpt-To: {a}\n\n"
        f"--b\nContent-Type: text/rfc822-headers\n\nFrom: news@{PRACTICE}\nTo: {a}\n"
        "Message-ID: <made-up-1234@harborlanedental.example.com>\n\n--b--\n"
    )
    prose = _crlf(
        "Return-Path: <>\nFrom: MAILER-DAEMON@evil.example\nTo: news@"
        f"{PRACTICE}\nSubject: failure notice\nMessage-ID: <q.1@evil.example>\n\n"
        "Hi. This is the qmail-send program at evil.example.\nI'm afraid I wasn't able to "
        "deliver your message to the following addresses.\nThis is a permanent error; I've "
        f"given up. Sorry it didn't work out.\n\n<{b}>:\nSorry, no mailbox here by that name. "
        "(#5.1.1)\n"
    )
    spoofed = _crlf(
        # The practice's server wrote the topmost header: DKIM failed. The "pass" below it
        # was written by whoever sent the mail, and proves nothing.
        f"Authentication-Results: mx.{PRACTICE}; dkim=fail header.d=example.com; "
        "spf=fail smtp.mailfrom=example.com; dmarc=fail header.from=example.com\n"
        "Authentication-Results: mx.evil.example; dkim=pass header.d=example.com\n"
        f"From: {c}\nTo: unsubscribe@{PRACTICE}\nSubject: unsubscribe\n"
        "Message-ID: <u.1@evil.example>\n\nUnsubscribe\n"
    )
    imap.append("INBOX", [arf, prose, spoofed])
    before = read_suppressed(tmp_workspace / "audiences/suppressed.csv")
    result = run("inbox", cwd=tmp_workspace)
    assert result.exit_code == 0, result.output
    assert read_suppressed(tmp_workspace / "audiences/suppressed.csv") == before
    assert "3 held for review" in result.output
    review = run("inbox", "--review", cwd=tmp_workspace).output
    assert "spam complaint" in review and "unsubscribe request" in review
    assert "did not confirm it came from their mail provider" in review


def test_an_unsubscribe_vouched_for_by_the_named_authserv_id_counts(
    imap, tmp_workspace, run, monkeypatch
):
    patient = _patients(tmp_workspace)[6]
    _configure(tmp_workspace, imap, monkeypatch, extra=f'authserv_id = "mx.{PRACTICE}"\n')
    request = _crlf(
        # A relay's header on top; the practice's server (named in [imap]) saw DMARC pass.
        "Authentication-Results: relay.example.net; none\n"
        f"Authentication-Results: mx.{PRACTICE}; dmarc=pass header.from=example.com\n"
        f"From: {patient}\nTo: unsubscribe@{PRACTICE}\nSubject: Unsubscribe\n"
        "Message-ID: <u.2@example.com>\n\nPlease unsubscribe me\n"
    )
    imap.append("INBOX", [request])
    result = run("inbox", cwd=tmp_workspace)
    assert result.exit_code == 0, result.output
    assert patient in read_suppressed(tmp_workspace / "audiences/suppressed.csv")
    assert "passed DMARC" in result.output


@pytest.mark.parametrize(
    "headers",
    [
        "Subject: Automatic reply: unsubscribe\n",
        "Subject: Abwesenheitsnotiz: Unsubscribe\n",
        "Subject: Réponse automatique : désabonnement\n",
        "Subject: Out of Office: unsubscribe\n",
        "Subject: unsubscribe\nX-Autoreply: yes\n",
        "Subject: unsubscribe\nAuto-Submitted: auto-replied\n",
        "Subject: unsubscribe\nPrecedence: auto_reply\n",
    ],
)
def test_an_automatic_reply_unsubscribes_nobody(imap, tmp_workspace, run, monkeypatch, headers):
    patient = _patients(tmp_workspace)[7]
    _configure(tmp_workspace, imap, monkeypatch)
    reply = _crlf(
        f"Authentication-Results: mx.{PRACTICE}; dkim=pass header.d=example.com\n"
        f"From: {patient}\nTo: unsubscribe@{PRACTICE}\n{headers}"
        "Message-ID: <ooo.1@example.com>\nContent-Type: text/plain; charset=utf-8\n\n"
        "I am out of the office until Monday.\n"
    )
    imap.append("INBOX", [reply])
    result = run("inbox", cwd=tmp_workspace)
    assert result.exit_code == 0, result.output
    assert patient not in read_suppressed(tmp_workspace / "audiences/suppressed.csv")
    assert "held for review" not in result.output
    assert [flags for flags, _ in imap.contents("INBOX")] == [set()]  # left for a person


def test_a_dmarc_failure_report_and_a_spam_refusal_count_against_nobody(
    imap, tmp_workspace, run, monkeypatch
):
    gmail, other = _patients(tmp_workspace)[8:10]
    ids = _sent(tmp_workspace, [gmail, other])
    _configure(tmp_workspace, imap, monkeypatch)
    auth_failure = _crlf(
        f"From: dmarc@example.com\nTo: dmarc@{PRACTICE}\nSubject: DMARC failure report\n"
        "Message-ID: <af.1@example.com>\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="b"\n\n'
        "--b\nContent-Type: text/plain\n\nAn authentication failure.\n"
        "--b\nContent-Type: message/feedback-report\n\n"
        f"Feedback-Type: auth-failure\nVersion: 1\nAuth-Failure: dmarc\n"
        f"Original-Rcpt-To: {other}\n\n--b\nContent-Type: text/rfc822-headers\n\n"
        + _returned(other, ids[other])
        + "\n--b--\n"
    )
    refused = _dsn(
        [
            (
                gmail,
                "5.7.1",
                "550-5.7.1 [192.0.2.1] Our system has detected that this message is likely "
                "unsolicited mail. To reduce the amount of spam sent to Gmail, this message "
                "has been blocked. gsmtp",
            )
        ],
        original=_returned(gmail, ids[gmail]),
    ).replace(b"Remote-MTA: dns; mx.example.com", b"Remote-MTA: dns; gmail-smtp-in.l.google.com")
    forged_refusal = _dsn([(other, "5.7.1", "550 5.7.1 blocked as spam")], sender="evil.example")
    imap.append("INBOX", [auth_failure, refused, forged_refusal])
    result = run("inbox", cwd=tmp_workspace)
    assert result.exit_code == 0, result.output
    suppressed = read_suppressed(tmp_workspace / "audiences/suppressed.csv")
    assert gmail not in suppressed and other not in suppressed
    assert "Gmail refused 1 message of 2026-11 (spam-like)" in result.output
    assert "failed authentication (DMARC/SPF" in result.output
    assert "refusal of the practice's mail that returns no message Chairside sent" in (
        result.output
    )  # a forger's false alarm is not counted
    assert all("\\Seen" in flags for flags, _ in imap.contents("INBOX"))  # handled, both

    review = run("inbox", "--review", cwd=tmp_workspace).output
    assert "Gmail refused 1 message of 2026-11" in review
    checked = run("check", "2026-12", cwd=tmp_workspace)
    assert "Gmail refused 1 message of 2026-11 as spam-like" in checked.output


def test_a_bounce_to_the_return_address_made_for_the_patient_is_proof(
    imap, tmp_workspace, run, monkeypatch
):
    patient = _patients(tmp_workspace)[10]
    code = Tokens(load_key(tmp_workspace / ".chairside"))(patient)
    _configure(tmp_workspace, imap, monkeypatch)
    bounce = _dsn([(patient, "5.1.1", "550 5.1.1 User unknown")]).replace(
        b"To: news@", f"Delivered-To: news+b-{code}@{PRACTICE}\r\nTo: news@".encode(), 1
    )
    imap.append("INBOX", [bounce])
    assert run("inbox", cwd=tmp_workspace).exit_code == 0
    assert patient in read_suppressed(tmp_workspace / "audiences/suppressed.csv")


def test_a_send_from_a_bounce_address_gives_each_patient_a_return_address_that_proves(
    imap, tmp_workspace, run, monkeypatch, smtp_server
):
    """`[email] bounce_address`: `send` gives each message the envelope sender
    `bounces+b-CODE@…` made for its patient; a bounce the receiving side delivers to that
    address, quoting nothing, suppresses that patient, and nobody else it names."""
    server, port = smtp_server
    path = tmp_workspace / "practice.toml"
    text = path.read_text()
    path.write_text(
        text.replace("[email]\n", f'[email]\nbounce_address = "bounces@{PRACTICE}"\n', 1)
    )
    sent = run("send", "2026-12", "--smtp-port", str(port), cwd=tmp_workspace)
    assert sent.exit_code == 0, sent.output
    tokens = Tokens(load_key(tmp_workspace / ".chairside"))
    assert len(server.senders) > 20
    for email, sender in server.senders.items():
        assert sender == f"bounces+b-{tokens(email)}@{PRACTICE}"
    patient, other = sorted(server.senders)[:2]
    _configure(tmp_workspace, imap, monkeypatch)
    delivered = f"Delivered-To: {server.senders[patient]}\r\nTo: news@".encode()
    bounce = _dsn([(patient, "5.1.1", "550 5.1.1 User unknown")])
    misdirected = _dsn([(other, "5.1.1", "550 5.1.1 User unknown")])
    imap.append(
        "INBOX",
        [
            bounce.replace(b"To: news@", delivered, 1),
            misdirected.replace(b"To: news@", delivered, 1),
        ],
    )
    assert run("inbox", cwd=tmp_workspace).exit_code == 0
    suppressed = read_suppressed(tmp_workspace / "audiences/suppressed.csv")
    assert patient in suppressed and other not in suppressed


@pytest.mark.parametrize(
    ("address", "said"),
    [
        ("bounces@elsewhere.example.com", "must be an address of harborlanedental"),
        (f"bounces+x@{PRACTICE}", "must not contain '+'"),
        ("not an address", "is not an email address"),
    ],
)
def test_a_bounce_address_that_cannot_work_is_a_clear_error(tmp_workspace, run, address, said):
    path = tmp_workspace / "practice.toml"
    text = path.read_text()
    path.write_text(text.replace("[email]\n", f'[email]\nbounce_address = "{address}"\n', 1))
    assert_user_error(run("send", "2026-12", "--dry-run", cwd=tmp_workspace), said)


def test_an_enormous_or_hostile_message_is_read_in_part_and_nothing_is_lost(
    imap, tmp_workspace, run, monkeypatch
):
    from chairside.returnpath import inbox as inbox_module

    patient = _patients(tmp_workspace)[11]
    ids = _sent(tmp_workspace, [patient])
    _configure(tmp_workspace, imap, monkeypatch)
    monkeypatch.setattr(inbox_module, "MAX_MESSAGE", 200_000)
    huge = _dsn(
        [(patient, "5.1.1", "550 5.1.1 User unknown")], original=_returned(patient, ids[patient])
    ).replace(b"--B--", b"--B\r\nContent-Type: text/plain\r\n\r\n" + b"A" * 900_000 + b"\r\n--B--")
    nested = _crlf(
        "From: x@evil.example\nSubject: nested\nMIME-Version: 1.0\n"
        + 'Content-Type: multipart/mixed; boundary="a"\n\n'
        + "".join(
            f'--a{n - 1 if n else ""}\nContent-Type: multipart/mixed; boundary="a{n}"\n\n'
            for n in range(3000)
        )
    )
    imap.append("INBOX", [huge, nested])
    result = run("inbox", cwd=tmp_workspace)
    assert result.exit_code == 0, result.output
    assert patient in read_suppressed(tmp_workspace / "audiences/suppressed.csv")
    assert "2 new messages" in result.output
    assert "a message that could not be read (RecursionError): left for you" in result.output
    assert "0 new messages, 2 read before" in run("inbox", cwd=tmp_workspace).output
