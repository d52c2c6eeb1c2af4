"""Mailchimp: the bundle parsed back, and pushes to a local server shaped like its API."""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.support import HttpRecorder, assert_user_error

KEY = "0123456789abcdef-us6"
LIST = "a1b2c3d4e5"
CONCERNS = ("tmj", "neck_shoulder", "jaw", "neck", "shoulder", "myofascial")


class FakeMailchimp:
    """The parts of Mailchimp's Marketing API Chairside uses, with their documented shapes."""

    def __init__(self, server: HttpRecorder) -> None:
        self.server = server
        self.members: Counter[str] = Counter()
        self.tags: dict[str, int] = {}
        self.campaigns: dict[str, dict] = {}
        self.reject: set[str] = set()
        server.route("POST", f"/lists/{LIST}", self.subscribe)
        server.route("GET", f"/lists/{LIST}/segments", self.segments)
        server.route("POST", f"/lists/{LIST}/segments", self.new_segment)
        server.route("POST", "/campaigns", self.new_campaign)
        server.route("PUT", r"/campaigns/(\w+)/content", self.content)
        server.route("POST", r"/campaigns/(\w+)/actions/schedule", self.schedule)

    def subscribe(self, request):
        body = request.json()
        assert set(body) == {"members", "update_existing"} and len(body["members"]) <= 500
        errors, added = [], []
        for member in body["members"]:
            assert set(member) == {"email_address", "status", "merge_fields", "tags"}
            assert member["status"] == "subscribed" and set(member["merge_fields"]) == {"FNAME"}
            if member["email_address"] in self.reject:
                errors.append(
                    {
                        "email_address": member["email_address"],
                        "error": "looks fake or invalid",
                        "error_code": "ERROR_GENERIC",
                    }
                )
                continue
            self.members[member["email_address"]] += 1
            for tag in member["tags"]:
                self.tags.setdefault(tag, 1000 + len(self.tags))
            added.append({"email_address": member["email_address"], "tags": member["tags"]})
        return 200, {
            "new_members": added,
            "updated_members": [],
            "errors": errors,
            "error_count": len(errors),
        }

    def segments(self, request):
        assert "type=static" in request.query
        return 200, {"segments": [{"id": i, "name": n} for n, i in self.tags.items()]}

    def new_segment(self, request):
        name = request.json()["name"]
        self.tags.setdefault(name, 1000 + len(self.tags))
        return 200, {"id": self.tags[name], "name": name}

    def new_campaign(self, request):
        body = request.json()
        assert body["type"] == "regular" and body["recipients"]["list_id"] == LIST
        campaign_id = f"c{len(self.campaigns) + 1}"
        self.campaigns[campaign_id] = {"create": body}
        return 200, {"id": campaign_id}

    def content(self, request):
        campaign_id = request.path.split("/")[2]
        self.campaigns[campaign_id]["content"] = request.json()
        return 200, {}

    def schedule(self, request):
        campaign_id = request.path.split("/")[2]
        self.campaigns[campaign_id]["schedule"] = request.json()["schedule_time"]
        return 204, b""


@pytest.fixture
def mailchimp(http_server, monkeypatch, tmp_workspace):
    monkeypatch.setenv("MAILCHIMP_API_KEY", KEY)
    practice = tmp_workspace / "practice.toml"
    practice.write_text(practice.read_text() + "\n[providers.mailchimp]\nbaa = true\n")
    return FakeMailchimp(http_server)


def push(run, root: Path, server: HttpRecorder, *args: str):
    return run(
        "export",
        "2026-12",
        "--to",
        "mailchimp",
        "--push",
        "--api-base",
        server.url,
        "--audience-id",
        LIST,
        "--retry-delay",
        "0",
        *args,
        cwd=root,
    )


def sendable(run, root: Path, *args: str) -> dict[str, str]:
    result = run("audience", "--json", "--show", *args, cwd=root)
    return {p["email"]: p["segment"] for p in json.loads(result.output)["patients"]}


