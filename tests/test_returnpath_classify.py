"""Whose problem a failure is (RFC 3463 and the words mail systems write), which ARF reports
are complaints, what an automatic reply is, and when Authentication-Results vouch for a
sender. Pure functions: no server needed."""

from __future__ import annotations

import pytest

from chairside.returnpath import classify as cl
from chairside.returnpath import evidence
from chairside.returnpath.reasons import DELAYED, HARD, SENDER, SOFT, code_in, judge


@pytest.mark.parametrize(
    ("status", "diagnostic", "side"),
    [
        ("5.1.1", "550 5.1.1 <x>: Recipient address rejected: User unknown", HARD),
        ("5.1.2", "550 5.1.2 Host unknown: no such domain", HARD),
        ("5.1.10", "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found", HARD),
        ("5.1.6", "550 5.1.6 mailbox has moved", HARD),
        # RFC 3463: x.1.7 and x.1.8 are the *sender's* address.
        ("5.1.7", "550 5.1.7 Bad sender's mailbox address syntax", SENDER),
        ("5.1.8", "553 5.1.8 <news@practice>: Sender address rejected: Domain not found", SENDER),
        ("5.1.0", "550 5.1.0 <news@practice>: sender rejected", SENDER),
        ("5.7.1", "550 5.7.1 Message rejected as spam by Content Filtering", SENDER),
        (
            "5.7.26",
            "550 5.7.26 Unauthenticated email from practice is not accepted due to "
            "domain's DMARC policy",
            SENDER,
        ),
        (
            "5.7.1",
            "554 5.7.1 Service unavailable; Client host blocked using zen.spamhaus.org",
            SENDER,
        ),
        ("4.7.0", "421 4.7.0 Try again later, closing connection (rate limit)", SENDER),
        ("5.3.4", "552 5.3.4 Message size exceeds fixed limit", SENDER),
        ("5.2.2", "552 5.2.2 Mailbox full", SOFT),
        ("4.2.2", "452 4.2.2 over quota", SOFT),
        ("4.4.7", "Delivery time expired", SOFT),
        ("5.4.7", "delivery expired (message too old)", SOFT),
        # No code at all: the words decide, and unsure words are soft.
        ("", "Sorry, I couldn't deliver it. Giving up.", SOFT),
        ("", "550 Requested action not taken: please contact the administrator", SOFT),
        ("", "554 rejected: your IP is listed in the RBL", SENDER),
        ("", "550 <x>: User unknown (in reply to RCPT TO command)", HARD),
        # "Unknown user" once the message was seen (DATA): a filter, not proof.
        ("", "550 Unknown user (in reply to end of DATA command)", SOFT),
        # Status and the diagnostic's own code disagree: the more specific wins.
        ("5.0.0", "550 5.1.1 <x>: Recipient address rejected: User unknown", HARD),
        ("5.1.1", "550 5.7.1 blocked using Spamhaus", SENDER),
        ("5.1.1", "552 5.2.2 Over quota", SOFT),
        # A 4xx is never final, whatever the words.
        ("4.1.1", "450 4.1.1 <x>: Recipient address rejected: User unknown", SOFT),
    ],
)
def test_only_the_recipients_own_permanent_failure_is_hard(status, diagnostic, side):
    assert judge(status, diagnostic).side == side


