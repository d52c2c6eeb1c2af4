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
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import pytest

from tests.support import DROP, HttpRecorder, assert_user_error

KEY = "0123456789abcdef-us6"
LIST = "a1b2c3d4e5"
CONCERNS = ("tmj", "neck_shoulder", "jaw", "neck", "shoulder", "myofascial")


class FakeMailchimp:
    """The parts of Mailchimp's Marketing API Chairside uses, with their documented shapes,
    under `/3.0` as at Mailchimp. Tags are static segments made by the batch subscribe;
    making a segment any other way fails the test."""

    def __init__(self, server: HttpRecorder) -> None:
        self.server = server
        self.members: Counter[str] = Counter()
        self.names: dict[str, str] = {}
        self.tags: dict[str, int] = {}
        self.campaigns: dict[str, dict] = {}
        self.reject: set[str] = set()
        api = "/3.0"
        server.route("POST", f"{api}/lists/{LIST}", self.subscribe)
        server.route("GET", f"{api}/lists/{LIST}/tag-search", self.tag_search)
        server.route("GET", f"{api}/lists/{LIST}/segments", self.segments)
        server.route("POST", f"{api}/lists/{LIST}/segments", self.new_segment)
        server.route("GET", f"{api}/campaigns", self.list_campaigns)
        server.route("POST", f"{api}/campaigns", self.new_campaign)
        server.route("GET", rf"{api}/campaigns/(\w+)", self.get_campaign)
        server.route("PUT", rf"{api}/campaigns/(\w+)/content", self.content)
        server.route("POST", rf"{api}/campaigns/(\w+)/actions/schedule", self.schedule)

    def subscribe(self, request):
        body = request.json()
        assert set(body) == {"members", "update_existing"} and len(body["members"]) <= 500
        errors, added = [], []
        for member in body["members"]:
            assert set(member) <= {"email_address", "status", "merge_fields", "tags"}
            assert member["status"] == "subscribed"
            assert set(member.get("merge_fields", {"FNAME": "x"})) == {"FNAME"}
            assert member.get("merge_fields", {"FNAME": "x"})["FNAME"]  # never erased
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
            if "merge_fields" in member:
                self.names[member["email_address"]] = member["merge_fields"]["FNAME"]
            for tag in member["tags"]:
                self.tags.setdefault(tag, 1000 + len(self.tags))
            added.append({"email_address": member["email_address"], "tags": member["tags"]})
        return 200, {
            "new_members": added,
            "updated_members": [],
            "errors": errors,
            "error_count": len(errors),
        }

    def tag_search(self, request):
        query = parse_qs(request.query)
        wanted = query["name"][0]
        found = [{"id": i, "name": n} for n, i in self.tags.items() if wanted in n]
        return 200, {"tags": found, "total_items": len(found)}

    def segments(self, request):
        query = parse_qs(request.query)
        assert query["type"] == ["static"]
        items = [{"id": i, "name": n} for n, i in self.tags.items()]
        start, count = int(query.get("offset", ["0"])[0]), int(query.get("count", ["10"])[0])
        return 200, {"segments": items[start : start + count], "total_items": len(items)}

    def new_segment(self, request):
        raise AssertionError("Chairside must never create a segment")

    def list_campaigns(self, request):
        query = parse_qs(request.query)
        found = [
            {"id": i, **c["create"], "status": c.get("status", "save")}
            for i, c in self.campaigns.items()
            if c.get("status", "save") in query.get("status", ["save"])
            and c["create"]["recipients"]["list_id"] in query.get("list_id", [LIST])
        ]
        start, count = int(query.get("offset", ["0"])[0]), int(query.get("count", ["10"])[0])
        return 200, {"campaigns": found[start : start + count], "total_items": len(found)}

    def new_campaign(self, request):
        body = request.json()
        assert body["type"] == "regular" and body["recipients"]["list_id"] == LIST
        assert str(body["recipients"]["segment_opts"]["saved_segment_id"]) in {
            str(i) for i in self.tags.values()
        }
        campaign_id = f"c{len(self.campaigns) + 1}"
        self.campaigns[campaign_id] = {"create": body}
        return 200, {"id": campaign_id}

    def get_campaign(self, request):
        campaign = self.campaigns[request.path.split("/")[3]]
        return 200, {"status": campaign.get("status", "save"), **campaign["create"]}

    def content(self, request):
        campaign_id = request.path.split("/")[3]
        self.campaigns[campaign_id]["content"] = request.json()
        return 200, {}

    def schedule(self, request):
        campaign_id = request.path.split("/")[3]
        self.campaigns[campaign_id]["schedule"] = request.json()["schedule_time"]
        self.campaigns[campaign_id]["status"] = "schedule"
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

    http_server.routes.insert(0, ("POST", re.compile(f"/3.0/lists/{LIST}$"), fail_third))
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
    assert result.exit_code == 3, result.output  # finished, but not everyone is in
    assert "30 patients handed over in 3 batches, 0 before; 1 rejected" in result.output
    assert "rejected by mailchimp: pr***@example.com: looks fake or invalid" in result.output
    status = json.loads(run("status", "2026-12", "--json", cwd=tmp_workspace).output)
    assert status["sent"] == 30 and status["failed"][0]["reason"] == "looks fake or invalid"