def test_push_subscribes_everyone_once_and_drafts_a_campaign_per_tag(
    tmp_workspace, http_server, mailchimp, run
):
    result = push(run, tmp_workspace, http_server)
    assert result.exit_code == 0, result.output
    patients = sendable(run, tmp_workspace)
    assert mailchimp.members == Counter(set(patients))
    auth = base64.b64decode(http_server.requests[0].headers["authorization"].split()[1]).decode()
    assert auth.endswith(":" + KEY)
    assert set(mailchimp.tags) == {"2026-12-a", "2026-12-b", "2026-12-c"}
    assert len(mailchimp.campaigns) == 3
    for campaign in mailchimp.campaigns.values():
        create = campaign["create"]
        segment = create["recipients"]["segment_opts"]["saved_segment_id"]
        assert mailchimp.tags[create["settings"]["title"]] == segment
        assert "*|UNSUB|*" in campaign["content"]["html"]
        assert "*|FNAME|*" in campaign["content"]["plain_text"]
        assert "schedule" not in campaign  # drafts unless --schedule
        assert not any(c in json.dumps(create).lower() for c in CONCERNS)
    assert "is a draft in Mailchimp" in result.output
    again = push(run, tmp_workspace, http_server)
    assert again.exit_code == 0 and "0 patients handed over in 0 batches, 31 before" in again.output
    assert len(mailchimp.campaigns) == 3 and max(mailchimp.members.values()) == 1


def big_list(tmp_path: Path, count: int) -> Path:
    path = tmp_path / "big.csv"
    rows = ["Email,First Name,Concerns,Consent"]
    concerns = ["TMJ", "neck pain", ""]
    rows += [f"p{i}@example.com,P{i},{concerns[i % 3]},Y" for i in range(count)]
    path.write_text("\n".join(rows) + "\n")
    return path


def test_batches_of_at_most_500_and_an_interrupted_push_resumes(
    tmp_workspace, tmp_path, http_server, mailchimp, run
):
    audience = big_list(tmp_path, 1700)
    calls = []

    def fail_third(request):
        calls.append(len(request.json()["members"]))
        if len(calls) == 3:
            return 400, {"title": "Invalid Resource", "detail": "simulated failure"}
        return mailchimp.subscribe(request)

    http_server.routes.insert(0, ("POST", re.compile(f"/lists/{LIST}$"), fail_third))
    first = push(run, tmp_workspace, http_server, "--audience", str(audience))
    assert_user_error(first, "simulated failure")
    handed = sum(mailchimp.members.values())
    assert handed == sum(calls[:2])
    second = push(run, tmp_workspace, http_server, "--audience", str(audience))
    assert second.exit_code == 0, second.output
    assert max(calls) <= 500
    assert sum(mailchimp.members.values()) == 1700 and max(mailchimp.members.values()) == 1
    assert len(mailchimp.campaigns) == 3


def test_429_is_retried_after_the_wait_it_asks_for(tmp_workspace, http_server, mailchimp, run):
    http_server.fail_next.append((429, {"title": "Too Many Requests"}, {"Retry-After": "0"}))
    result = push(run, tmp_workspace, http_server)
    assert result.exit_code == 0, result.output
    assert len(mailchimp.members) == 31


def test_a_refused_key_names_the_variable(tmp_workspace, http_server, mailchimp, run):
    http_server.fail_next.append(
        (401, {"title": "API Key Invalid", "detail": "Your API key may be invalid"})
    )
    result = push(run, tmp_workspace, http_server)
    assert_user_error(result, "MAILCHIMP_API_KEY", "401")
    assert mailchimp.members == Counter()
    assert "pending" in run("status", "2026-12", "--json", cwd=tmp_workspace).output


def test_a_rejected_member_is_reported_not_hidden(tmp_workspace, http_server, mailchimp, run):
    mailchimp.reject.add("priya.raman@example.com")
    result = push(run, tmp_workspace, http_server)
    assert result.exit_code == 0
    assert "rejected by mailchimp: pr***@example.com: looks fake or invalid" in result.output
    status = json.loads(run("status", "2026-12", "--json", cwd=tmp_workspace).output)
    assert status["sent"] == 30 and status["failed"][0]["reason"] == "looks fake or invalid"


def test_schedule(tmp_workspace, http_server, mailchimp, run):
    result = push(run, tmp_workspace, http_server, "--schedule", "2026-12-01T15:00:00+00:00")
    assert result.exit_code == 0, result.output
    assert {c["schedule"] for c in mailchimp.campaigns.values()} == {"2026-12-01T15:00:00+00:00"}


def test_no_baa_no_push_unless_overridden(tmp_workspace, http_server, monkeypatch, run):
    monkeypatch.setenv("MAILCHIMP_API_KEY", KEY)
    FakeMailchimp(http_server)
    result = push(run, tmp_workspace, http_server)
    assert_user_error(result, "baa = true", "[providers.mailchimp]", "--without-baa")
    assert http_server.requests == []
    result = push(run, tmp_workspace, http_server, "--without-baa")
    assert result.exit_code == 0 and "warning" in result.output