@pytest.mark.parametrize(
    ("diagnostic", "context", "side"),
    [
        # The step is named in the server's words, or in the bounce around them.
        ("550 5.2.1 <x>... User Unknown [RCPT_TO]", "", HARD),
        ("550 No such user here", "SMTP error from remote server after RCPT command:", HARD),
        ("550 Unknown user", "remote.example does not like recipient. Remote host said:", HARD),
        ("553 5.3.0 <x>... No such user here", "SMTP:RCPT host 192.0.2.8:", HARD),
        # A sendmail transcript whose last command was DATA: the refusal came after it.
        ("550 5.0.0 <x>... User unknown", ">>> DATA\n<<< 550 5.0.0 <x>... User unknown", SOFT),
        # "503 Need RCPT" answers a DATA after the refusals: it is no sign of the RCPT step.
        ("550 5.0.0 <x>... User unknown", ">>> DATA\n<<< 503 5.0.0 Need RCPT (recipient)", SOFT),
        ("550 5.0.0 <x>... User unknown", "<<< 503 5.0.0 Need RCPT (recipient)", SOFT),
        # Both steps in the bounce (a transcript of two sessions): the bounce does not say.
        ("550 User unknown", ">>> RCPT To:<a@b>\n<<< 250 ok\n>>> DATA\n<<< 550 x", SOFT),
    ],
)
def test_user_unknown_is_certain_only_when_refused_at_rcpt(diagnostic, context, side):
    assert judge("", diagnostic, context=context).side == side


def test_the_sending_systems_own_category_decides():
    # PowerMTA names what it saw in X-PowerMTA-BounceCategory: 5.2.1 "User Unknown" from a
    # server that it judged to have no such mailbox is that.
    assert judge("5.2.1", "550 5.2.1 <x>... User Unknown", category="bad-mailbox").side == HARD
    assert judge("5.2.1", "550 5.2.1 <x>... User Unknown").side == SOFT
    assert judge("5.0.0", "554 delivery error", category="quota-issues").reason == "mailbox full"
    assert judge("5.0.0", "554 rejected", category="spam-related").side == SENDER


@pytest.mark.parametrize(
    ("writer", "diagnostic", "side"),
    [
        # A gateway that writes its guarded server's bounce answers from its directory.
        ("x-nai-header: Modified by McAfee Email Gateway", "550 <x>... No such user", HARD),
        ("x-mailer: <SMTP32 v8.22>", "Unknown user: x@example.org", HARD),
        ("from: <MAILER-DAEMON@messagelabs.com>", "550 x@example.org... No such user", HARD),
        # Hotmail's "mailbox unavailable" is an address it does not have; others' is not sure.
        (
            "from: postmaster@hotmail.com",
            "550 Requested action not taken: mailbox unavailable",
            HARD,
        ),
        (
            "remote: bay004-mc1.hotmail.com",
            "550 Requested action not taken: mailbox unavailable",
            HARD,
        ),
        (
            "from: postmaster@example.org",
            "550 Requested action not taken: mailbox unavailable",
            SOFT,
        ),
        # The same words from anyone else, at no named step: a filter may write them.
        ("from: <MAILER-DAEMON@example.org>", "550 <x>... No such user", SOFT),
        # Amazon SES inbound refuses only by its owner's receipt rules: a rule, not a lookup.
        ("remote: inbound-smtp.us-west-2.amazonaws.com", "550 5.1.1 Mailbox does not exist", SOFT),
        ("remote: mx.example.org", "550 5.1.1 Mailbox does not exist", HARD),
        # The gateway's signature does not make other words certain.
        ("x-nai-header: Modified by McAfee Email Gateway", "550 Message rejected as spam", SENDER),
    ],
)
def test_some_mail_systems_say_no_such_user_in_their_own_way(writer, diagnostic, side):
    assert judge(code_in(diagnostic), diagnostic, writer=writer).side == side


GMAIL = """** Address not found **

Your message wasn't delivered to x@example.de because the address couldn't be found. Check
for typos or unnecessary spaces and try again."""


def test_a_lone_recipients_bounce_speaks_for_it():
    # Gmail's sentence in the prose of a bounce about one recipient is about that recipient.
    assert judge("5.1.0", "550 #5.1.0 Address rejected.", context=GMAIL, alone=True).side == HARD
    assert judge("5.1.0", "550 #5.1.0 Address rejected.", context=GMAIL).side == SOFT
    # ... unless Gmail says it is not sure which.
    unsure = GMAIL.replace("found.", "found, or is unable to receive mail.")
    assert judge("5.0.0", "550 : User unknown", context=unsure, alone=True).side == SOFT
    # A bounce about one recipient that also calls the mailbox full or the account disabled
    # does not prove it gone, whatever its code.
    full = "Not enough disk space\n\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 User Unknown"
    assert judge("5.1.1", "550 5.1.1 <x>... User Unknown", context=full, alone=True).side == SOFT
    disabled = "The user(s) account is disabled.\n550 user unknown (in reply to RCPT TO command)"
    verdict = judge(
        "", "550 user unknown (in reply to RCPT TO command)", context=disabled, alone=True
    )
    assert verdict.side == SOFT


