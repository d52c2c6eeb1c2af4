"""SendGrid: `/v3/mail/send` pushed to a real local HTTP server, and the upload bundle."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

from tests.support import assert_user_error

KEY = "SG.test-key"
OPAQUE = {"2026-12-a", "2026-12-b", "2026-12-c"}
CONCERNS = re.compile(r"tmj|neck_shoulder|neck|shoulder|jaw|myofascial|bruxism", re.I)
DEMO_SENDABLE = 31


@pytest.fixture
def sendgrid(http_server, monkeypatch):
    """The local server answering mail/send like SendGrid; `accepted` holds what it took."""
    monkeypatch.setenv("SENDGRID_API_KEY", KEY)
    accepted: list[dict] = []

    def mail_send(request):
        accepted.append(request.json())
        return 202, b""

    http_server.route("POST", r"/v3/mail/send", mail_send)
    http_server.accepted = accepted
    return http_server


def push(run, workspace: Path, server, *extra: str):
    return run(
        "export", "2026-12", "--to", "sendgrid", "--push", "--api-base", server.url,
        "--retry-delay", "0", *extra, cwd=workspace,
    )  # fmt: skip


def delivered(accepted: list[dict]) -> list[tuple[str, str]]:
    """(address, category) for every personalization SendGrid accepted."""
    return [
        (p["to"][0]["email"].lower(), body["categories"][0])
        for body in accepted
        for p in body["personalizations"]
    ]


def status(run, workspace: Path) -> dict:
    result = run("status", "2026-12", "--json", cwd=workspace)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def allow_baa(workspace: Path) -> None:
    with open(workspace / "practice.toml", "a", encoding="utf-8") as handle:
        handle.write("\n[providers.sendgrid]\nbaa = true\n")


def add_patients(workspace: Path, *rows: list[str]) -> None:
    with open(workspace / "audiences" / "patients.csv", "a", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)


def test_request_shape_and_bearer_key(run, tmp_workspace, sendgrid):
    allow_baa(tmp_workspace)
    result = push(run, tmp_workspace, sendgrid)
    assert result.exit_code == 0, result.output
    assert [r.path for r in sendgrid.requests] == ["/v3/mail/send"] * 3
    assert {r.headers["authorization"] for r in sendgrid.requests} == {f"Bearer {KEY}"}
    body = next(
        b for b in sendgrid.accepted
        if any(p["to"][0]["email"] == "maria.lopez@example.com" for p in b["personalizations"])
    )  # fmt: skip
    assert set(body) == {
        "personalizations", "from", "reply_to", "subject", "content", "categories",
        "tracking_settings",
    }  # fmt: skip
    # Our own List-Unsubscribe is the only one: SendGrid's subscription tracking is off.
    assert body["tracking_settings"] == {"subscription_tracking": {"enable": False}}
    assert body["from"] == {
        "email": "news@harborlanedental.example.com",
        "name": "Harbor Lane Dental",
    }
    assert body["reply_to"] == {"email": "frontdesk@harborlanedental.example.com"}
    assert body["subject"] and not CONCERNS.search(body["subject"])
    assert body["categories"][0] in OPAQUE
    text, html = body["content"]
    assert (text["type"], html["type"]) == ("text/plain", "text/html")
    assert "-first_name-" in text["value"] and "-unsubscribe_url-" in text["value"]
    assert "-first_name_html-" in html["value"] and "-unsubscribe_url_html-" in html["value"]
    assert "-first_name-" not in html["value"] and "-first_name_html-" not in text["value"]
    assert "CHAIRSIDE__" not in text["value"] + html["value"]

    maria = next(
        p for p in body["personalizations"] if p["to"][0]["email"] == "maria.lopez@example.com"
    )
    assert maria["to"] == [{"email": "maria.lopez@example.com", "name": "Maria"}]
    subs = maria["substitutions"]
    assert subs["-first_name-"] == subs["-first_name_html-"] == "Maria"
    token = re.search(r"token=([^&]+)$", subs["-unsubscribe_url-"]).group(1)
    assert subs["-unsubscribe_url-"] == (
        f"https://harborlanedental.example.com/unsubscribe?token={token}"
    )
    assert subs["-unsubscribe_url_html-"] == subs["-unsubscribe_url-"]
    assert maria["headers"] == {
        "List-Unsubscribe": (
            "<mailto:unsubscribe@harborlanedental.example.com?subject=unsubscribe%20"
            f"{token}>, <https://harborlanedental.example.com/unsubscribe?token={token}>"
        ),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    # Nothing about a patient's health in what describes them.
    for p in body["personalizations"]:  # (unsubscribe codes are random: left out)
        assert not CONCERNS.search(json.dumps([p["to"], p["substitutions"]["-first_name-"]]))


def test_every_patient_once_with_their_variant(run, tmp_workspace, sendgrid):
    allow_baa(tmp_workspace)
    result = push(run, tmp_workspace, sendgrid)
    assert result.exit_code == 0, result.output
    assert "31 patients handed over in 3 batches" in result.output
    got = delivered(sendgrid.accepted)
    assert len(got) == len({email for email, _ in got}) == DEMO_SENDABLE
    assert {category for _, category in got} == OPAQUE
    for body in sendgrid.accepted:  # one variant per request: its category, its content
        assert len(body["categories"]) == 1
    by_email = dict(got)
    assert by_email["maria.lopez@example.com"] == by_email["rachel.goldberg@example.com"]
    assert by_email["maria.lopez@example.com"] != by_email["james.whitfield@example.com"]
    assert status(run, tmp_workspace)["sent"] == DEMO_SENDABLE

    again = push(run, tmp_workspace, sendgrid)
    assert again.exit_code == 0, again.output
    assert "0 patients handed over in 0 batches, 31 before" in again.output
    assert len(sendgrid.requests) == 3


def test_batches_of_at_most_1000(run, tmp_workspace, sendgrid):
    allow_baa(tmp_workspace)
    audience = tmp_workspace / "big.csv"
    rows = ["Email,First Name,Concerns,Email Opt In"]
    rows += [f"p{n}@example.com,P{n},,Y" for n in range(2300)]
    rows += [f"t{n}@example.com,T{n},TMJ,Y" for n in range(1001)]
    audience.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = push(run, tmp_workspace, sendgrid, "--audience", str(audience))
    assert result.exit_code == 0, result.output
    sizes = sorted(
        (body["categories"][0], len(body["personalizations"])) for body in sendgrid.accepted
    )
    general = sorted(n for tag, n in sizes if tag == "2026-12-c")
    tmj = sorted(n for tag, n in sizes if tag == "2026-12-a")
    assert general == [300, 1000, 1000]
    assert tmj == [1, 1000]
    assert len(set(delivered(sendgrid.accepted))) == 3301


def test_interrupted_push_resumes_without_sending_twice(
    run, tmp_workspace, http_server, monkeypatch
):
    monkeypatch.setenv("SENDGRID_API_KEY", KEY)
    allow_baa(tmp_workspace)
    accepted: list[dict] = []
    calls = {"n": 0}

    def mail_send(request):
        calls["n"] += 1
        if calls["n"] == 2:
            return 400, {
                "errors": [{"message": "The from address is not verified.", "field": "from"}]
            }
        accepted.append(request.json())
        return 202, b""

    http_server.route("POST", r"/v3/mail/send", mail_send)
    first = push(run, tmp_workspace, http_server)
    assert_user_error(first, "refused the request", "not verified")
    assert len(accepted) == 1
    midway = status(run, tmp_workspace)
    assert midway["sent"] == len(accepted[0]["personalizations"])

    second = push(run, tmp_workspace, http_server)
    assert second.exit_code == 0, second.output
    got = [email for email, _ in delivered(accepted)]
    assert len(got) == len(set(got)) == DEMO_SENDABLE
    assert status(run, tmp_workspace)["sent"] == DEMO_SENDABLE


def test_429_waits_then_succeeds(run, tmp_workspace, sendgrid):
    allow_baa(tmp_workspace)
    sendgrid.fail_next.append((429, {"errors": [{"message": "too many"}]}, {"Retry-After": "0"}))
    result = push(run, tmp_workspace, sendgrid)
    assert result.exit_code == 0, result.output
    assert len(sendgrid.requests) == 4
    assert sendgrid.requests[0].body == sendgrid.requests[1].body
    assert len(delivered(sendgrid.accepted)) == DEMO_SENDABLE


def test_missing_or_bad_key_stops_naming_the_variable(run, tmp_workspace, sendgrid, monkeypatch):
    allow_baa(tmp_workspace)
    monkeypatch.delenv("SENDGRID_API_KEY")
    assert_user_error(push(run, tmp_workspace, sendgrid), "SENDGRID_API_KEY")
    assert sendgrid.requests == []

    monkeypatch.setenv("SENDGRID_API_KEY", "SG.revoked")
    sendgrid.fail_next.append(
        (401, {"errors": [{"message": "The provided authorization grant is invalid"}]})
    )
    result = push(run, tmp_workspace, sendgrid)
    assert_user_error(result, "SENDGRID_API_KEY")
    assert len(sendgrid.requests) == 1
    assert status(run, tmp_workspace)["sent"] == 0


def test_one_refused_address_is_reported_the_rest_delivered(
    run, tmp_workspace, http_server, monkeypatch
):
    monkeypatch.setenv("SENDGRID_API_KEY", KEY)
    allow_baa(tmp_workspace)
    bad = "james.whitfield@example.com"
    accepted: list[dict] = []

    def mail_send(request):
        body = request.json()
        for i, p in enumerate(body["personalizations"]):
            if p["to"][0]["email"] == bad:
                return 400, {
                    "errors": [
                        {
                            "message": "Does not contain a valid address.",
                            "field": f"personalizations.{i}.to.0.email",
                        }
                    ]
                }
        accepted.append(body)
        return 202, b""

    http_server.route("POST", r"/v3/mail/send", mail_send)
    result = push(run, tmp_workspace, http_server)
    assert result.exit_code == 3, result.output  # ran to its end, one patient rejected
    assert "rejected by sendgrid" in result.output
    assert "Does not contain a valid address." in result.output
    assert bad not in result.output  # masked
    assert "30 patients handed over in 3 batches" in result.output
    got = [email for email, _ in delivered(accepted)]
    assert bad not in got and len(got) == len(set(got)) == DEMO_SENDABLE - 1
    assert len(http_server.requests) == 4  # the refused request, sent again without one
    found = status(run, tmp_workspace)
    assert found["sent"] == DEMO_SENDABLE - 1
    assert [f["reason"] for f in found["failed"]] == ["Does not contain a valid address."]


def test_a_request_wide_400_is_not_blamed_on_a_recipient(run, tmp_workspace, sendgrid):
    allow_baa(tmp_workspace)
    sendgrid.fail_next.append(
        (
            400,
            {
                "errors": [
                    {"message": "The content value must be a string", "field": "content.0.value"}
                ]
            },
        )
    )
    result = push(run, tmp_workspace, sendgrid)
    assert_user_error(result, "The content value must be a string")
    found = status(run, tmp_workspace)
    assert found["sent"] == 0 and found["failed"] == []


def test_concern_variants_need_a_baa(run, tmp_workspace, sendgrid):
    refused = push(run, tmp_workspace, sendgrid)
    assert_user_error(refused, "baa = true", "[providers.sendgrid]", "--without-baa")
    assert sendgrid.requests == []

    warned = push(run, tmp_workspace, sendgrid, "--without-baa")
    assert warned.exit_code == 0, warned.output
    assert "without a business associate agreement" in warned.output
    assert len(delivered(sendgrid.accepted)) == DEMO_SENDABLE


def test_baa_in_practice_toml_and_concern_tags(run, tmp_workspace, sendgrid):
    allow_baa(tmp_workspace)
    result = push(run, tmp_workspace, sendgrid, "--concern-tags")
    assert result.exit_code == 0, result.output
    assert "business associate" not in result.output
    # --concern-tags: readable categories, by the practice's choice.
    assert {c for _, c in delivered(sendgrid.accepted)} == {
        "2026-12-tmj",
        "2026-12-neck_shoulder",
        "2026-12-general",
    }


def test_hostile_names_are_escaped_in_html_and_kept_out_of_headers(run, tmp_workspace, sendgrid):
    allow_baa(tmp_workspace)
    add_patients(
        tmp_workspace,
        ["HLD-90001", '<b>Bo</b> & "Al"', "X", "bo@example.com", "", "Y", "2026-10-01"],
        ["HLD-90002", "Eve\r\nBcc: spy@example.com", "X", "eve@example.com", "", "Y", ""],
        ["HLD-90003", "", "Nameless", "noname@example.com", "", "Y", "2026-10-01"],
    )
    result = push(run, tmp_workspace, sendgrid)
    assert result.exit_code == 0, result.output
    people = {
        p["to"][0]["email"]: p for body in sendgrid.accepted for p in body["personalizations"]
    }
    bo = people["bo@example.com"]["substitutions"]
    assert bo["-first_name-"] == '<b>Bo</b> & "Al"'
    assert bo["-first_name_html-"] == "&lt;b&gt;Bo&lt;/b&gt; &amp; &quot;Al&quot;"
    eve = people["eve@example.com"]
    assert "\r" not in eve["to"][0]["name"] and "\n" not in eve["to"][0]["name"]
    assert "\n" not in eve["substitutions"]["-first_name-"]
    nameless = people["noname@example.com"]
    assert nameless["to"] == [{"email": "noname@example.com"}]
    assert nameless["substitutions"]["-first_name-"] == "there"


def read_csv(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))


def test_bundle(run, tmp_workspace):
    add_patients(
        tmp_workspace,
        ["HLD-90004", '=HYPERLINK("x")', "Evil", "evil@example.com", "", "Y", "2026-10-01"],
    )
    out = tmp_workspace / "build" / "sendgrid"
    allow_baa(tmp_workspace)
    result = run("export", "2026-12", "--to", "sendgrid", "--out", str(out), cwd=tmp_workspace)
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        ["README.txt"]
        + [f"{tag}.{ext}" for tag in OPAQUE for ext in ("html", "txt")]
        + [f"contacts-{tag}.csv" for tag in OPAQUE]
    )
    for tag in OPAQUE:
        html = (out / f"{tag}.html").read_text(encoding="utf-8")
        text = (out / f"{tag}.txt").read_text(encoding="utf-8")
        for part in (html, text):
            assert "{{#if first_name}}{{first_name}}{{else}}there{{/if}}" in part
            assert "{{{unsubscribe}}}" in part
            assert "CHAIRSIDE__" not in part and "-first_name-" not in part
        assert 'href="{{{unsubscribe}}}"' in html

    rows = {tag: read_csv(out / f"contacts-{tag}.csv") for tag in OPAQUE}
    assert all(r[0] == ["email", "first_name"] for r in rows.values())
    everyone = [row for r in rows.values() for row in r[1:]]
    assert len(everyone) == DEMO_SENDABLE + 1
    assert all(len(row) == 2 for row in everyone)
    assert ["evil@example.com", '\'=HYPERLINK("x")'] in everyone
    assert ["maria.lopez@example.com", "Maria"] in everyone

    readme = (out / "README.txt").read_text(encoding="utf-8")
    for tag in OPAQUE:
        assert f"contacts-{tag}.csv" in readme and f"{tag}.html" in readme
    assert "Single Send" in readme and "Upload CSV" in readme
    for name in names:
        assert not CONCERNS.search(name)
    for path in [out / "README.txt", *(out / f"contacts-{t}.csv" for t in OPAQUE)]:
        text = path.read_text(encoding="utf-8")
        assert not CONCERNS.search(text), path
        assert "Jaw & TMJ" not in text


def test_bundle_with_concern_tags_says_so(run, tmp_workspace):
    out = tmp_workspace / "build" / "sendgrid"
    allow_baa(tmp_workspace)
    result = run(
        "export", "2026-12", "--to", "sendgrid", "--out", str(out), "--concern-tags",
        cwd=tmp_workspace,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (out / "contacts-2026-12-tmj.csv").is_file()
    readme = (out / "README.txt").read_text(encoding="utf-8")
    assert "--concern-tags" in readme and "say nothing" not in readme


@pytest.mark.parametrize(
    ("resend", "rest"),
    [
        ("drop", "unknown"),  # the rest may have gone: unknown, never resent unasked
        ((502, {"errors": [{"message": "Bad Gateway"}]}), "unknown"),
        ((400, {"errors": [{"message": "Bad request", "field": "content.0.value"}]}), "deferred"),
    ],
)
def test_a_refused_recipient_stays_rejected_when_the_resend_of_the_rest_fails(
    run, tmp_workspace, http_server, monkeypatch, resend, rest
):
    """SendGrid named one bad address in a 400; the resend of the others then got no
    answer (or a 5xx after receiving it, or a 400 of its own): the refused patient is
    rejected with SendGrid's reason, not unknown or retried; only the rest is in doubt."""
    from tests.support import DROP

    monkeypatch.setenv("SENDGRID_API_KEY", KEY)
    allow_baa(tmp_workspace)
    bad = "james.whitfield@example.com"
    sizes: list[int] = []

    def mail_send(request):
        body = request.json()
        sizes.append(len(body["personalizations"]))
        for i, p in enumerate(body["personalizations"]):
            if p["to"][0]["email"] == bad:
                message = "Does not contain a valid address."
                field = f"personalizations.{i}.to.0.email"
                return 400, {"errors": [{"message": message, "field": field}]}
        if len(sizes) >= 2 and sizes[-2] == sizes[-1] + 1:  # the resend without the bad one
            return DROP if resend == "drop" else resend
        return 202, b""

    http_server.route("POST", r"/v3/mail/send", mail_send)
    result = push(run, tmp_workspace, http_server)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    found = status(run, tmp_workspace)
    assert [f["reason"] for f in found["failed"]] == ["Does not contain a valid address."]
    in_doubt = found["unknown"] if rest == "unknown" else found["deferred"]
    assert len(in_doubt) == sizes[-1]  # the rest of that batch, and only them
    if rest == "unknown":
        assert f"Its {sizes[-1]} patients are recorded as unknown" in result.output
