"""`chairside sync` against local HTTP servers that answer like each provider's API, with
several pages of suppressions."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest

from chairside.audience.suppression import read_suppressed
from chairside.returnpath.state import read_last_synced
from tests.support import assert_user_error


def _query(request) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(request.query).items()}


def _people(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{n}@example.com" for n in range(count)]


def _suppressed(workspace) -> frozenset[str]:
    return read_suppressed(workspace / "audiences/suppressed.csv")


@pytest.fixture
def sendgrid(http_server, monkeypatch):
    monkeypatch.setenv("SENDGRID_API_KEY", "SG.test-key")
    lists = {
        "unsubscribes": [
            {"email": e, "created": 1764600000 + i} for i, e in enumerate(_people("unsub", 1100))
        ],
        "bounces": [
            {
                "email": "hard@example.com",
                "created": 1764600000,
                "status": "5.1.1",
                "reason": "550 5.1.1 unknown user",
            },
            {
                "email": "full@example.com",
                "created": 1764600001,
                "status": "4.2.2",
                "reason": "452 mailbox full",
            },
        ],
        "spam_reports": [{"email": "spam@example.com", "created": 1764600002, "ip": "192.0.2.1"}],
        "invalid_emails": [],
    }

    def answer(name):
        def handler(request):
            query = _query(request)
            assert request.headers["authorization"] == "Bearer SG.test-key"
            offset, limit = int(query["offset"]), int(query["limit"])
            assert limit == 500
            return 200, lists[name][offset : offset + limit]

        return handler

    for name in lists:
        http_server.route("GET", f"/v3/suppression/{name}", answer(name))
    return http_server


def test_sendgrid_reads_every_page_of_every_list_once(sendgrid, tmp_workspace, run):
    result = run("sync", "--from", "sendgrid", "--api-base", sendgrid.url, cwd=tmp_workspace)
    assert result.exit_code == 0, result.output
    suppressed = _suppressed(tmp_workspace)
    assert set(_people("unsub", 1100)) <= suppressed
    assert {"hard@example.com", "spam@example.com"} <= suppressed
    assert "full@example.com" not in suppressed  # one soft bounce is counted, not suppressed
    offsets = [_query(r)["offset"] for r in sendgrid.requests if r.path.endswith("unsubscribes")]
    assert offsets == ["0", "500", "1000"]
    assert "everything (first sync)" in result.output
    assert "1102 added" in result.output
    assert "unsub0@example.com" not in result.output  # masked

    sendgrid.requests.clear()
    again = run("sync", "--from", "sendgrid", "--api-base", sendgrid.url, cwd=tmp_workspace)
    assert again.exit_code == 0, again.output
    assert "0 added" in again.output and "changes since 20" in again.output
    assert "new: 0 unsubscribes, 0 bounces, 0 soft bounces, 0 complaints" in again.output
    assert all("start_time" in _query(r) for r in sendgrid.requests)
    text = (tmp_workspace / "audiences/suppressed.csv").read_text()
    assert text.count("unsub7@example.com") == 1


def test_dry_run_changes_nothing(sendgrid, tmp_workspace, run):
    before = (tmp_workspace / "audiences/suppressed.csv").read_bytes()
    result = run(
        "sync", "--from", "sendgrid", "--api-base", sendgrid.url, "--dry-run", cwd=tmp_workspace
    )
    assert result.exit_code == 0, result.output
    assert "1102 would be added" in result.output
    assert (tmp_workspace / "audiences/suppressed.csv").read_bytes() == before
    assert not (tmp_workspace / ".chairside/returnpath.db").exists()


def test_mailchimp_members_cleaned_and_abuse_reports_with_paging(
    http_server, tmp_workspace, run, monkeypatch
):
    monkeypatch.setenv("MAILCHIMP_API_KEY", "abc123-us21")
    members = {
        "unsubscribed": _people("mc-unsub", 1500),
        "cleaned": ["maria.lopez@example.com"],
    }

    def list_members(request):
        query = _query(request)
        assert request.headers["authorization"].startswith("Basic ")
        people = members[query["status"]]
        offset, count = int(query["offset"]), int(query["count"])
        page = [
            {
                "email_address": e,
                "status": query["status"],
                "last_changed": "2026-12-02T10:00:00+00:00",
            }
            for e in people[offset : offset + count]
        ]
        return 200, {"members": page, "total_items": len(people)}

    http_server.route("GET", "/lists/a1b2c3/members", list_members)
    http_server.route(
        "GET",
        "/lists/a1b2c3/abuse-reports",
        lambda r: (
            200,
            {
                "abuse_reports": [
                    {
                        "email_address": "james.whitfield@example.com",
                        "date": "2026-12-03T08:00:00+00:00",
                        "campaign_id": "c1",
                    }
                ],
                "total_items": 1,
            },
        ),
    )
    args = ("sync", "--from", "mailchimp", "--api-base", http_server.url, "--audience-id", "a1b2c3")
    result = run(*args, cwd=tmp_workspace)
    assert result.exit_code == 0, result.output
    suppressed = _suppressed(tmp_workspace)
    assert set(members["unsubscribed"]) <= suppressed
    assert {"maria.lopez@example.com", "james.whitfield@example.com"} <= suppressed
    unsub_requests = [r for r in http_server.requests if "unsubscribed" in r.query]
    assert [_query(r)["offset"] for r in unsub_requests] == ["0", "1000"]
    assert "new: 1500 unsubscribes, 1 bounces, 0 soft bounces, 1 complaints" in result.output

    http_server.requests.clear()
    again = run(*args, cwd=tmp_workspace)
    assert "0 added" in again.output
    assert all(
        "since_last_changed" in _query(r) for r in http_server.requests if "members" in r.path
    )


def _mailgun(http_server, pages: dict[str, list[list[dict]]], *, next_host: str | None = None):
    def handler(name):
        def answer(request):
            page = int(_query(request).get("page", 0))
            items = pages[name][page] if page < len(pages[name]) else []
            host = next_host or http_server.url
            following = f"{host}/v3/mg.example.com/{name}?page={page + 1}&limit=1000"
            return 200, {"items": items, "paging": {"next": following, "first": "x"}}

        return answer

    for name in ("unsubscribes", "bounces", "complaints"):
        http_server.route("GET", f"/v3/mg.example.com/{name}", handler(name))


def test_mailgun_follows_next_urls_until_an_empty_page(
    http_server, tmp_workspace, run, monkeypatch
):
    monkeypatch.setenv("MAILGUN_API_KEY", "key-test")
    date = "Wed, 02 Dec 2026 10:00:00 UTC"
    pages = {
        "unsubscribes": [
            [{"address": e, "tags": ["*"], "created_at": date} for e in _people("mg-a", 1000)],
            [{"address": e, "tags": ["*"], "created_at": date} for e in _people("mg-b", 3)],
        ],
        "bounces": [
            [
                {
                    "address": "gone@example.com",
                    "code": "550",
                    "error": "No such user",
                    "created_at": date,
                }
            ]
        ],
        "complaints": [[{"address": "angry@example.com", "created_at": date}]],
    }
    _mailgun(http_server, pages)
    args = (
        "sync",
        "--from",
        "mailgun",
        "--api-base",
        http_server.url,
        "--domain",
        "mg.example.com",
    )
    result = run(*args, cwd=tmp_workspace)
    assert result.exit_code == 0, result.output
    suppressed = _suppressed(tmp_workspace)
    assert set(_people("mg-a", 1000) + _people("mg-b", 3)) <= suppressed
    assert {"gone@example.com", "angry@example.com"} <= suppressed
    unsub_pages = [r for r in http_server.requests if r.path.endswith("unsubscribes")]
    assert len(unsub_pages) == 3  # two pages with items, then the empty one
    assert "1005 added" in result.output
    assert "0 added" in run(*args, cwd=tmp_workspace).output


def test_mailgun_next_page_on_another_server_is_not_followed(
    http_server, tmp_workspace, run, monkeypatch
):
    monkeypatch.setenv("MAILGUN_API_KEY", "key-test")
    first = [{"address": "first@example.com", "created_at": "Wed, 02 Dec 2026 10:00:00 UTC"}]
    _mailgun(
        http_server,
        {"unsubscribes": [first, first], "bounces": [], "complaints": []},
        next_host="https://attacker.example.net",
    )
    result = run(
        "sync",
        "--from",
        "mailgun",
        "--api-base",
        http_server.url,
        "--domain",
        "mg.example.com",
        cwd=tmp_workspace,
    )
    assert_user_error(result, "another server", "attacker.example.net")
    assert "first@example.com" in _suppressed(tmp_workspace)  # the page read is kept


def test_missing_key_and_refused_key_are_clear(http_server, tmp_workspace, run, monkeypatch):
    monkeypatch.delenv("SENDGRID_API_KEY", raising=False)
    assert_user_error(run("sync", "--from", "sendgrid", cwd=tmp_workspace), "SENDGRID_API_KEY")
    monkeypatch.setenv("SENDGRID_API_KEY", "bad")
    http_server.route(
        "GET",
        "/v3/suppression/unsubscribes",
        lambda r: (401, {"errors": [{"message": "authorization required"}]}),
    )
    result = run("sync", "--from", "sendgrid", "--api-base", http_server.url, cwd=tmp_workspace)
    assert_user_error(result, "refused the API key", "SENDGRID_API_KEY")


def test_malformed_entries_are_skipped_and_endless_paging_stops(
    http_server, tmp_workspace, run, monkeypatch
):
    from chairside.returnpath import api

    monkeypatch.setenv("SENDGRID_API_KEY", "SG.key")
    monkeypatch.setattr(api, "MAX_PAGES", 3)
    odd = [1, "x", None, {"email": 42}, {"email": "ok@example.com", "created": "garbage"}]
    http_server.route("GET", "/v3/suppression/unsubscribes", lambda r: (200, odd + [{}] * 495))
    result = run("sync", "--from", "sendgrid", "--api-base", http_server.url, cwd=tmp_workspace)
    assert_user_error(result, "kept sending pages", "run the same command again")
    assert "ok@example.com" in _suppressed(tmp_workspace)
    assert len([r for r in http_server.requests if r.path.endswith("unsubscribes")]) == 3


def test_two_at_once_is_refused_by_name(sendgrid, tmp_workspace, run):
    from chairside.returnpath.state import one_at_a_time

    with one_at_a_time(tmp_workspace / ".chairside", "inbox"):
        result = run("sync", "--from", "sendgrid", "--api-base", sendgrid.url, cwd=tmp_workspace)
    assert_user_error(result, "`chairside inbox`", "is reading unsubscribes and bounces")
    assert sendgrid.requests == []
    assert (
        run("sync", "--from", "sendgrid", "--api-base", sendgrid.url, cwd=tmp_workspace).exit_code
        == 0
    )


def test_sendgrid_invalid_emails_and_the_unsubscribe_group_are_read_but_blocks_are_not(
    sendgrid, tmp_workspace, run
):
    practice = tmp_workspace / "practice.toml"
    practice.write_text(practice.read_text() + "\n[providers.sendgrid]\nunsubscribe_group = 4242\n")
    invalid = [
        {"email": e, "created": 1764600000, "reason": "Mail domain mentioned in email address"}
        for e in _people("typo", 600)
    ]
    sendgrid.routes = [r for r in sendgrid.routes if "invalid_emails" not in r[1].pattern]

    def invalid_page(request):
        query = _query(request)
        offset, limit = int(query["offset"]), int(query["limit"])
        return 200, invalid[offset : offset + limit]

    def group(request):
        assert request.headers["authorization"] == "Bearer SG.test-key"
        return 200, ["left-group@example.com", "also-left@example.com"]

    sendgrid.route("GET", "/v3/suppression/invalid_emails", invalid_page)
    sendgrid.route("GET", "/v3/asm/groups/4242/suppressions", group)
    args = ("sync", "--from", "sendgrid", "--api-base", sendgrid.url)
    result = run(*args, cwd=tmp_workspace)
    assert result.exit_code == 0, result.output
    suppressed = _suppressed(tmp_workspace)
    assert set(_people("typo", 600)) <= suppressed
    assert {"left-group@example.com", "also-left@example.com"} <= suppressed
    offsets = [_query(r)["offset"] for r in sendgrid.requests if "invalid_emails" in r.path]
    assert offsets == ["0", "500"]
    assert not [r for r in sendgrid.requests if "blocks" in r.path]  # the sender's problem
    assert "new: 1102 unsubscribes, 601 bounces" in result.output
    assert "1704 added" in result.output

    again = run(*args, cwd=tmp_workspace)
    assert "new: 0 unsubscribes, 0 bounces" in again.output, again.output
    text = (tmp_workspace / "audiences/suppressed.csv").read_text()
    assert text.count("left-group@example.com") == 1


def test_a_bad_unsubscribe_group_is_named_before_anything_is_read(sendgrid, tmp_workspace, run):
    practice = tmp_workspace / "practice.toml"
    practice.write_text(practice.read_text() + '\n[providers.sendgrid]\nunsubscribe_group = "x"\n')
    result = run("sync", "--from", "sendgrid", "--api-base", sendgrid.url, cwd=tmp_workspace)
    assert_user_error(result, "unsubscribe_group", "is not an unsubscribe group id")
    assert sendgrid.requests == []


@pytest.mark.parametrize("pages", [2, 12])
def test_sync_reads_suppressed_csv_a_fixed_number_of_times_whatever_the_pages(
    http_server, tmp_workspace, run, monkeypatch, pages
):
    # Linear, not quadratic: the file is read whole a fixed number of times per run (the
    # known set once, the first append read back once), never once per page.
    from chairside.audience import table

    monkeypatch.setenv("SENDGRID_API_KEY", "SG.key")
    people = [{"email": e, "created": 1764600000} for e in _people("p", 500 * pages - 7)]

    def unsubscribes(request):
        query = _query(request)
        offset, limit = int(query["offset"]), int(query["limit"])
        return 200, people[offset : offset + limit]

    http_server.route("GET", "/v3/suppression/unsubscribes", unsubscribes)
    for name in ("bounces", "invalid_emails", "spam_reports"):
        http_server.route("GET", f"/v3/suppression/{name}", lambda r: (200, []))
    suppressed_file = tmp_workspace / "audiences/suppressed.csv"
    whole_reads = []
    rows = table.Table.rows

    def counted(self):
        if self.path == suppressed_file:
            whole_reads.append(1)
        return rows(self)

    monkeypatch.setattr(table.Table, "rows", counted)
    result = run("sync", "--from", "sendgrid", "--api-base", http_server.url, cwd=tmp_workspace)
    assert result.exit_code == 0, result.output
    assert f"read {len(people)} records in {pages} pages" in result.output
    assert len(whole_reads) == 3
    monkeypatch.setattr(table.Table, "rows", rows)
    assert set(_people("p", len(people))) <= _suppressed(tmp_workspace)


def test_an_appender_notices_another_writer_between_its_batches(tmp_workspace):
    from chairside.audience.suppression import Appender, add_suppressions

    path = tmp_workspace / "audiences/suppressed.csv"
    appender = Appender(path)
    assert appender.add([("a@example.com", "bounced", "1")]).added == ["a@example.com"]
    assert appender.add([("b@example.com", "bounced", "2")]).added == ["b@example.com"]
    add_suppressions(path, [("c@example.com", "unsubscribed by phone", "typed")])
    result = appender.add([("c@example.com", "bounced", "3"), ("d@example.com", "bounced", "4")])
    assert (result.added, result.already) == (["d@example.com"], 1)
    text = path.read_text()
    assert text.count("c@example.com") == 1
    assert {"a@example.com", "b@example.com", "c@example.com", "d@example.com"} <= (
        read_suppressed(path)
    )


def test_an_unsubscribe_group_answered_with_garbage_keeps_what_was_read(
    sendgrid, tmp_workspace, run
):
    practice = tmp_workspace / "practice.toml"
    practice.write_text(practice.read_text() + "\n[providers.sendgrid]\nunsubscribe_group = 9\n")
    sendgrid.route("GET", "/v3/asm/groups/9/suppressions", lambda r: (200, {"error": "x"}))
    result = run("sync", "--from", "sendgrid", "--api-base", sendgrid.url, cwd=tmp_workspace)
    assert_user_error(result, "SendGrid answered /v3/asm/groups/9/suppressions", "is kept")
    assert set(_people("unsub", 1100)) <= _suppressed(tmp_workspace)  # the lists before it
    # Not complete, so not recorded as synced: the next run reads everything again.
    assert "sendgrid" not in read_last_synced(tmp_workspace / ".chairside")