def test_a_local_delivery_programs_words_are_its_own_failure():
    # Diagnostic-Code: X-UNIX is procmail's (or a script's) output, not a server's verdict.
    diagnostic = 'x-unix; procmail: Couldn\'t create "/var/spool/mail/neko" id: No such user'
    assert judge("5.1.1", diagnostic).side == SOFT
    assert judge("5.1.1", "smtp; 550 5.1.1 No such user").side == HARD


def test_a_delay_is_neither():
    assert judge("4.4.1", "connection timed out", action="delayed").side == DELAYED


def _arf(feedback_type: str) -> bytes:
    return (
        "From: fbl@example.net\r\nTo: abuse@practice.example\r\nSubject: report\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nreport\r\n"
        "--b\r\nContent-Type: message/feedback-report\r\n\r\n"
        f"Feedback-Type: {feedback_type}\r\nVersion: 1\r\nOriginal-Rcpt-To: p@example.com\r\n"
        "\r\n--b--\r\n"
    ).encode()


@pytest.mark.parametrize(
    ("feedback_type", "kind"),
    [
        ("abuse", "complaint"),
        ("fraud", "complaint"),
        ("virus", "complaint"),
        ("other", "complaint"),
        ("opt-out", "complaint"),
        ("auth-failure", "report"),
        ("not-spam", "report"),
    ],
)
def test_only_complaint_feedback_types_are_complaints(feedback_type, kind):
    raw = _arf(feedback_type)
    assert cl.classify(cl.parse(raw), raw=raw).kind == kind


@pytest.mark.parametrize(
    "subject",
    [
        "Out of Office: newsletter",
        "Automatic reply: unsubscribe",
        "Autoreply: unsubscribe",
        "Abwesenheitsnotiz: Newsletter",
        "Réponse automatique : désabonnement",
        "Respuesta automática: baja",
        "Fuori sede: newsletter",
        "RE: Out of the office",
    ],
)
def test_out_of_office_subjects_are_automatic_replies(subject):
    raw = (
        f"From: p@example.com\r\nTo: unsubscribe@practice.example\r\nSubject: {subject}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nUnsubscribe\r\n"
    ).encode()
    found = cl.classify(cl.parse(raw), raw=raw, unsubscribe_address="unsubscribe@practice.example")
    assert found.kind == "auto-reply"


@pytest.mark.parametrize(
    ("headers", "authserv_id", "verified"),
    [
        ("mx.practice.example; dkim=pass header.d=example.com", "", "dkim"),
        ("mx.practice.example; spf=pass smtp.mailfrom=p@example.com", "", "spf"),
        ("mx.practice.example; dmarc=pass header.from=example.com", "", "dmarc"),
        ("mx.practice.example; dkim=pass header.d=evil.example", "", ""),  # not From's domain
        ("mx.practice.example; dkim=fail header.d=example.com", "", ""),
        ("not a header at all ;;;", "", ""),
        # The topmost is the practice's server's; a pass below it proves nothing...
        (
            "mx.practice.example; dkim=none\nAuthentication-Results: x; dkim=pass "
            "header.d=example.com",
            "",
            "",
        ),
        # ...unless [imap] authserv_id names the one to believe.
        (
            "relay.example; none\nAuthentication-Results: mx.practice.example; dkim=pass "
            "header.d=example.com",
            "mx.practice.example",
            "dkim",
        ),
    ],
)
def test_a_sender_is_vouched_for_only_by_the_practices_own_server(headers, authserv_id, verified):
    raw = (
        f"Authentication-Results: {headers}\r\nFrom: p@example.com\r\nSubject: unsubscribe"
        "\r\n\r\nunsubscribe\r\n"
    ).encode()
    assert evidence.verified_by(cl.parse(raw), authserv_id=authserv_id) == verified


