"""`chairside export --to mailgun`: the upload bundle, and `--push` against a real local HTTP
server standing in for Mailgun's `POST /v3/<domain>/messages` (batch sending).

The request shape follows Mailgun's user manual ("Batch Sending", "Send via HTTP",
"Tracking Unsubscribes"): repeated `to` fields, `recipient-variables` JSON keyed by address,
`o:tag`, `h:` headers, Basic auth `api:<key>`.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import math
import re
from collections import Counter
from pathlib import Path

import pytest

from tests.support import HttpRecorder, assert_user_error, copy_demo

KEY = "key-test-0123456789"
DOMAIN = "mg.harbor.example"
MESSAGES = rf"/v3/{DOMAIN}/messages"
# Every way a concern is named in the demo's audiences/segments.toml.
CONCERNS = ("tmj", "neck_shoulder", "neck & shoulder", "jaw & tmj", "jaw", "neck")


class Mailgun:
    """The local server as Mailgun: answers `messages` with 200 "Queued", or as `refuse`
    says, and keeps the forms it accepted."""

    def __init__(self, server: HttpRecorder) -> None:
        self.server = server
        self.accepted: list[dict[str, list[str]]] = []
        self.refuse = lambda number, form: None  # → (status, body) to refuse a request
        self.calls = 0
        self.unsubscribe_tracking = True
        server.route("POST", r"/v3/[^/]+/messages", self.answer)
        server.route("GET", r"/v3/domains/[^/]+/tracking", self.tracking)

    def tracking(self, request):
        return 200, {"tracking": {"unsubscribe": {"active": self.unsubscribe_tracking}}}

    def posts(self) -> list:
        return [r for r in self.server.requests if r.method == "POST"]

    def answer(self, request):
        self.calls += 1
        form = request.form()
        refusal = self.refuse(self.calls, form)
        if refusal:
            return refusal
        self.accepted.append(form)
        return 200, {"id": f"<{self.calls}@{DOMAIN}>", "message": "Queued. Thank you."}

    def recipients(self) -> Counter:
        return Counter(to for form in self.accepted for to in form["to"])


@pytest.fixture
def mailgun(http_server, monkeypatch) -> Mailgun:
    monkeypatch.setenv("MAILGUN_API_KEY", KEY)
    monkeypatch.delenv("MAILGUN_DOMAIN", raising=False)
    monkeypatch.delenv("CHAIRSIDE_MAILGUN_API_BASE", raising=False)
    return Mailgun(http_server)


def push(run, root: Path, server: HttpRecorder, *args: str):
    base = ("export", "2026-12", "--to", "mailgun", "--push", "--api-base", server.url)
    return run(*base, "--retry-delay", "0", *args, cwd=root)


def push_all(run, root: Path, server: HttpRecorder, *args: str):
    return push(run, root, server, "--domain", DOMAIN, "--without-baa", *args)


def sendable(run, root: Path, *args: str) -> dict[str, dict]:
    """address → {first_name, segment}, as `chairside audience --show` reports them."""
    result = run("audience", "--json", "--show", *args, cwd=root)
    return {p["email"]: p for p in json.loads(result.output)["patients"]}


def status(run, root: Path, *args: str) -> dict:
    result = run("status", "2026-12", "--json", "--show", *args, cwd=root)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def variant_tags(run, root: Path) -> dict[str, str]:
    """segment → variant id (the opaque tag), from the build manifest."""
    assert run("build", "2026-12", cwd=root).exit_code == 0
    manifest = json.loads((root / "build/2026-12/manifest.json").read_text())
    return {v["segment"]: v["id"] for v in manifest["variants"]}


def set_mailgun(root: Path, text: str) -> None:
    with open(root / "practice.toml", "a", encoding="utf-8") as handle:
        handle.write(f"\n[providers.mailgun]\n{text}\n")


def add_patients(root: Path, rows: list[str]) -> None:
    with open(root / "audiences/patients.csv", "a", encoding="utf-8") as handle:
        handle.write("".join(row + "\n" for row in rows))


def one(form: dict[str, list[str]], field: str) -> str:
    assert len(form[field]) == 1, (field, form[field])
    return form[field][0]


# -- push -----------------------------------------------------------------------------------
def test_push_hands_every_patient_over_once_with_their_variant_tag(tmp_workspace, mailgun, run):
    expected = sendable(run, tmp_workspace)
    tags = variant_tags(run, tmp_workspace)
    result = push_all(run, tmp_workspace, mailgun.server)
    assert result.exit_code == 0, result.output
    assert "31 patients handed over in 3 batches" in result.output

    assert mailgun.recipients() == Counter(set(expected))  # each once, nobody else
    assert [r.path for r in mailgun.server.requests if r.method == "GET"] == [
        f"/v3/domains/{DOMAIN}/tracking"  # unsubscribe tracking checked once, first
    ]
    for request in mailgun.posts():
        assert request.path == f"/v3/{DOMAIN}/messages"
        assert (
            request.headers["authorization"]
            == "Basic " + base64.b64encode(f"api:{KEY}".encode()).decode()
        )
        # multipart/form-data, as Mailgun's API reference gives it (form() parses it as MIME)
        assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    for form in mailgun.accepted:
        tag = one(form, "o:tag")
        assert {tags[expected[to]["segment"]] for to in form["to"]} == {tag}
        assert not any(concern in tag.lower() for concern in CONCERNS)
        assert one(form, "from") == "Harbor Lane Dental <news@harborlanedental.example.com>"
        assert one(form, "subject") == "December at Harbor Lane: easing everyday aches"
        assert one(form, "h:Reply-To") == "frontdesk@harborlanedental.example.com"
        # Mailgun's unsubscribe tracking adds List-Unsubscribe(-Post) itself: never a second.
        assert not [f for f in form if "unsubscribe" in f.lower()]
        assert "o:deliverytime" not in form  # no --schedule: at once
        text, body = one(form, "text"), one(form, "html")
        assert "%recipient.first_name%" in text and "%unsubscribe_url%" in text
        assert "%recipient.first_name_html%" in body and "%unsubscribe_url%" in body
        assert "%recipient.first_name%" not in body  # raw names never reach the HTML
        assert "CHAIRSIDE__" not in text + body
        variables = json.loads(one(form, "recipient-variables"))
        assert sorted(variables) == sorted(form["to"])
        for to, values in variables.items():
            assert set(values) == {"first_name", "first_name_html"}  # nothing else leaves
            assert values["first_name"] == (expected[to]["first_name"] or "there")

    again = push_all(run, tmp_workspace, mailgun.server)
    assert again.exit_code == 0, again.output
    assert "0 patients handed over in 0 batches, 31 before" in again.output
    assert mailgun.calls == 3
    found = status(run, tmp_workspace)
    assert (found["sent"], found["pending"], found["unknown"]) == (31, 0, [])


def test_batches_hold_at_most_1000_recipients(tmp_workspace, mailgun, run, tmp_path):
    concerns = {"tmj": "TMJ", "neck_shoulder": "neck pain", "general": ""}
    sizes = {"tmj": 1250, "neck_shoulder": 150, "general": 900}
    audience = tmp_path / "big.csv"
    with open(audience, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Patient ID", "First Name", "Email", "Concerns", "Email Opt In"])
        for segment, size in sizes.items():
            for n in range(size):
                email = f"p{segment[0]}{n:05d}@example.org"
                writer.writerow([f"X{segment[0]}{n}", f"Pat{n}", email, concerns[segment], "Y"])
    expected = sendable(run, tmp_workspace, "--audience", str(audience))
    assert Counter(p["segment"] for p in expected.values()) == Counter(sizes)

    result = push_all(run, tmp_workspace, mailgun.server, "--audience", str(audience))
    assert result.exit_code == 0, result.output
    assert len(mailgun.accepted) == sum(math.ceil(n / 1000) for n in sizes.values())
    for form in mailgun.accepted:
        assert 0 < len(form["to"]) <= 1000
        variables = json.loads(one(form, "recipient-variables"))
        assert sorted(variables) == sorted(form["to"])
        assert len({expected[to]["segment"] for to in form["to"]}) == 1  # one variant
    assert mailgun.recipients() == Counter(set(expected))
    assert status(run, tmp_workspace, "--audience", str(audience))["sent"] == 2300


def test_an_interrupted_push_resumes_without_duplicates_or_losses(tmp_workspace, mailgun, run):
    expected = sendable(run, tmp_workspace)
    mailgun.refuse = lambda number, form: (
        (400, {"message": "Need at least one of 'text' or 'html' parameters specified"})
        if number == 2
        else None
    )
    stopped = push_all(run, tmp_workspace, mailgun.server)
    assert_user_error(stopped, "Mailgun refused", "Need at least one")
    first = len(mailgun.accepted[0]["to"])
    found = status(run, tmp_workspace)
    assert found["sent"] == first
    assert found["unknown"] == []
    assert found["sent"] + len(found["deferred"]) + found["pending"] == len(expected)

    resumed = push_all(run, tmp_workspace, mailgun.server)
    assert resumed.exit_code == 0, resumed.output
    assert f"handed over in 2 batches, {first} before" in resumed.output
    assert mailgun.recipients() == Counter(set(expected))  # no batch twice, nobody lost
    assert status(run, tmp_workspace)["sent"] == len(expected)


def test_a_429_waits_as_told_and_retries(tmp_workspace, mailgun, run):
    expected = sendable(run, tmp_workspace)
    mailgun.refuse = lambda number, form: (
        (429, {"message": "slow down"}, {"Retry-After": "0"}) if number == 1 else None
    )
    result = push_all(run, tmp_workspace, mailgun.server)
    assert result.exit_code == 0, result.output
    assert len(mailgun.posts()) == 4  # the refused one, then three accepted
    assert mailgun.posts()[0].form()["to"] == mailgun.accepted[0]["to"]
    assert mailgun.recipients() == Counter(set(expected))


def test_a_refused_key_stops_naming_the_variable(tmp_workspace, mailgun, run):
    mailgun.refuse = lambda number, form: (401, b"Forbidden")
    result = push_all(run, tmp_workspace, mailgun.server)
    assert_user_error(result, "MAILGUN_API_KEY", "401")
    assert KEY not in result.output
    assert len(mailgun.posts()) == 1
    found = status(run, tmp_workspace)
    assert (found["sent"], found["unknown"]) == (0, [])  # nothing in doubt: rerun resends


def test_a_400_naming_one_recipient_rejects_it_and_delivers_the_rest(tmp_workspace, mailgun, run):
    expected = sendable(run, tmp_workspace)
    bad = "maria.lopez@example.com"
    mailgun.refuse = lambda number, form: (
        (400, {"message": f"'to' parameter is not a valid address: {bad}"})
        if bad in form["to"]
        else None
    )
    result = push_all(run, tmp_workspace, mailgun.server)
    assert result.exit_code == 3, result.output  # ran to its end, one patient rejected
    assert "rejected by mailgun: ma***@example.com" in result.output
    assert bad not in result.output  # addresses stay masked, in the reason too
    assert mailgun.recipients() == Counter(set(expected) - {bad})
    assert mailgun.calls == 4  # one batch sent again without the refused address
    found = status(run, tmp_workspace)
    assert found["sent"] == len(expected) - 1
    assert [f["email"] for f in found["failed"]] == [bad]
    assert "not a valid address" in found["failed"][0]["reason"]

    again = push_all(run, tmp_workspace, mailgun.server)
    assert again.exit_code == 3, again.output  # still one rejected
    assert "0 patients handed over in 0 batches, 30 before; 1 rejected" in again.output
    assert mailgun.calls == 4  # the refused patient is not tried again


def test_an_unknown_domain_says_where_to_look(tmp_workspace, mailgun, run):
    mailgun.refuse = lambda number, form: (404, {"message": "Domain not found: mg.harbor.example"})
    result = push_all(run, tmp_workspace, mailgun.server)
    assert_user_error(result, "Domain not found", "--domain", "api.eu.mailgun.net")


def test_the_domain_comes_from_option_then_practice_then_environment(
    tmp_path, mailgun, run, monkeypatch
):
    nowhere = copy_demo(tmp_path / "nowhere")
    result = push(run, nowhere, mailgun.server, "--without-baa")
    assert_user_error(result, "Mailgun sending domain", "--domain", "practice.toml")
    assert "MAILGUN_DOMAIN" in result.output
    assert mailgun.server.requests == []

    monkeypatch.setenv("MAILGUN_DOMAIN", "env.example")
    for name, toml, option, used in (
        ("option", True, True, DOMAIN),
        ("toml", True, False, "toml.example"),
        ("env", False, False, "env.example"),
    ):
        root = copy_demo(tmp_path / name)
        if toml:
            set_mailgun(root, 'domain = "toml.example"')
        del mailgun.server.requests[:]
        args = ("--domain", DOMAIN) if option else ()
        result = push(run, root, mailgun.server, "--without-baa", *args)
        assert result.exit_code == 0, (name, result.output)
        assert {r.path for r in mailgun.posts()} == {f"/v3/{used}/messages"}, name


def test_a_domain_with_a_slash_is_refused_before_any_request(tmp_workspace, mailgun, run):
    result = push(run, tmp_workspace, mailgun.server, "--without-baa", "--domain", "a/b")
    assert_user_error(result, "not a domain name")
    assert mailgun.server.requests == []


def test_concern_variants_need_a_baa_or_an_explicit_override(tmp_workspace, mailgun, run):
    refused = push(run, tmp_workspace, mailgun.server, "--domain", DOMAIN)
    assert_user_error(refused, "baa = true", "[providers.mailgun]", "--without-baa")
    assert mailgun.server.requests == []

    warned = push(run, tmp_workspace, mailgun.server, "--domain", DOMAIN, "--without-baa")
    assert warned.exit_code == 0, warned.output
    assert "warning: pushing concern variants to Mailgun without a business associate" in (
        warned.output
    )

    agreement = copy_demo(tmp_workspace.parent / "agreement")
    set_mailgun(agreement, "baa = true")
    agreed = push(run, agreement, mailgun.server, "--domain", DOMAIN)
    assert agreed.exit_code == 0, agreed.output
    assert "warning" not in agreed.output
    assert "31 patients handed over" in agreed.output


def test_hostile_names_are_escaped_for_the_html(tmp_workspace, mailgun, run):
    hostile = '<img src=x onerror=alert(1)> & "Al"'
    quoted = hostile.replace('"', '""')
    add_patients(tmp_workspace, [f'HLD-90001,"{quoted}",X,hostile@example.com,,Y,2026-10-01'])
    result = push_all(run, tmp_workspace, mailgun.server)
    assert result.exit_code == 0, result.output
    (form,) = [f for f in mailgun.accepted if "hostile@example.com" in f["to"]]
    values = json.loads(one(form, "recipient-variables"))["hostile@example.com"]
    assert values["first_name"] == hostile
    assert values["first_name_html"] == html.escape(hostile, quote=True)
    assert "<img" not in values["first_name_html"]


# -- bundle ---------------------------------------------------------------------------------
def test_the_bundle_has_a_list_per_variant_and_names_no_concern(tmp_workspace, run, tmp_path):
    add_patients(
        tmp_workspace, ['HLD-90002,"=HYPERLINK(""x"")",Y,formula@example.com,,Y,2026-10-01']
    )
    expected = sendable(run, tmp_workspace)
    tags = variant_tags(run, tmp_workspace)
    out = tmp_path / "bundle"
    set_mailgun(tmp_workspace, "baa = true")
    result = run("export", "2026-12", "--to", "mailgun", "--out", str(out), cwd=tmp_workspace)
    assert result.exit_code == 0, result.output

    names = {p.name for p in out.iterdir()}
    assert names == {"README.txt"} | {
        f"{prefix}{tag}{suffix}"
        for tag in tags.values()
        for prefix, suffix in (("", ".html"), ("", ".txt"), ("members-", ".csv"))
    }
    readme = (out / "README.txt").read_text(encoding="utf-8")
    texts = [readme, *(p.name for p in out.iterdir())]
    for segment, tag in tags.items():
        body = (out / f"{tag}.html").read_text(encoding="utf-8")
        text = (out / f"{tag}.txt").read_text(encoding="utf-8")
        assert "%recipient.first_name_html%" in body and "%unsubscribe_url%" in body
        assert "%recipient.first_name%" in text and "%unsubscribe_url%" in text
        assert "CHAIRSIDE__" not in body + text
        assert f"members-{tag}.csv" in readme and f"{tag}.html" in readme

        table = (out / f"members-{tag}.csv").read_text(encoding="utf-8")
        texts.append(table)
        rows = list(csv.reader(io.StringIO(table)))
        assert rows[0] == ["address", "name", "vars", "subscribed"]
        members = {row[0]: row for row in rows[1:]}
        assert set(members) == {e for e, p in expected.items() if p["segment"] == segment}
        for email, (_, name, variables, subscribed) in members.items():
            greeting = expected[email]["first_name"] or "there"
            assert json.loads(variables) == {
                "first_name": greeting,
                "first_name_html": html.escape(greeting, quote=True),
            }
            assert subscribed == "yes"
            if email == "formula@example.com":
                assert name == '\'=HYPERLINK("x")'  # a spreadsheet shows it, never runs it
            else:
                assert name == expected[email]["first_name"]
    assert "formula@example.com" in expected
    for concern in CONCERNS:
        for written in texts:
            assert concern not in written.lower(), (concern, written[:200])
    assert "%recipient.first_name%" in readme and "Mailing lists" in readme


def test_a_200_that_queued_nothing_is_not_taken_for_success(tmp_workspace, mailgun, run):
    mailgun.refuse = lambda number, form: (200, b"Mailgun Magnificent API")
    result = push_all(run, tmp_workspace, mailgun.server)
    assert_user_error(result, "without queueing anything", "Magnificent")
    found = status(run, tmp_workspace)
    assert (found["sent"], found["unknown"]) == (0, [])


def test_a_domain_without_unsubscribe_tracking_is_refused_before_any_send(
    tmp_workspace, mailgun, run
):
    mailgun.unsubscribe_tracking = False
    result = push_all(run, tmp_workspace, mailgun.server)
    assert_user_error(result, "Unsubscribes tracking is off", "Nothing was sent", "31 pending")
    assert mailgun.posts() == []


def test_a_key_that_cannot_read_tracking_gets_a_reminder_and_sends(tmp_workspace, mailgun, run):
    mailgun.server.routes.insert(
        0, ("GET", re.compile(r"/v3/domains/[^/]+/tracking$"), lambda r: (403, b"Forbidden"))
    )
    result = push_all(run, tmp_workspace, mailgun.server)
    assert result.exit_code == 0, result.output
    assert "make sure Unsubscribes tracking is on" in result.output
    assert sum(mailgun.recipients().values()) == 31