def quarter_hour(hours: float) -> datetime:
    """A quarter hour about `hours` from now, in New York time."""
    when = datetime.now(UTC) + timedelta(hours=hours)
    when = when.replace(minute=when.minute - when.minute % 15, second=0, microsecond=0)
    return when.astimezone(ZoneInfo("America/New_York"))


def test_schedule_is_sent_in_utc_on_a_quarter_hour(tmp_workspace, http_server, mailchimp, run):
    when = quarter_hour(30)
    result = push(run, tmp_workspace, http_server, "--schedule", when.isoformat())
    assert result.exit_code == 0, result.output
    utc = when.astimezone(UTC).isoformat()
    assert {c["schedule"] for c in mailchimp.campaigns.values()} == {utc}
    assert len(mailchimp.campaigns) == 3 and f"scheduled for {utc}" in result.output


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ("tomorrow at nine", "not a date and time"),
        ("2030-01-01T09:00:00", "no time zone"),
        ("2020-01-01T09:00:00Z", "in the past"),
        ("QUARTER+7", "quarter hour"),
    ],
)
def test_a_bad_schedule_is_refused_before_any_request(
    tmp_workspace, http_server, mailchimp, run, schedule, message
):
    if schedule == "QUARTER+7":
        schedule = (quarter_hour(30) + timedelta(minutes=7)).isoformat()
    result = push(run, tmp_workspace, http_server, "--schedule", schedule)
    assert_user_error(result, message, "Nothing was sent")
    assert http_server.requests == []