def test_recipients_are_found_in_prose_bounces_of_several_forms():
    forms = {
        "Office 365": "Your message to p@example.com couldn't be delivered.\n"
        "p wasn't found at example.com.\n550 5.1.10 RESOLVER.ADR.RecipientNotFound",
        "Gmail": "** Address not found **\n\nYour message wasn't delivered to p@example.com "
        "because the address couldn't be found.",
        "OpenSMTPD": "Hi!\n\nAn error has occurred while attempting to deliver a message.\n\n"
        "Error for: p@example.com\n550 5.1.1 Invalid recipient",
        "sendmail": "   ----- Transcript of session follows -----\n>>> RCPT To:<p@example.com>\n"
        "<<< 550 5.1.1 <p@example.com>... User unknown\n",
    }
    for name, text in forms.items():
        raw = (
            "From: MAILER-DAEMON@mx.example.com\r\nSubject: Undeliverable: newsletter\r\n"
            "Auto-Submitted: auto-replied\r\n\r\n" + text.replace("\n", "\r\n") + "\r\n"
        ).encode()
        found = cl.classify(cl.parse(raw), raw=raw)
        assert [f.email for f in found.found] == ["p@example.com"], name
        assert found.found[0].kind == HARD, name


def _plain_bounce(headers: str, text: str) -> cl.Classified:
    raw = (headers + "\r\n\r\n" + text.replace("\n", "\r\n") + "\r\n").encode()
    return cl.classify(cl.parse(raw), raw=raw)


def test_a_plain_text_bounce_is_read_up_to_the_message_it_returns():
    # Lotus Notes' form: the reason, then the address, then the returned message (whose
    # own addresses are not failures).
    found = _plain_bounce(
        "From: postmaster@gw.example.com\r\nSubject: Undeliverable message",
        "------- Failure Reasons  --------\n\nUser  not listed in public Name & Address Book\n"
        "p@example.com\n\n\n------- Returned Message --------\nReceived: from mx.example.org "
        "by gw.example.com for <p@example.com>;\nFrom: news@practice.example\n"
        "To: p@example.com\nSubject: Newsletter\n\nHello",
    )
    assert [(f.email, f.kind) for f in found.found] == [("p@example.com", HARD)]


def test_a_verizon_gateways_words_anywhere_in_its_bounce_about_one_recipient():
    found = _plain_bounce(
        "From: MMSC NDR Administrator <sysadmin@m01.vzwpix.com>\r\nSubject: Undeliverable Message",
        "Message could not be delivered to mobile.\nAddresses: p@vtext.example\n"
        "Error: No valid recipients for this MM",
    )
    assert [(f.email, f.kind) for f in found.found] == [("p@vtext.example", HARD)]


@pytest.mark.parametrize(
    ("diagnostic", "side", "reason"),
    [
        # RFC 7505 null MX, in Exim's words: the domain takes no mail.
        ("an MX or SRV record indicated no SMTP service", HARD, "domain takes no mail"),
        ("No mx record found for domain=example.org", HARD, "domain takes no mail"),
        ("553 mx.example.org does not exist", HARD, "domain unknown"),
        # A number in a Message-ID (…-F437-…) is no 4xx reply.
        (
            "No mx record found for domain=example.org Message-Id: <6E1E1D57-F437-4BDB@x>",
            HARD,
            "domain takes no mail",
        ),
        ("451 No mx record found for domain=example.org", SOFT, "domain takes no mail"),
    ],
)
def test_domains_that_take_no_mail(diagnostic, side, reason):
    verdict = judge("", diagnostic)
    assert (verdict.side, verdict.reason) == (side, reason)


