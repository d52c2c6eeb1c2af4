"""The month on autopilot: `new --next`, `approve`, `schedule` and `due`, run as a user
runs them, against a real SMTP server, with CHAIRSIDE_NOW standing in for the clock."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from chairside.autopilot.status import read_status
from chairside.workspace import find_workspace
from tests.conftest import free_port
from tests.support import SmtpRecorder, write_patients
from tests.test_send import wait_for


def messages(recorder: SmtpRecorder) -> list:
    """Every message the server took, parsed."""
    from email import message_from_bytes

    return [message_from_bytes(data) for _, data in recorder.received]


FEED_ITEM = """<item><title>{title}</title><link>https://harborlanedental.example.com/blog/{slug}/</link>
<pubDate>{date}</pubDate><description>{body}</description></item>"""


def feed(items: list[tuple[str, str, str]]) -> str:
    """An RSS feed: (title, RFC 822 date, body) per post."""
    rendered = "".join(
        FEED_ITEM.format(
            title=title, slug=title.lower().replace(" ", "-"), date=when, body=f"<p>{body}</p>"
        )
        for title, when, body in items
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Harbor Lane blog</title>'
        f"<link>https://harborlanedental.example.com/</link>{rendered}</channel></rss>"
    )


BEFORE = [
    (
        "Our autumn food drive",
        "Mon, 16 Nov 2026 09:00:00 GMT",
        "Thank you to every family who brought cans to the office for the food bank. "
        "We filled eleven boxes this year, a record for the practice.",
    )
]
AFTER = [
    (
        "Meet our new hygienist Rosa",
        "Tue, 15 Dec 2026 09:00:00 GMT",
        "Rosa joins the team after eight years of caring for patients in Port Alder. "
        "She loves gentle cleanings and talking about gardening.",
    ),
    (
        "Why your jaw aches in the morning",
        "Thu, 17 Dec 2026 09:00:00 GMT",
        "A sore jaw when you wake up often comes from clenching or grinding at night. "
        "Jaw pain, clicking and headaches at the temples are common signs of TMJ strain.",
    ),
]


def set_now(monkeypatch, when: str) -> None:
    monkeypatch.setenv("CHAIRSIDE_NOW", when)


def practice(root: Path, port: int, feed_path: Path | None = None) -> None:
    path = root / "practice.toml"
    text = path.read_text().replace("port = 1025", f"port = {port}")
    text += '\n[schedule]\ntimezone = "America/Los_Angeles"\n'
    if feed_path is not None:
        text += f'\n[feed]\nurl = "{feed_path}"\n'
    path.write_text(text)


@pytest.fixture
def month(tmp_workspace: Path, smtp_server, monkeypatch) -> tuple[Path, object]:
    """The demo practice with a few consenting patients, sending to a real SMTP server."""
    recorder, port = smtp_server
    practice(tmp_workspace, port)
    write_patients(
        tmp_workspace / "audiences/patients.csv", [f"p{n}@example.com" for n in range(6)]
    )
    set_now(monkeypatch, "2026-12-20T10:00:00-08:00")
    return tmp_workspace, recorder


def due_process(root: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [sys.executable, "-m", "chairside", "-C", str(root), "due"]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)


def kill_due_mid_send(root: Path, recorder: SmtpRecorder) -> None:
    """`chairside due` killed (kill -9) while the server holds its first patient's reply:
    that message was taken, no answer came back."""
    recorder.hold_after(0)
    first = due_process(root)
    wait_for(lambda: recorder.held >= 1)
    first.kill()
    first.wait(30)
    wait_for(lambda: recorder.open_connections() == 0)  # all it sent has been taken
    recorder.release()


def patients_sent(recorder) -> list[str]:
    return [r for r in recorder.recipients() if r.startswith("p")]


def test_approve_needs_a_test_since_the_last_change(month, run) -> None:
    root, _ = month
    refused = run("approve", "2026-12", cwd=root)
    assert refused.exit_code == 1 and "has not been tested" in refused.output
    assert run("send", "2026-12", "--test", "office@example.com", cwd=root).exit_code == 0
    approved = run("approve", "2026-12", "--by", "Dana", cwd=root)
    assert approved.exit_code == 0, approved.output
    status = read_status(find_workspace(root), "2026-12")
    assert status.approved_by == "Dana" and status.approved_at.startswith("2026-12-20T10:00")

    # A change to a post voids it, by content: putting the text back restores it.
    post = root / "campaigns/2026-12/posts/holiday-hours.md"
    original = post.read_text()
    post.write_text(original + "\nWe are closed on 1 January.\n")
    listed = run("schedule", cwd=root)
    assert listed.exit_code == 0
    assert run("approve", "2026-12", cwd=root).output.count("changed since its last test") == 1
    post.write_text(original)
    from chairside.autopilot.month import stage

    assert stage(find_workspace(root), "2026-12").word == "approved"


def test_a_change_to_the_mail_server_does_not_void_the_approval(month, run) -> None:
    root, _ = month
    run("send", "2026-12", "--test", "office@example.com", cwd=root)
    assert run("approve", "2026-12", cwd=root).exit_code == 0
    path = root / "practice.toml"
    path.write_text(path.read_text().replace('security = "none"', 'security = "none"  # local'))
    from chairside.autopilot.month import stage

    assert stage(find_workspace(root), "2026-12").word == "approved"
    path.write_text(path.read_text().replace('name = "Harbor Lane Dental"', 'name = "Harbor L"'))
    assert stage(find_workspace(root), "2026-12").word == "drafted"


def test_schedule_refuses_the_past_and_an_ambiguous_hour(month, run) -> None:
    root, _ = month
    past = run("schedule", "2026-12", "--at", "2026-12-01 09:00", cwd=root)
    assert past.exit_code == 1 and "already passed" in past.output
    # 1:30 on 7 November 2027 happens twice in Los Angeles (the clocks go back).
    twice = run("schedule", "2026-12", "--at", "2027-11-07 01:30", cwd=root)
    assert twice.exit_code == 1 and "happens twice" in twice.output
    assert "-07:00" in twice.output and "-08:00" in twice.output
    gap = run("schedule", "2026-12", "--at", "2027-03-14 02:30", cwd=root)
    assert gap.exit_code == 1 and "does not exist" in gap.output
    garbage = run("schedule", "2026-12", "--at", "next tuesday", cwd=root)
    assert garbage.exit_code == 1 and "2027-01-05 09:00" in garbage.output
    chosen = run("schedule", "2026-12", "--at", "2027-11-07 01:30-08:00", cwd=root)
    assert chosen.exit_code == 0, chosen.output
    ok = run("schedule", "2026-12", "--at", "2027-01-05 09:00", cwd=root)
    assert ok.exit_code == 0 and "once approved" in ok.output
    stored = read_status(find_workspace(root), "2026-12")
    assert stored.scheduled_at == "2027-01-05T09:00-08:00" and stored.route == "smtp"


def test_due_sends_an_approved_campaign_once_at_its_time(month, run, monkeypatch) -> None:
    root, recorder = month
    run("send", "2026-12", "--test", "office@example.com", cwd=root)
    assert run("approve", "2026-12", cwd=root).exit_code == 0
    assert run("schedule", "2026-12", "--at", "2026-12-21 09:00", cwd=root).exit_code == 0

    before = run("due", cwd=root)
    assert before.exit_code == 0 and "waiting" in before.output
    assert patients_sent(recorder) == []

    set_now(monkeypatch, "2026-12-21T09:05:00-08:00")
    at_time = run("due", cwd=root)
    assert at_time.exit_code == 0, at_time.output
    assert "sent" in at_time.output
    assert sorted(patients_sent(recorder)) == [f"p{n}@example.com" for n in range(6)]

    set_now(monkeypatch, "2026-12-21T09:20:00-08:00")
    again = run("due", cwd=root)
    assert again.exit_code == 0 and again.output == ""
    assert len(patients_sent(recorder)) == 6
    assert read_status(find_workspace(root), "2026-12").done_at


def test_due_holds_an_unapproved_campaign_and_tells_the_office_once(month, run, monkeypatch):
    root, recorder = month
    assert run("schedule", "2026-12", "--at", "2026-12-21 09:00", cwd=root).exit_code == 0
    set_now(monkeypatch, "2026-12-21T09:01:00-08:00")
    held = run("due", cwd=root)
    assert held.exit_code == 1 and "nobody has approved it" in held.output
    assert patients_sent(recorder) == []
    office = [m for m in messages(recorder) if "was not sent" in m["Subject"]]
    assert len(office) == 1 and office[0]["To"] == "frontdesk@harborlanedental.example.com"

    set_now(monkeypatch, "2026-12-21T09:16:00-08:00")
    run("due", cwd=root)
    assert len([m for m in messages(recorder) if "was not sent" in m["Subject"]]) == 1
    from chairside.autopilot.month import stage

    assert stage(find_workspace(root), "2026-12").word == "held"


def test_due_holds_when_the_checks_now_fail(month, run, monkeypatch) -> None:
    root, recorder = month
    run("send", "2026-12", "--test", "office@example.com", cwd=root)
    run("approve", "2026-12", cwd=root)
    run("schedule", "2026-12", "--at", "2026-12-21 09:00", cwd=root)
    # After approval the patient list is replaced by an export without its consent column:
    # `due` must not guess who agreed to be emailed.
    (root / "audiences/patients.csv").write_text("Email,First Name\np9@example.com,Pat\n")
    set_now(monkeypatch, "2026-12-21T09:01:00-08:00")
    held = run("due", cwd=root)
    assert held.exit_code == 1, held.output
    assert "held" in held.output and "consent" in held.output.lower()
    assert read_status(find_workspace(root), "2026-12").held_reason
    assert patients_sent(recorder) == []


def test_a_computer_that_was_off_sends_within_the_window_and_not_after(month, run, monkeypatch):
    root, recorder = month
    run("send", "2026-12", "--test", "office@example.com", cwd=root)
    run("approve", "2026-12", cwd=root)
    run("schedule", "2026-12", "--at", "2026-12-21 09:00", "--window", "24", cwd=root)
    set_now(monkeypatch, "2026-12-22T10:00:00-08:00")  # 25 hours late
    late = run("due", cwd=root)
    assert late.exit_code == 1 and "waits for a person" in late.output
    assert patients_sent(recorder) == []

    run("schedule", "2026-12", "--at", "2026-12-22 10:30", cwd=root)
    set_now(monkeypatch, "2026-12-22T20:00:00-08:00")  # 9.5 hours late: within 24
    sent = run("due", cwd=root)
    assert sent.exit_code == 0, sent.output
    assert len(patients_sent(recorder)) == 6


def test_two_due_at_once_send_each_patient_once(month, run, monkeypatch) -> None:
    """Two `due` processes at once against a server that holds the first message's reply
    until both have started: the second finds the campaign locked (or already sent)."""
    root, recorder = month
    run("send", "2026-12", "--test", "office@example.com", cwd=root)
    run("approve", "2026-12", cwd=root)
    run("schedule", "2026-12", "--at", "2026-12-21 09:00", cwd=root)
    set_now(monkeypatch, "2026-12-21T09:01:00-08:00")
    recorder.hold_after(0)  # the first due's first message waits until both have run
    first = due_process(root)
    wait_for(lambda: recorder.held >= 1)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [sys.executable, "-m", "chairside", "-C", str(root), "due"]
    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    recorder.release()
    out, _ = first.communicate(timeout=120)
    assert "busy" in second.stdout, second.stdout + second.stderr
    assert sorted(patients_sent(recorder)) == [f"p{n}@example.com" for n in range(6)]
    assert "sent" in out


def test_new_next_drafts_from_the_posts_since_the_last_campaign(
    tmp_workspace: Path, smtp_server, run, monkeypatch
) -> None:
    recorder, port = smtp_server
    feed_path = tmp_workspace.parent / "feed.xml"
    feed_path.write_text(feed(BEFORE + AFTER))
    practice(tmp_workspace, port, feed_path)
    write_patients(tmp_workspace / "audiences/patients.csv", ["p1@example.com"])
    # December went out on 1 December 2026.
    set_now(monkeypatch, "2026-12-01T09:00:00-08:00")
    assert run("send", "2026-12", "--force", cwd=tmp_workspace).exit_code in (0, 3)
    set_now(monkeypatch, "2026-12-28T09:00:00-08:00")

    result = run("new", "--next", cwd=tmp_workspace)
    assert result.exit_code == 0, result.output
    assert "campaigns/2027-01" in result.output
    data = tomllib.loads((tmp_workspace / "campaigns/2027-01/campaign.toml").read_text())
    files = [p["file"] for p in data["posts"]]
    assert any("rosa" in f for f in files) and any("jaw" in f for f in files)
    assert not any("food-drive" in f for f in files)  # published before December went out
    # Copy from the posts, never naming a concern where it leaves the practice.
    assert data["subject"] == "Meet our new hygienist Rosa"
    assert "jaw" not in data["subject"].lower() and "jaw" not in data["preheader"].lower()
    assert "Rosa" in data["intro"]
    check = run("check", "2027-01", cwd=tmp_workspace)
    assert "default-copy" not in check.output and "concern-named" not in check.output
    # The office got a test of each version and a summary; the test counts for approval.
    assert any("[TEST" in m["Subject"] for m in messages(recorder))
    assert any("ready for your approval" in m["Subject"] for m in messages(recorder))
    assert read_status(find_workspace(tmp_workspace), "2027-01").tested_at

    again = run("new", "--next", cwd=tmp_workspace)
    assert again.exit_code == 0 and "nothing was created" in again.output


def test_new_next_with_no_new_post_creates_nothing(
    tmp_workspace: Path, smtp_server, run, monkeypatch
) -> None:
    _, port = smtp_server
    feed_path = tmp_workspace.parent / "feed.xml"
    feed_path.write_text(feed(BEFORE))
    practice(tmp_workspace, port, feed_path)
    set_now(monkeypatch, "2026-12-28T09:00:00-08:00")
    result = run("new", "--next", cwd=tmp_workspace)
    assert result.exit_code == 0 and "No new post" in result.output
    assert not (tmp_workspace / "campaigns/2027-01").exists()


def test_new_next_without_a_feed_says_where_to_set_it(tmp_workspace: Path, run) -> None:
    result = run("new", "--next", cwd=tmp_workspace)
    assert result.exit_code == 1 and "[feed]" in result.output


def test_chairside_now_must_carry_its_offset(tmp_workspace: Path, run, monkeypatch) -> None:
    monkeypatch.setenv("CHAIRSIDE_NOW", "2027-01-05 09:00")
    result = run("schedule", "2026-12", "--at", "2027-01-06 09:00", cwd=tmp_workspace)
    assert result.exit_code == 1 and "with its offset" in result.output


def test_install_print_on_linux_names_due_every_15_minutes(tmp_workspace, run, monkeypatch):
    for scheduler, needle in (("cron", "*/15 * * * *"), ("systemd", "OnCalendar=*:0/15")):
        monkeypatch.setenv("CHAIRSIDE_SCHEDULER", scheduler)
        result = run("schedule", "--install", "--print", cwd=tmp_workspace)
        assert result.exit_code == 0, result.output
        assert needle in result.output and " due" in result.output
        assert str(tmp_workspace.resolve()) in result.output


def test_install_and_uninstall_with_cron(tmp_workspace: Path, run, monkeypatch) -> None:
    """The real `crontab` command is replaced by one that keeps the table in a file."""
    bin_dir = tmp_workspace.parent / "bin"
    bin_dir.mkdir()
    table = tmp_workspace.parent / "crontab.txt"
    fake = bin_dir / "crontab"
    fake.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = "-l" ]; then [ -f {table} ] && cat {table} && exit 0; '
        'echo "no crontab for user" >&2; exit 1; fi\n'
        f"cat > {table}\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("CHAIRSIDE_SCHEDULER", "cron")
    table.write_text("0 3 * * * backup.sh\n")
    assert run("schedule", "--install", cwd=tmp_workspace).exit_code == 0
    assert run("schedule", "--install", cwd=tmp_workspace).exit_code == 0  # not twice
    lines = table.read_text().splitlines()
    assert lines[0] == "0 3 * * * backup.sh" and len(lines) == 2 and " due " in lines[1]
    removed = run("schedule", "--uninstall", cwd=tmp_workspace)
    assert removed.exit_code == 0 and "Removed" in removed.output
    assert table.read_text().splitlines() == ["0 3 * * * backup.sh"]


def test_cancel(month, run) -> None:
    root, _ = month
    run("schedule", "2026-12", "--at", "2027-01-05 09:00", cwd=root)
    assert "off the schedule" in run("schedule", "2026-12", "--cancel", cwd=root).output
    assert "Nothing is scheduled" in run("schedule", cwd=root).output
    assert "was not scheduled" in run("schedule", "2026-12", "--cancel", cwd=root).output


def test_the_studio_tests_approves_and_schedules_a_campaign(month, monkeypatch) -> None:
    """The office's month in the studio: a test from the Send page, then Approve and
    Schedule on the campaign's own page; errors beside their field, in the page's words."""
    from tests.support import StudioServer, csrf_of

    root, recorder = month
    server = StudioServer(root)
    try:
        client = server.client()
        page = client.get("/c/2026-12/month").text
        assert "drafted" in page
        refused = client.post(
            "/c/2026-12/month/approve", data={"csrf": csrf_of(page), "by": "Dana"}
        )
        assert refused.status_code == 400
        assert 'id="approve-error"' in refused.text and "Send page" in refused.text
        assert "chairside approve" not in refused.text and "--" not in refused.text

        send_page = client.get("/c/2026-12/send").text
        tested = client.post(
            "/c/2026-12/send/test",
            data={"csrf": csrf_of(send_page), "address": "office@example.com"},
        )
        assert tested.status_code == 200
        page = client.get("/c/2026-12/month").text
        assert "tested" in page
        approved = client.post(
            "/c/2026-12/month/approve", data={"csrf": csrf_of(page), "by": "Dana"}
        )
        assert approved.status_code == 303
        page = client.get("/c/2026-12/month").text
        assert "Approved by Dana" in page

        past = client.post(
            "/c/2026-12/month/schedule",
            data={"csrf": csrf_of(page), "day": "2026-12-01", "time": "09:00", "route": "smtp"},
        )
        assert past.status_code == 400 and 'id="schedule-error"' in past.text
        assert "already passed" in past.text
        ok = client.post(
            "/c/2026-12/month/schedule",
            data={"csrf": csrf_of(page), "day": "2026-12-21", "time": "09:00", "route": "smtp"},
        )
        assert ok.status_code == 303
        listing = client.get("/").text
        assert "scheduled" in listing and "Monday 21 December 2026, 09:00" in listing
    finally:
        server.close()
    assert patients_sent(recorder) == []


def test_a_day_before_an_unapproved_campaign_the_office_gets_a_fresh_test_once(
    month, run, monkeypatch
) -> None:
    root, recorder = month
    run("schedule", "2026-12", "--at", "2026-12-22 09:00", cwd=root)
    set_now(monkeypatch, "2026-12-21T10:00:00-08:00")  # 23 hours before
    reminded = run("due", cwd=root)
    assert reminded.exit_code == 0 and "reminded" in reminded.output
    tests = [m for m in messages(recorder) if m["Subject"].startswith("[TEST")]
    summaries = [m for m in messages(recorder) if "ready for your approval" in m["Subject"]]
    assert tests and len(summaries) == 1
    body = summaries[0].get_payload()
    assert "patients" in body and "Tuesday 22 December 2026, 09:00" in body
    assert "Approve" in body
    assert patients_sent(recorder) == []
    run("due", cwd=root)
    assert len([m for m in messages(recorder) if "ready for your" in m["Subject"]]) == 1
    # The test it sent counts: the office can approve without sending another.
    assert run("approve", "2026-12", cwd=root).exit_code == 0


def test_due_killed_mid_send_resumes_without_sending_anyone_twice(month, run, monkeypatch):
    """kill -9 while the server holds the first patient's reply: that patient is in doubt
    (not resent, the office told), everyone else goes at the next run, once."""
    root, recorder = month
    run("send", "2026-12", "--test", "office@example.com", cwd=root)
    run("approve", "2026-12", cwd=root)
    run("schedule", "2026-12", "--at", "2026-12-21 09:00", cwd=root)
    set_now(monkeypatch, "2026-12-21T09:01:00-08:00")
    kill_due_mid_send(root, recorder)
    taken = set(patients_sent(recorder))
    assert read_status(find_workspace(root), "2026-12").started_at

    set_now(monkeypatch, "2026-12-21T09:16:00-08:00")
    resumed = run("due", cwd=root)
    assert resumed.exit_code == 0, resumed.output
    everyone = patients_sent(recorder)
    assert len(everyone) == len(set(everyone)), "someone got it twice"
    assert set(everyone) >= taken
    assert any("in doubt" in m["Subject"] for m in messages(recorder))
    assert read_status(find_workspace(root), "2026-12").done_at


def test_a_campaign_deleted_after_it_was_scheduled_sends_nothing(month, run, monkeypatch):
    root, recorder = month
    run("schedule", "2026-12", "--at", "2026-12-21 09:00", cwd=root)
    (root / "campaigns/2026-12/campaign.toml").unlink()
    set_now(monkeypatch, "2026-12-21T09:01:00-08:00")
    result = run("due", cwd=root)
    assert "Traceback" not in result.output and patients_sent(recorder) == []


def test_due_on_a_new_computer_holds_a_half_sent_campaign_for_a_person(
    month, run, monkeypatch, tmp_path
):
    """The folder moved to a new computer mid-send: `due` never decides on its own that
    this copy is the latest; it holds the campaign, tells the office, and sends nobody."""
    root, recorder = month
    run("send", "2026-12", "--test", "office@example.com", cwd=root)
    run("approve", "2026-12", cwd=root)
    run("schedule", "2026-12", "--at", "2026-12-21 09:00", cwd=root)
    set_now(monkeypatch, "2026-12-21T09:01:00-08:00")
    kill_due_mid_send(root, recorder)
    sent = len(patients_sent(recorder))
    monkeypatch.setenv("CHAIRSIDE_STATE_HOME", str(tmp_path / "new-computer-state"))
    set_now(monkeypatch, "2026-12-21T09:16:00-08:00")
    held = run("due", cwd=root)
    assert held.exit_code == 1 and "held" in held.output
    assert "Send page" in held.output and "--continue-from-copy" not in held.output
    assert len(patients_sent(recorder)) == sent


def test_new_next_with_the_mail_server_down_drafts_and_says_no_test_went(
    tmp_workspace: Path, run, monkeypatch
) -> None:

    feed_path = tmp_workspace.parent / "feed.xml"
    feed_path.write_text(feed(AFTER))
    practice(tmp_workspace, free_port(), feed_path)  # nothing listens there
    set_now(monkeypatch, "2026-12-28T09:00:00-08:00")
    result = run("new", "--next", cwd=tmp_workspace)
    assert result.exit_code == 0, result.output
    assert "no test was sent" in result.output
    assert (tmp_workspace / "campaigns/2027-01/campaign.toml").is_file()
    assert not read_status(find_workspace(tmp_workspace), "2027-01").tested_at
