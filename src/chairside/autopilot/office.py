"""What the office is sent: the proof of a campaign (a test of every version, with one line
saying who gets which, when it goes, and how to approve), and short notes when a scheduled
campaign is held."""

from __future__ import annotations

from collections import Counter

from chairside.workspace import Workspace, load_practice


def tell_office(workspace: Workspace, subject: str, body: str) -> bool:
    """A short plain email to the practice's own address over its mail server; False when
    no mail server is set up. Never names a patient."""
    from email.message import EmailMessage
    from email.utils import formatdate, make_msgid

    from chairside.providers.smtp import SmtpConnection, resolve

    practice = load_practice(workspace)
    if not practice.smtp.host:
        return False
    office = practice.reply_to or practice.from_email
    message = EmailMessage()
    message["From"] = practice.from_email
    message["To"] = office
    message["Subject"] = f"Chairside: {subject}"
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=practice.from_email.rpartition("@")[2])
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body + "\n\nOpen the studio to see the campaign.\n")
    connection = SmtpConnection(resolve(practice.smtp))
    connection.open()
    try:
        connection.send(practice.from_email, office, message.as_bytes())
    finally:
        connection.close()
    return True


def send_proof(workspace: Workspace, name: str, *, why: str) -> str:
    """Send the tests and the summary; returns a sentence saying what was done. A mail server
    that cannot be reached or refuses is said so: the campaign stays as drafted."""
    from chairside.errors import ChairsideError

    try:
        return _send_proof(workspace, name, why)
    except ChairsideError as exc:
        return f"no test was sent ({exc.format_message()}); send one when the mail server works"


def _send_proof(workspace: Workspace, name: str, why: str) -> str:
    from chairside.autopilot.approval import record_test
    from chairside.autopilot.schedule import describe_schedule
    from chairside.autopilot.status import read_status
    from chairside.delivery import prepare
    from chairside.providers.smtp import resolve
    from chairside.sending import send_tests

    prepared = prepare(workspace, name)
    practice = prepared.practice
    if not practice.smtp.host:
        return "no test was sent: no mail server is set up to send it"
    office = practice.reply_to or practice.from_email
    sent = send_tests(prepared, resolve(practice.smtp), office)
    if any(reply.startswith("not sent") for _, reply in sent):
        return f"the test to {office} was refused: {sent[0][1]}"
    record_test(workspace, name, office)
    names = {v.segment.id: v.segment.name for v in prepared.campaign.variants}
    counts = Counter(p.segment for p in prepared.audience.patients)
    per_version = ", ".join(
        f"{names.get(segment, segment)}: {counts.get(segment, 0)} patients" for segment in names
    )
    status = read_status(workspace, name)
    going = (
        f"It goes {describe_schedule(workspace, status)}."
        if status.scheduled_at
        else "It is not scheduled yet."
    )
    tell_office(
        workspace,
        f"{name} is ready for your approval",
        f"{why} A test of each version was sent to {office}.\n\n{per_version}. {going}\n\n"
        f"To approve it: open the studio, choose {name}, and press Approve "
        f"(or run: chairside approve {name}).",
    )
    return f"a test of each version went to {office}, with a summary"