def test_a_sendmail_transcript_gives_each_recipient_its_own_lines():
    found = _plain_bounce(
        "From: Mail Delivery Subsystem <MAILER-DAEMON@mx.practice.example>\r\n"
        "Subject: Returned mail: Host unknown",
        "   ----- Transcript of session follows -----\n"
        "While talking to mx.a.example:\n>>> DATA\n<<< 550 Your message looks like spam\n"
        "554 <p@a.example>... Remote protocol error: Connection reset by peer\n"
        "550 b.example (smtp)... 550 Host unknown\n"
        "554 <q@b.example>... 550 Host unknown (Authoritative answer from name server)\n"
        "While talking to mx.c.example:\n>>> RCPT To:<r@c.example>\n"
        "<<< 550 Requested User Mailbox not found. No such user here.\n"
        "550 <r@c.example>... User unknown\n\n   ----- Unsent message follows -----\n"
        "To: p@a.example\n\nHello",
    )
    kinds = {f.email: (f.kind, f.reason) for f in found.found}
    assert kinds["q@b.example"] == (HARD, "domain unknown")
    assert kinds["r@c.example"] == (HARD, "user unknown")  # refused at its RCPT TO
    assert kinds["p@a.example"][0] != HARD  # the connection, not the address


@pytest.mark.parametrize(
    ("headers", "text"),
    [
        # sendmail's local delivery agent has no such account.
        (
            "From: MAILER-DAEMON@mx.example.net\r\nSubject: Returned mail",
            "   ----- Transcript of session follows -----\nmail.local: unknown user: p\n"
            "554 <p@example.net>... Service unavailable",
        ),
        # The reply code stands before the address on its line.
        (
            "From: MAILER-DAEMON@gw.example.net\r\nSubject: Mail delivery failed",
            "Delivery to the following address failed:\np@example.net\n\n"
            "-------server message\n550 5.1.1 <p@example.net>: Recipient address rejected: "
            "User unknown in local recipient table\n",
        ),
        (
            'From: postmaster@gw.example.net ("InterScan Notification")\r\n'
            "Subject: Mail could not be delivered",
            "Unable to deliver message to <p@example.net> (and other recipients in the same "
            "domain). Please check if address is correct.",
        ),
        # InterScan known by the Received line it writes, whatever the From says.
        (
            "Received: from mx.example.org ([192.0.2.22]) by gw1 with InterScan Messaging "
            "Security Suite; Thu, 29 Apr 2027 23:34:45 -0700\r\n"
            'From: postmaster@example.net ("Gateway Postmaster")\r\n'
            "Subject: Mail could not be delivered",
            "Reason: Unable to deliver message to <p@example.net> (and other recipients in the "
            "same domain).",
        ),
    ],
)
def test_bounces_that_say_no_such_account_in_their_own_words(headers, text):
    found = _plain_bounce(headers, text)
    assert [(f.email, f.kind) for f in found.found] == [("p@example.net", HARD)]


def test_a_quoted_local_part_is_kept_whole():
    lines = [
        "From: MAILER-DAEMON@mx.practice.example",
        "Subject: Undelivered Mail Returned to Sender",
        "MIME-Version: 1.0",
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"',
        "",
        "--b",
        "Content-Type: text/plain",
        "",
        "The mail system",
        "--b",
        "Content-Type: message/delivery-status",
        "",
        "Reporting-MTA: dns; mx.practice.example",
        "",
        'Final-Recipient: rfc822; "p..q"@example.org',
        "Action: failed",
        "Status: 5.1.1",
        'Diagnostic-Code: smtp; 550 5.1.1 <"p..q"@example.org>... User Unknown',
        "",
        "--b--",
    ]
    raw = "\r\n".join(lines).encode()
    found = cl.classify(cl.parse(raw), raw=raw)
    assert [(f.email, f.kind) for f in found.found] == [('"p..q"@example.org', HARD)]
