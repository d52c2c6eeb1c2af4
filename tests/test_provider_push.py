"""What every push shares, against real local HTTP servers shaped like each provider:
one lock across routes, no blind retry of a request that may have acted, 429 waits,
schedules checked before anything, one summary and its exit code.

Duplicates are counted from what the fake API accepted, per address, after a faulty run
and a normal rerun.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx
import pytest

from chairside.providers.http import retry_wait
from tests.support import DROP, HttpRecorder, acted_then, assert_user_error

SENDGRID_KEY = "SG.test-key"
MAILGUN_KEY = "key-test-0123456789"
DOMAIN = "mg.harbor.example"
DEMO_SENDABLE = 31


class Fake:
    """SendGrid's /v3/mail/send and Mailgun's messages on one local server; `accepted`
    holds every address each one took (a 5xx after acting still counts: it was taken)."""

    def __init__(self, server: HttpRecorder) -> None:
        self.server = server
        self.accepted: Counter[str] = Counter()
        self.bodies: list[dict] = []
        self.sendgrid = self.take_sendgrid
        self.mailgun = self.take_mailgun
        server.route("POST", r"/v3/mail/send", lambda r: self.sendgrid(r))
        server.route("POST", rf"/v3/{DOMAIN}/messages", lambda r: self.mailgun(r))

    def take_sendgrid(self, request):
        body = request.json()
        assert {"personalizations", "from", "subject", "content"} <= set(body)
        self.bodies.append(body)
        self.accepted.update(p["to"][0]["email"] for p in body["personalizations"])
        return 202, b""

    def take_mailgun(self, request):
        form = request.form()
        assert request.headers["content-type"].startswith("multipart/form-data")
        self.bodies.append(form)
        self.accepted.update(form["to"])
        return 200, {"id": f"<{len(self.bodies)}@{DOMAIN}>", "message": "Queued. Thank you."}


@pytest.fixture
def fake(http_server, monkeypatch, tmp_workspace) -> Fake:
    monkeypatch.setenv("SENDGRID_API_KEY", SENDGRID_KEY)
    monkeypatch.setenv("MAILGUN_API_KEY", MAILGUN_KEY)
    for name in ("MAILGUN_DOMAIN", "CHAIRSIDE_SENDGRID_API_BASE", "CHAIRSIDE_MAILGUN_API_BASE"):
        monkeypatch.delenv(name, raising=False)
    add_settings(tmp_workspace, "sendgrid", "baa = true")
    add_settings(tmp_workspace, "mailgun", f'baa = true\ndomain = "{DOMAIN}"')
    return Fake(http_server)


def add_settings(root: Path, provider: str, text: str) -> None:
    practice = root / "practice.toml"
    before = practice.read_text(encoding="utf-8")
    header = f"[providers.{provider}]\n"
    if header in before:
        practice.write_text(before.replace(header, header + text + "\n"), encoding="utf-8")
    else:
        practice.write_text(before + f"\n{header}{text}\n", encoding="utf-8")


def push(run, root: Path, server: HttpRecorder, provider: str, *args: str):
    return run(
        "export", "2026-12", "--to", provider, "--push", "--api-base", server.url,
        "--retry-delay", "0", *args, cwd=root,
    )  # fmt: skip


def status(run, root: Path) -> dict:
    result = run("status", "2026-12", "--json", "--show", cwd=root)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


# -- a provider that acts, then answers 5xx or vanishes ----------------------------------------
@pytest.mark.parametrize(
    ("provider", "reply"),
    [("sendgrid", (502, {"errors": [{"message": "Bad Gateway"}]})), ("sendgrid", DROP),
     ("mailgun", (503, b"Service Unavailable")), ("mailgun", DROP)],
)  # fmt: skip
def test_a_batch_the_provider_took_before_failing_is_never_sent_twice(
    tmp_workspace, fake, run, provider, reply
):
    taken = {"sendgrid": fake.take_sendgrid, "mailgun": fake.take_mailgun}[provider]
    calls = []

    def flaky(request):
        calls.append(request)
        return acted_then(taken, reply)(request) if len(calls) == 2 else taken(request)

    setattr(fake, provider, flaky)
    first = push(run, tmp_workspace, fake.server, provider)
    assert_user_error(first, "--resend-unknown", "Run the same command again")
    in_doubt = len(fake.bodies[1]["personalizations" if provider == "sendgrid" else "to"])
    assert f"{in_doubt} unknown" in first.output  # the summary, before the error
    assert len(calls) == 2  # stopped at the batch in doubt: never repeated

    again = push(run, tmp_workspace, fake.server, provider)
    assert again.exit_code == 3, again.output  # ran to its end, some in doubt
    assert f"unknown: {in_doubt} may or may not have been handed over" in again.output
    assert max(fake.accepted.values()) == 1  # 0 duplicates
    assert sum(fake.accepted.values()) == DEMO_SENDABLE  # 0 lost
    found = status(run, tmp_workspace)
    assert len(found["unknown"]) == in_doubt and found["pending"] == 0


def test_a_connection_refused_is_retried_because_nothing_left(tmp_workspace, fake, run):
    result = run(
        "export", "2026-12", "--to", "sendgrid", "--push", "--api-base", "http://127.0.0.1:9",
        "--retry-delay", "0", cwd=tmp_workspace,
    )  # fmt: skip
    assert_user_error(result, "cannot reach SendGrid", "run the same command again")
    assert "0 unknown, 31 pending" in result.output
    assert status(run, tmp_workspace)["unknown"] == []


def test_a_read_is_retried_after_a_5xx(tmp_workspace, http_server, run, monkeypatch):
    from tests.test_provider_mailchimp import LIST, FakeMailchimp

    monkeypatch.setenv("MAILCHIMP_API_KEY", "0123456789abcdef-us6")
    add_settings(tmp_workspace, "mailchimp", f'baa = true\naudience_id = "{LIST}"')
    mailchimp = FakeMailchimp(http_server)
    failed = []

    def busy_once(request):
        failed.append(request)
        return (503, {"title": "busy"}) if len(failed) == 1 else mailchimp.tag_search(request)

    http_server.route("GET", f"/3.0/lists/{LIST}/tag-search", busy_once)
    http_server.routes.insert(0, http_server.routes.pop())
    result = run(
        "export", "2026-12", "--to", "mailchimp", "--push", "--api-base", http_server.url,
        "--retry-delay", "0", cwd=tmp_workspace,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert len(failed) == 4 and len(mailchimp.campaigns) == 3


# -- 429 ----------------------------------------------------------------------------------------
def test_429_waits_as_each_provider_says():
    now = 1_800_000_000.0

    def answer(headers=None, body=None):
        return httpx.Response(429, headers=headers or {}, json=body)

    assert retry_wait(answer({"Retry-After": "7"}), now=now) == 7
    date = "Fri, 15 Jan 2027 08:00:10 GMT"
    expected = parsedate_to_datetime(date).timestamp() - now
    assert retry_wait(answer({"Retry-After": date}), now=now) == pytest.approx(expected)
    assert retry_wait(answer({"X-RateLimit-Reset": str(int(now) + 12)}), now=now) == 12
    assert retry_wait(answer(body={"retry-seconds": 60}), now=now) == 60  # Mailgun
    assert retry_wait(answer(body={"message": "slow down"}), now=now) is None


def test_a_429_longer_than_the_bounded_wait_stops_with_everyone_pending(tmp_workspace, fake, run):
    fake.server.fail_next.append(
        (429, {"errors": [{"message": "limit"}]}, {"Retry-After": "86400"})
    )
    started = time.monotonic()
    result = push(run, tmp_workspace, fake.server, "sendgrid")
    assert time.monotonic() - started < 10  # does not sleep a day
    assert_user_error(result, "429", "waits at most", "Run the same command again later")
    assert "0 patients handed over" in result.output and "31 pending" in result.output
    assert fake.accepted == Counter()
    again = push(run, tmp_workspace, fake.server, "sendgrid")
    assert again.exit_code == 0, again.output
    assert sum(fake.accepted.values()) == DEMO_SENDABLE


def test_sendgrid_rate_limit_reset_is_honoured(tmp_workspace, fake, run):
    reset = str(int(time.time()) + 1)
    fake.server.fail_next.append(
        (429, {"errors": [{"message": "limit"}]}, {"X-RateLimit-Reset": reset})
    )
    result = push(run, tmp_workspace, fake.server, "sendgrid")
    assert result.exit_code == 0, result.output
    first, second = fake.server.requests[:2]
    assert first.body == second.body and max(fake.accepted.values()) == 1


def test_403_shows_the_providers_reason(tmp_workspace, fake, run):
    reason = "access forbidden: this key lacks mail.send"
    fake.server.fail_next.append((403, {"errors": [{"field": None, "message": reason}]}))
    result = push(run, tmp_workspace, fake.server, "sendgrid")
    assert_user_error(result, "403", reason, "SENDGRID_API_KEY")
    assert SENDGRID_KEY not in result.output
    assert "31 pending" in result.output


# -- one lock across routes -------------------------------------------------------------------
def test_a_push_in_progress_refuses_a_second_push_and_a_send(tmp_workspace, fake, run):
    release = threading.Event()
    arrived = threading.Event()

    def slow(request):
        arrived.set()
        release.wait(30)
        return fake.take_sendgrid(request)

    fake.sendgrid = slow
    process = subprocess.Popen(
        [sys.executable, "-m", "chairside", "-C", str(tmp_workspace), "export", "2026-12",
         "--to", "sendgrid", "--push", "--api-base", fake.server.url],
        env={**os.environ, "SENDGRID_API_KEY": SENDGRID_KEY},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert arrived.wait(30), process.stderr.read() if process.poll() is not None else ""
        second = push(run, tmp_workspace, fake.server, "mailgun")
        assert_user_error(second, "already being delivered by", "export --push sendgrid")
        send = run("send", "2026-12", cwd=tmp_workspace)
        assert_user_error(send, "already being delivered by", "export --push sendgrid")
    finally:
        release.set()
        out, err = process.communicate(timeout=60)
    assert process.returncode == 0, out + err
    assert max(fake.accepted.values()) == 1 and sum(fake.accepted.values()) == DEMO_SENDABLE
    assert [r.path for r in fake.server.requests] == ["/v3/mail/send"] * 3


# -- schedules --------------------------------------------------------------------------------
def later(**delta) -> datetime:
    return (datetime.now(UTC) + timedelta(**delta)).replace(microsecond=0)


def test_sendgrid_schedules_with_send_at(tmp_workspace, fake, run):
    when = later(hours=30).astimezone(datetime.now().astimezone().tzinfo)
    result = push(run, tmp_workspace, fake.server, "sendgrid", "--schedule", when.isoformat())
    assert result.exit_code == 0, result.output
    assert {body["send_at"] for body in fake.bodies} == {int(when.timestamp())}
    assert all(isinstance(body["send_at"], int) for body in fake.bodies)


def test_mailgun_schedules_with_an_rfc_2822_delivery_time(tmp_workspace, fake, run):
    when = later(days=2)
    result = push(run, tmp_workspace, fake.server, "mailgun", "--schedule", when.isoformat())
    assert result.exit_code == 0, result.output
    times = {form["o:deliverytime"][0] for form in fake.bodies}
    assert len(times) == 1
    assert parsedate_to_datetime(times.pop()) == when


@pytest.mark.parametrize(
    ("provider", "delta", "setting", "message"),
    [
        ("sendgrid", {"hours": 73}, "", "at most 72 hours"),
        ("mailgun", {"days": 4}, "", "at most 3 days"),
        ("mailgun", {"days": 8}, "schedule_days = 7", "at most 7 days"),
        ("mailgun", {"days": 1}, "schedule_days = 30", "from 1 to 7"),
        ("sendgrid", {"minutes": -10}, "", "in the past"),
    ],
)
def test_a_schedule_outside_the_providers_window_is_refused_first(
    tmp_workspace, fake, run, provider, delta, setting, message
):
    if setting:
        add_settings(tmp_workspace, provider, setting)
    result = push(
        run, tmp_workspace, fake.server, provider, "--schedule", later(**delta).isoformat()
    )
    assert_user_error(result, message)
    assert fake.server.requests == []
    assert status(run, tmp_workspace)["sent"] == 0


def test_mailgun_schedule_days_allows_a_week(tmp_workspace, fake, run):
    add_settings(tmp_workspace, "mailgun", "schedule_days = 7")
    result = push(
        run, tmp_workspace, fake.server, "mailgun", "--schedule", later(days=6).isoformat()
    )
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("destination", ["eml", "mbox", "mailchimp"])
def test_files_cannot_be_scheduled(tmp_workspace, tmp_path, run, destination):
    out = tmp_path / "out"
    result = run(
        "export", "2026-12", "--to", destination, "--out", str(out),
        "--schedule", later(hours=5).isoformat(), cwd=tmp_workspace,
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    expected = "--schedule needs --push" if destination == "mailchimp" else "cannot schedule"
    assert expected in result.output
    assert not out.exists()


def test_a_resumed_scheduled_push_keeps_its_time(tmp_workspace, fake, run):
    when = later(hours=20).isoformat()
    calls = []

    def stop_second(request):
        calls.append(1)
        if len(calls) == 2:
            return 400, {
                "errors": [{"message": "The from address is not verified.", "field": "from"}]
            }
        return fake.take_sendgrid(request)

    fake.sendgrid = stop_second
    first = push(run, tmp_workspace, fake.server, "sendgrid", "--schedule", when)
    assert_user_error(first, "not verified")
    handed = sum(fake.accepted.values())
    now = push(run, tmp_workspace, fake.server, "sendgrid")
    assert_user_error(
        now, "Earlier batches", f"--schedule {datetime.fromisoformat(when).isoformat()}"
    )
    assert sum(fake.accepted.values()) == handed  # nobody sent at once meanwhile
    resumed = push(run, tmp_workspace, fake.server, "sendgrid", "--schedule", when)
    assert resumed.exit_code == 0, resumed.output
    assert {b["send_at"] for b in fake.bodies} == {int(datetime.fromisoformat(when).timestamp())}


# -- SendGrid's unsubscribe group -------------------------------------------------------------
def test_sendgrid_unsubscribe_group_is_sent_as_asm(tmp_workspace, fake, run):
    add_settings(tmp_workspace, "sendgrid", "unsubscribe_group = 4242")
    result = push(run, tmp_workspace, fake.server, "sendgrid")
    assert result.exit_code == 0, result.output
    assert [b["asm"] for b in fake.bodies] == [{"group_id": 4242}] * 3


@pytest.mark.parametrize("value", ['"newsletter"', "4.5", "true", "-3"])
def test_a_bad_unsubscribe_group_is_refused_before_any_request(tmp_workspace, fake, run, value):
    add_settings(tmp_workspace, "sendgrid", f"unsubscribe_group = {value}")
    result = push(run, tmp_workspace, fake.server, "sendgrid")
    assert_user_error(result, "unsubscribe_group", "whole number")
    assert fake.server.requests == []