def test_missing_settings_name_every_place_to_set_them(tmp_workspace, mailchimp, run, monkeypatch):
    monkeypatch.delenv("MAILCHIMP_AUDIENCE_ID", raising=False)
    result = run("export", "2026-12", "--to", "mailchimp", "--push", cwd=tmp_workspace)
    assert_user_error(
        result, "--audience-id", "audience_id under [providers.mailchimp]", "MAILCHIMP_AUDIENCE_ID"
    )
    monkeypatch.delenv("MAILCHIMP_API_KEY")
    result = run(
        "export", "2026-12", "--to", "mailchimp", "--push", "--audience-id", LIST, cwd=tmp_workspace
    )
    assert_user_error(result, "MAILCHIMP_API_KEY")


def test_concern_tags_are_opt_in(tmp_workspace, http_server, mailchimp, run):
    assert push(run, tmp_workspace, http_server, "--concern-tags").exit_code == 0
    assert set(mailchimp.tags) == {"2026-12-tmj", "2026-12-neck_shoulder", "2026-12-general"}


def test_bundle_parses_back_with_merge_tags_and_nothing_about_health(tmp_workspace, tmp_path, run):
    patients = tmp_path / "p.csv"
    patients.write_text(
        'Email,First Name,Concerns,Consent\nann@example.com,"=HYPERLINK(""x"")",TMJ,Y\n'
        "bo@example.com,Bo,,Y\n"
    )
    out = tmp_path / "bundle"
    result = run(
        "export",
        "2026-12",
        "--to",
        "mailchimp",
        "--out",
        str(out),
        "--audience",
        str(patients),
        cwd=tmp_workspace,
    )
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "2026-12-a.html",
        "2026-12-a.txt",
        "2026-12-b.html",
        "2026-12-b.txt",
        "2026-12-c.html",
        "2026-12-c.txt",
        "README.txt",
        "audience.csv",
    ]
    rows = list(csv.DictReader(io.StringIO((out / "audience.csv").read_text())))
    assert rows == [
        {
            "Email Address": "ann@example.com",
            "First Name": '\'=HYPERLINK("x")',
            "Tags": "2026-12-a",
        },
        {"Email Address": "bo@example.com", "First Name": "Bo", "Tags": "2026-12-c"},
    ]
    for name in ("2026-12-a.html", "2026-12-a.txt"):
        text = (out / name).read_text()
        assert "*|UNSUB|*" in text and "*|FNAME|*" in text and "CHAIRSIDE__" not in text
    for name in ("README.txt", "audience.csv", *names):
        assert not any(c in name.lower() for c in CONCERNS)
    readme = (out / "README.txt").read_text().lower()
    assert "audience.csv" in readme and not any(f" {c} " in readme for c in CONCERNS)


def test_a_push_killed_mid_request_reports_the_batch_unknown(
    tmp_workspace, tmp_path, http_server, mailchimp, run
):
    audience = big_list(tmp_path, 1200)
    slow = []

    def hold_second(request):
        slow.append(len(request.json()["members"]))
        if len(slow) == 2:
            time.sleep(3)  # the push is killed while it waits for this answer
        return mailchimp.subscribe(request)

    http_server.routes.insert(0, ("POST", re.compile(f"/lists/{LIST}$"), hold_second))
    env = {**os.environ, "MAILCHIMP_API_KEY": KEY}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "chairside",
            "-C",
            str(tmp_workspace),
            "export",
            "2026-12",
            "--to",
            "mailchimp",
            "--push",
            "--api-base",
            http_server.url,
            "--audience-id",
            LIST,
            "--audience",
            str(audience),
            "--retry-delay",
            "0",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while len(slow) < 2:
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    time.sleep(3.2)  # the server finishes the held request: those members are in Mailchimp
    in_doubt = slow[1]

    rerun = push(run, tmp_workspace, http_server, "--audience", str(audience))
    assert rerun.exit_code == 0, rerun.output
    assert f"unknown: {in_doubt} may or may not have been handed over" in rerun.output
    assert max(mailchimp.members.values()) == 1  # the batch in doubt was not sent again
    assert sum(mailchimp.members.values()) == 1200
    status = json.loads(
        run("status", "2026-12", "--json", "--audience", str(audience), cwd=tmp_workspace).output
    )
    assert len(status["unknown"]) == in_doubt

    again = push(run, tmp_workspace, http_server, "--audience", str(audience), "--resend-unknown")
    assert again.exit_code == 0
    status = json.loads(
        run("status", "2026-12", "--json", "--audience", str(audience), cwd=tmp_workspace).output
    )
    assert status["unknown"] == [] and status["sent"] == 1200