def test_drafts_from_a_first_push_are_scheduled_by_a_second(
    tmp_workspace, http_server, mailchimp, run
):
    assert push(run, tmp_workspace, http_server).exit_code == 0
    when = quarter_hour(5).isoformat()
    result = push(run, tmp_workspace, http_server, "--schedule", when)
    assert result.exit_code == 0, result.output
    assert len(mailchimp.campaigns) == 3
    assert all(c.get("status") == "schedule" for c in mailchimp.campaigns.values())


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
        "--without-baa",
        cwd=tmp_workspace,
    )
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == [  # no 2026-12-b: nobody here gets that variant
        "2026-12-a.html",
        "2026-12-a.txt",
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
    released, answered = threading.Event(), threading.Event()

    def hold_second(request):
        slow.append(len(request.json()["members"]))
        if len(slow) != 2:
            return mailchimp.subscribe(request)
        released.wait(60)  # the push is killed while it waits for this answer
        try:
            return mailchimp.subscribe(request)
        finally:
            answered.set()

    http_server.routes.insert(0, ("POST", re.compile(f"/3.0/lists/{LIST}$"), hold_second))
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
    released.set()  # the server finishes the held request: those members are in Mailchimp
    assert answered.wait(60)
    in_doubt = slow[1]

    rerun = push(run, tmp_workspace, http_server, "--audience", str(audience))
    assert rerun.exit_code == 3, rerun.output  # ran to its end, someone in doubt
    assert f"unknown: {in_doubt} may or may not have been handed over" in rerun.output
    assert max(mailchimp.members.values()) == 1  # the batch in doubt was not sent again
    assert sum(mailchimp.members.values()) == 1200
    status = json.loads(
        run("status", "2026-12", "--json", "--audience", str(audience), cwd=tmp_workspace).output
    )
    assert len(status["unknown"]) == in_doubt

    again = push(run, tmp_workspace, http_server, "--audience", str(audience), "--resend-unknown")
    assert again.exit_code == 0, again.output
    assert len(mailchimp.campaigns) == 3
    status = json.loads(
        run("status", "2026-12", "--json", "--audience", str(audience), cwd=tmp_workspace).output
    )
    assert status["unknown"] == [] and status["sent"] == 1200


# -- nothing made twice, nothing erased -------------------------------------------------------
def test_a_push_that_dies_after_mailchimp_made_the_campaign_reuses_the_draft(
    tmp_workspace, http_server, mailchimp, run
):
    # Mailchimp makes the campaign, then the connection drops before the answer arrives.
    made = []

    def create_then_vanish(request):
        made.append(mailchimp.new_campaign(request))
        return DROP if len(made) == 2 else made[-1]

    http_server.routes.insert(0, ("POST", re.compile("/3.0/campaigns$"), create_then_vanish))
    first = push(run, tmp_workspace, http_server)
    assert_user_error(first, "did not answer POST /campaigns", "Run the same command again")
    assert "31 patients handed over" in first.output  # the summary is still given
    assert len(mailchimp.campaigns) == 2

    again = push(run, tmp_workspace, http_server)
    assert again.exit_code == 0, again.output
    assert len(made) == 3 and len(mailchimp.campaigns) == 3  # one per tag, none twice
    titles = Counter(c["create"]["settings"]["title"] for c in mailchimp.campaigns.values())
    assert titles == Counter({"2026-12-a": 1, "2026-12-b": 1, "2026-12-c": 1})
    assert all("content" in c for c in mailchimp.campaigns.values())


def test_a_5xx_after_mailchimp_scheduled_is_not_scheduled_again(
    tmp_workspace, http_server, mailchimp, run
):
    scheduled = []

    def schedule_then_fail(request):
        scheduled.append(mailchimp.schedule(request))
        return (503, {"title": "Service Unavailable"}) if len(scheduled) == 1 else scheduled[-1]

    http_server.routes.insert(
        0, ("POST", re.compile(r"/3.0/campaigns/\w+/actions/schedule$"), schedule_then_fail)
    )
    when = quarter_hour(4).isoformat()
    first = push(run, tmp_workspace, http_server, "--schedule", when)
    assert_user_error(first, "503")
    assert len(scheduled) == 1
    again = push(run, tmp_workspace, http_server, "--schedule", when)
    assert again.exit_code == 0, again.output
    assert len(scheduled) == 3  # the first campaign was found scheduled, not scheduled again
    assert all(c.get("status") == "schedule" for c in mailchimp.campaigns.values())


def test_the_tag_is_found_by_paging_when_tag_search_misses_it(
    tmp_workspace, http_server, mailchimp, run
):
    for n in range(2500):  # other tags the practice uses, before ours
        mailchimp.tags[f"old-{n}"] = n
    http_server.routes.insert(
        0, ("GET", re.compile(f"/3.0/lists/{LIST}/tag-search$"), lambda r: (200, {"tags": []}))
    )
    result = push(run, tmp_workspace, http_server)
    assert result.exit_code == 0, result.output
    pages = [r for r in http_server.requests if r.path.endswith("/segments")]
    assert len(pages) >= 3  # 2,503 segments, 1,000 a page
    for campaign in mailchimp.campaigns.values():
        create = campaign["create"]
        assert (
            mailchimp.tags[create["settings"]["title"]]
            == (create["recipients"]["segment_opts"]["saved_segment_id"])
        )


def test_an_empty_first_name_is_left_out_not_erased(tmp_workspace, tmp_path, mailchimp, run):
    audience = tmp_path / "p.csv"
    audience.write_text("Email,First Name,Consent\nann@example.com,,Y\nbo@example.com,Bo,Y\n")
    mailchimp.names["ann@example.com"] = "Ann"  # what Mailchimp already knows
    result = push(run, tmp_workspace, mailchimp.server, "--audience", str(audience))
    assert result.exit_code == 0, result.output
    members = {
        m["email_address"]: m
        for r in mailchimp.server.requests
        if r.method == "POST" and r.path == f"/3.0/lists/{LIST}"
        for m in r.json()["members"]
    }
    assert "merge_fields" not in members["ann@example.com"]
    assert members["bo@example.com"]["merge_fields"] == {"FNAME": "Bo"}
    assert mailchimp.names == {"ann@example.com": "Ann", "bo@example.com": "Bo"}


@pytest.mark.parametrize("suffix", ["", "/3.0", "/3.0/"])
def test_api_base_with_or_without_the_version(tmp_workspace, http_server, mailchimp, run, suffix):
    result = run(
        "export", "2026-12", "--to", "mailchimp", "--push", "--api-base",
        http_server.url + suffix, "--audience-id", LIST, cwd=tmp_workspace,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert {r.path.split("/")[1] for r in http_server.requests} == {"3.0"}


def test_a_key_without_its_data_centre_is_refused(
    tmp_workspace, http_server, mailchimp, run, monkeypatch
):
    monkeypatch.setenv("MAILCHIMP_API_KEY", "0123456789abcdef")
    result = push(run, tmp_workspace, http_server)
    assert_user_error(result, "MAILCHIMP_API_KEY", "-us21")
    assert "0123456789abcdef" not in result.output
    assert http_server.requests == []


def test_the_greeting_fallback_is_escaped_in_the_html(tmp_workspace, http_server, mailchimp, run):
    practice = tmp_workspace / "practice.toml"
    text = practice.read_text().replace(
        'greeting_fallback = "there"', 'greeting_fallback = "friends & <b>family</b>"'
    )
    practice.write_text(text)
    result = push(run, tmp_workspace, http_server)
    assert result.exit_code == 0, result.output
    for campaign in mailchimp.campaigns.values():
        body, plain = campaign["content"]["html"], campaign["content"]["plain_text"]
        assert "*|ELSE:|*friends &amp; &lt;b&gt;family&lt;/b&gt;*|END:IF|*" in body
        assert "<b>family" not in body
        assert "*|ELSE:|*friends & <b>family</b>*|END:IF|*" in plain


def test_a_second_schedule_does_not_pretend_to_move_the_first(
    tmp_workspace, http_server, mailchimp, run
):
    first, second = quarter_hour(6), quarter_hour(9)
    assert push(run, tmp_workspace, http_server, "--schedule", first.isoformat()).exit_code == 0
    again = push(run, tmp_workspace, http_server, "--schedule", second.isoformat())
    assert again.exit_code == 0, again.output
    utc = first.astimezone(UTC).isoformat()
    assert {c["schedule"] for c in mailchimp.campaigns.values()} == {utc}
    assert again.output.count(f"scheduled for {utc} by an earlier run") == 3


@pytest.mark.parametrize(
    ("answer", "named"),
    [
        ((200, {}), "200 {}"),
        ((200, b"<html>Service Unavailable</html>"), "<html>Service Unavailable</html>"),
        ((200, b""), "an empty body"),
    ],
)
def test_a_campaign_answer_without_its_id_is_uncertain_and_the_rerun_finds_the_draft(
    tmp_workspace, http_server, mailchimp, run, answer, named
):
    """Mailchimp made the campaign but answered without its id: a clear error naming the
    answer (not a traceback), and the rerun finds the draft rather than making it twice."""
    made = []

    def create_then_garble(request):
        made.append(mailchimp.new_campaign(request))
        return answer if len(made) == 1 else made[-1]

    http_server.routes.insert(0, ("POST", re.compile("/3.0/campaigns$"), create_then_garble))
    first = push(run, tmp_workspace, http_server)
    assert_user_error(first, "POST /3.0/campaigns", named, "no campaign id", "same command again")
    assert "31 patients handed over" in first.output
    assert len(mailchimp.campaigns) == 1

    again = push(run, tmp_workspace, http_server)
    assert again.exit_code == 0, again.output
    assert len(mailchimp.campaigns) == 3  # the first draft found, not made twice
    titles = Counter(c["create"]["settings"]["title"] for c in mailchimp.campaigns.values())
    assert titles == Counter({"2026-12-a": 1, "2026-12-b": 1, "2026-12-c": 1})
    assert all("content" in c for c in mailchimp.campaigns.values())
