"""`chairside report`: a campaign's results from the ledger, what came back, and the
provider's opens and clicks; the table, --json, and the page with charts."""

from __future__ import annotations

import json
import re
import time
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import parse_qs

import lxml.html

from tests.support import assert_user_error, chromium

CONCERN_WORDS = ("tmj", "jaw", "neck", "shoulder", "myofascial")
KEY = "key-test"
DOMAIN = "mg.harbor.example"


def _send_over_smtp(run, workspace: Path, port: int) -> None:
    result = run("send", "2026-12", "--smtp-port", str(port), cwd=workspace)
    assert result.exit_code == 0, result.output


def _sendgrid_lists(http_server, monkeypatch, lists: dict[str, list[dict]]) -> None:
    monkeypatch.setenv("SENDGRID_API_KEY", "SG.key")
    for name in ("unsubscribes", "bounces", "invalid_emails", "spam_reports"):
        items = lists.get(name, [])
        http_server.route(
            "GET",
            f"/v3/suppression/{name}",
            lambda r, items=items: (200, items if "offset=0" in r.query else []),
        )


def test_report_counts_each_version_and_names_nobody(
    smtp_server, http_server, tmp_workspace, run, monkeypatch
):
    from chairside.audience.suppression import add_suppressions

    recorder, port = smtp_server
    _send_over_smtp(run, tmp_workspace, port)
    sent = set(recorder.recipients())
    assert run("unsubscribe", "maria.lopez@example.com", cwd=tmp_workspace).exit_code == 0
    add_suppressions(  # as a refusal at send time and a complaint read by hand leave them
        tmp_workspace / "audiences/suppressed.csv",
        [
            ("james.whitfield@example.com", "bounced: 550 5.1.1 no such user", "send"),
            ("priya.raman@example.com", "spam complaint", "typed"),
        ],
    )
    # SendGrid's word about a patient this campaign reached over SMTP is no bounce of it.
    other = sorted(sent - {"maria.lopez@example.com", "james.whitfield@example.com"})[0]
    later = int(time.time()) + 5
    _sendgrid_lists(
        http_server,
        monkeypatch,
        {"bounces": [{"email": other, "created": later, "status": "5.1.1"}]},
    )
    assert (
        run(
            "sync", "--from", "sendgrid", "--api-base", http_server.url, cwd=tmp_workspace
        ).exit_code
        == 0
    )

    result = run("report", "2026-12", "--json", "--offline", cwd=tmp_workspace)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["overall"]["sent"] == len(sent)
    assert sum(v["sent"] for v in data["versions"]) == len(sent)
    assert data["overall"]["unsubscribed"] == 1
    assert data["overall"]["bounced"] == 1
    assert data["overall"]["complaints"] == 1
    assert data["overall"]["opens"] is None  # SMTP: nobody counts opens
    by_id = {v["id"]: v for v in data["versions"]}
    variants = {r["email"]: r["variant"] for r in _rows(tmp_workspace)}
    assert by_id[variants["maria.lopez@example.com"]]["unsubscribed"] == 1
    assert by_id[variants["priya.raman@example.com"]]["complaints"] == 1
    assert all(v["label"] == "" for v in data["versions"])

    page = (tmp_workspace / "build/2026-12/report.html").read_text()
    _assert_offline_page(page)
    assert "@" not in page  # no address
    assert not any(word in page.lower() for word in CONCERN_WORDS)
    shown = run("report", "2026-12", "--show", "--offline", cwd=tmp_workspace)
    assert "Jaw" in shown.output or "Neck" in shown.output
    assert "Jaw" in (tmp_workspace / "build/2026-12/report.html").read_text()

    table = run("report", "2026-12", "--offline", cwd=tmp_workspace)
    assert table.exit_code == 0
    delivered = len(sent) - 1
    assert re.search(rf"overall\s+{len(sent)}\s+{delivered}\s+0\s+1\s+1\s+1\s+-\s+-", table.output)


def _rows(workspace: Path) -> list[dict]:
    import sqlite3

    with sqlite3.connect(workspace / ".chairside/state.db") as db:
        return [
            {"email": e, "variant": v}
            for e, v in db.execute(
                "SELECT email, variant FROM deliveries WHERE campaign = '2026-12'"
            )
        ]


def _assert_offline_page(page: str) -> None:
    tree = lxml.html.document_fromstring(page)
    assert not tree.xpath("//script | //link | //img | //iframe | //object")
    assert tree.xpath("//svg"), "charts are inlined as SVG"
    for element in tree.iter():
        for name, value in element.attrib.items():
            if name in ("src", "href") or name.endswith("}href"):
                assert not value.startswith(("http:", "https:", "//")), (name, value)
    assert "url(http" not in page and "@import" not in page


def test_mailgun_opens_clicks_and_most_clicked_articles(
    http_server, tmp_workspace, run, monkeypatch
):
    monkeypatch.setenv("MAILGUN_API_KEY", KEY)
    http_server.route(
        "POST", rf"/v3/{DOMAIN}/messages", lambda r: (200, {"id": "<1@x>", "message": "Queued."})
    )
    pushed = run(
        "export",
        "2026-12",
        "--to",
        "mailgun",
        "--push",
        "--api-base",
        http_server.url,
        "--domain",
        DOMAIN,
        "--without-baa",
        cwd=tmp_workspace,
    )
    assert pushed.exit_code == 0, pushed.output
    rows = _rows(tmp_workspace)
    tags = sorted({r["variant"] for r in rows})
    per_tag = {t: sum(1 for r in rows if r["variant"] == t) for t in tags}
    article = "https://harborlanedental.example.com/blog/night-guards-for-grinding"

    # Every patient opens on 1 and again on 2 December; the first of each version clicks
    # the article three times. Mailgun's per-day unique counts, added up, make 200 %.
    opened = [(r["email"], r["variant"], day) for r in rows for day in ("01", "02")]
    asked = []

    def metrics(request):
        body = request.json()
        asked.append(body)
        for moment in (body["start"], body["end"]):
            assert parsedate_to_datetime(moment).tzinfo is not None  # RFC 2822
        where = {f["attribute"]: [v["value"] for v in f["values"]] for f in body["filter"]["AND"]}
        assert where["domain"] == [DOMAIN] and set(where["tag"]) == set(tags)
        if body["dimensions"] == ["tag"]:
            items = [
                {
                    "dimensions": [{"dimension": "tag", "value": t, "display_value": t}],
                    "metrics": {
                        "delivered_count": per_tag[t],
                        "unique_opened_count": len({e for e, v, _ in opened if v == t}),
                        "unique_clicked_count": 1,
                    },
                }
                for t in where["tag"]
            ]
        else:
            assert body["dimensions"] == ["time"] and body["resolution"] == "day"
            items = [
                {
                    "dimensions": [
                        {"dimension": "time", "value": f"Tue, {d} Dec 2026 00:00:00 +0000"}
                    ],
                    "metrics": {
                        "opened_count": sum(1 for *_, day in opened if day == d),
                        "clicked_count": 3 * len(tags) if d == "01" else 0,
                    },
                }
                for d in ("01", "02")
            ]
        return 200, {
            "start": body["start"],
            "end": body["end"],
            "resolution": "day",
            "dimensions": body["dimensions"],
            "items": items,
            "pagination": {"sort": "", "skip": 0, "limit": 1500, "total": len(items)},
            "aggregates": {"metrics": {}},
        }

    clicks = [
        {
            "id": f"c{n}",
            "event": "clicked",
            "@timestamp": "2026-12-01T10:00:00.000Z",
            "url": f"{article}?utm_source=newsletter&utm_medium=email",
            "tags": [t],
        }
        for n, t in enumerate(tags * 3)
    ]
    clicks.append({"id": "b", "event": "clicked", "url": "https://harborlanedental.example.com/x"})

    def logs(request):
        body = request.json()
        assert body["events"] == ["clicked"] and body["pagination"]["sort"] == "timestamp:asc"
        limit = body["pagination"]["limit"]
        start = int(body["pagination"].get("token", "0"))
        page = clicks[start : start + limit]
        following = str(start + limit) if start + limit < len(clicks) else None
        return 200, {
            "start": body["start"],
            "end": body["end"],
            "items": page,
            "pagination": {"next": following, "previous": None, "total": len(clicks)},
            "aggregates": {},
        }

    http_server.route("POST", "/v1/analytics/metrics", metrics)
    http_server.route("POST", "/v1/analytics/logs", logs)
    monkeypatch.setattr("chairside.returnpath.mailgun.LOG_PAGE", 2)  # several pages of logs
    monkeypatch.setenv("CHAIRSIDE_MAILGUN_API_BASE", http_server.url)
    with (tmp_workspace / "practice.toml").open("a") as handle:
        handle.write(f'\n[providers.mailgun]\ndomain = "{DOMAIN}"\n')
    result = run("report", "2026-12", "--json", cwd=tmp_workspace)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    for version in data["versions"]:
        assert version["sent"] == per_tag[version["id"]]
        assert (version["opens"], version["clicks"]) == (per_tag[version["id"]], 1)
        assert version["delivered"] == per_tag[version["id"]]
    assert data["overall"]["opens"] == len(rows)  # 100 %, not the 200 % of days added up
    assert data["by_day"] == [
        {"date": "2026-12-01", "opens": len(rows), "clicks": 3 * len(tags)},
        {"date": "2026-12-02", "opens": len(rows), "clicks": 0},
    ]
    top = data["top_links"][0]
    assert top["title"].startswith("Night Guards for Grinding")
    assert top["clicks"] == 3 * len(tags)
    deprecated = [r.path for r in http_server.requests if "/stats" in r.path or "/events" in r.path]
    assert deprecated == []
    assert len([r for r in http_server.requests if r.path == "/v1/analytics/logs"]) > 2
    page = (tmp_workspace / "build/2026-12/report.html").read_text()
    _assert_offline_page(page)
    assert "Opened and clicked" in page and "Most clicked" in page
    assert "1 December 2026" in page  # the chart by day, and its table
    for rate in re.findall(r"(\d+(?:\.\d+)?)%", result.stdout + page):
        assert float(rate) <= 100, rate


def test_report_of_a_campaign_never_sent_is_a_clear_error(tmp_workspace, run):
    assert_user_error(
        run("report", "2026-12", cwd=tmp_workspace), "Nothing of 2026-12 has been sent"
    )


def test_report_page_renders_offline_in_a_real_browser(smtp_server, tmp_workspace, run):
    _send_over_smtp(run, tmp_workspace, smtp_server[1])
    assert run("report", "2026-12", "--offline", cwd=tmp_workspace).exit_code == 0
    page_file = tmp_workspace / "build/2026-12/report.html"
    quiet = page_file.read_text()
    # Nothing came back yet: no empty chart (its axis ran from -0.04 to 0.04), a sentence.
    assert "<svg" not in quiet
    assert "No opens or clicks recorded yet" in quiet
    assert "No bounces, unsubscribes or complaints recorded yet" in quiet
    assert run("unsubscribe", "mei.lin@example.com", cwd=tmp_workspace).exit_code == 0
    assert run("report", "2026-12", "--offline", cwd=tmp_workspace).exit_code == 0
    with chromium() as browser:
        page = browser.new_page()
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(page_file.as_uri())
        charts = page.locator("svg")
        assert charts.count() == 1
        box = charts.first.bounding_box()
        assert box and box["width"] > 300 and box["height"] > 100
        assert page.locator("h1").inner_text().startswith("2026-12")
        assert page.get_by_text("No opens or clicks recorded yet").is_visible()
        assert [u for u in requests if not u.startswith("file:")] == []
        assert errors == []


def _pushed(workspace: Path, via: str, tags: dict[str, list[str]]) -> None:
    """The ledger as a push to `via` leaves it: each tag's members sent, its steps."""
    from chairside.ledger import open_ledger

    with open_ledger(workspace / ".chairside") as ledger:
        for number, (tag, emails) in enumerate(tags.items(), 1):
            batch = f"{via}:{tag}:{number}"
            ledger.mark_batch_sending("2026-12", via, batch, [(e, e, tag) for e in emails])
            ledger.finish_batch("2026-12", batch, reply="200")
            ledger.record_step("2026-12", via, f"campaign {tag}", f"mc-{number}")


def test_mailchimp_reports_and_click_details(http_server, tmp_workspace, run, monkeypatch):
    monkeypatch.setenv("MAILCHIMP_API_KEY", "abc-us21")
    monkeypatch.delenv("MAILCHIMP_AUDIENCE_ID", raising=False)  # reports go by campaign id
    _pushed(
        tmp_workspace,
        "mailchimp",
        {
            "2026-12-a": [f"a{n}@example.com" for n in range(10)],
            "2026-12-c": [f"c{n}@example.com" for n in range(20)],
        },
    )
    opens = {"mc-1": 5, "mc-2": 8}
    http_server.route(
        "GET",
        r"/reports/mc-\d",
        lambda r: (
            200,
            {
                "id": r.path.rsplit("/", 1)[1],
                "emails_sent": 10,
                "opens": {"opens_total": 40, "unique_opens": opens[r.path.rsplit("/", 1)[1]]},
                "clicks": {"clicks_total": 9, "unique_subscriber_clicks": 2},
            },
        ),
    )
    http_server.route(
        "GET",
        r"/reports/mc-\d/click-details",
        lambda r: (
            200,
            {
                "urls_clicked": [
                    {
                        "url": "https://harborlanedental.example.com/blog/night-guards-for-grinding?utm_source="
                        "newsletter&utm_medium=email&utm_campaign=2026-12",
                        "total_clicks": 7,
                        "unique_clicks": 4,
                    }
                ]
            },
        ),
    )
    result = run("report", "2026-12", "--json", "--api-base", http_server.url, cwd=tmp_workspace)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {v["id"]: (v["sent"], v["opens"], v["clicks"]) for v in data["versions"]} == {
        "2026-12-a": (10, 5, 2),
        "2026-12-c": (20, 8, 2),
    }
    assert data["top_links"][0]["clicks"] == 8
    assert data["top_links"][0]["title"].startswith("Night Guards")


def test_sendgrid_stats_by_category(http_server, tmp_workspace, run, monkeypatch):
    monkeypatch.setenv("SENDGRID_API_KEY", "SG.key")
    _pushed(tmp_workspace, "sendgrid", {"2026-12-a": ["a@example.com", "b@example.com"]})
    seen = []

    def bucket(date, **metrics):
        return {
            "date": date,
            "stats": [{"type": "category", "name": "2026-12-a", "metrics": metrics}],
        }

    def stats(request):
        # Both patients open on both days, one clicks on the first: per-day unique opens
        # added up would be 4 of 2 (200 %).
        query = parse_qs(request.query)
        seen.append(query)
        if query["aggregated_by"] == ["day"]:
            return 200, [
                bucket("2026-12-01", opens=3, unique_opens=2, clicks=1, unique_clicks=1),
                bucket("2026-12-02", opens=2, unique_opens=2, clicks=0, unique_clicks=0),
            ]
        return 200, [bucket("2026-12-01", delivered=2, unique_opens=2, unique_clicks=1)]

    http_server.route("GET", "/v3/categories/stats", stats)
    result = run("report", "2026-12", "--api-base", http_server.url, cwd=tmp_workspace)
    assert result.exit_code == 0, result.output
    assert re.search(r"2026-12-a\s+2\s+2\s+0\s+0\s+0\s+0\s+100\.0%\s+50\.0%", result.output)
    assert seen[0]["categories"] == ["2026-12-a"] and "start_date" in seen[0]
    assert {q["aggregated_by"][0] for q in seen} == {"month", "day"}
    data = json.loads((tmp_workspace / "build/2026-12/report.json").read_text())
    assert [(d["opens"], d["clicks"]) for d in data["by_day"]] == [(3, 1), (2, 0)]


def test_one_click_unsubscribes_by_token_are_counted(smtp_server, tmp_workspace, run):
    from chairside.tokens import Tokens, load_key

    _send_over_smtp(run, tmp_workspace, smtp_server[1])
    token = Tokens(load_key(tmp_workspace / ".chairside"))("mei.lin@example.com")
    assert run("unsubscribe", "--token", token, cwd=tmp_workspace).exit_code == 0
    data = json.loads(run("report", "2026-12", "--json", "--offline", cwd=tmp_workspace).stdout)
    assert data["overall"]["unsubscribed"] == 1
    variant = next(
        r["variant"] for r in _rows(tmp_workspace) if r["email"] == "mei.lin@example.com"
    )
    assert next(v for v in data["versions"] if v["id"] == variant)["unsubscribed"] == 1


def test_after_a_real_mailchimp_push_the_report_asks_for_each_campaign_it_made(
    http_server, tmp_workspace, run, monkeypatch
):
    from tests.test_provider_mailchimp import KEY as MC_KEY
    from tests.test_provider_mailchimp import LIST, FakeMailchimp

    monkeypatch.setenv("MAILCHIMP_API_KEY", MC_KEY)
    fake = FakeMailchimp(http_server)
    pushed = run(
        "export",
        "2026-12",
        "--to",
        "mailchimp",
        "--push",
        "--api-base",
        http_server.url,
        "--audience-id",
        LIST,
        "--without-baa",
        "--retry-delay",
        "0",
        cwd=tmp_workspace,
    )
    assert pushed.exit_code == 0, pushed.output
    title = {cid: c["create"]["settings"]["title"] for cid, c in fake.campaigns.items()}
    opens = {cid: 3 + n for n, cid in enumerate(title)}
    http_server.route(
        "GET",
        r"/reports/c\d+",
        lambda r: (
            200,
            {
                "opens": {"unique_opens": opens[r.path.split("/")[2]]},
                "clicks": {"unique_subscriber_clicks": 1},
            },
        ),
    )
    http_server.route("GET", r"/reports/c\d+/click-details", lambda r: (200, {"urls_clicked": []}))
    result = run("report", "2026-12", "--json", "--api-base", http_server.url, cwd=tmp_workspace)
    assert result.exit_code == 0, result.output
    versions = {v["id"]: v for v in json.loads(result.stdout)["versions"]}
    assert {versions[tag]["opens"] for tag in title.values()} == set(opens.values())
    for cid, tag in title.items():
        assert versions[tag]["opens"] == opens[cid]


def test_a_push_with_concern_tags_is_reported_by_opaque_ids_unless_show(
    http_server, tmp_workspace, run, monkeypatch
):
    """--concern-tags names the concern at the provider (the practice opted in there); the
    report, its --json and its page still name versions by opaque id only, unless --show."""
    from chairside.audience.segments import load_segments
    from chairside.campaign import load_campaign
    from chairside.workspace import Workspace
    from tests.test_provider_mailchimp import KEY as MC_KEY
    from tests.test_provider_mailchimp import LIST, FakeMailchimp

    monkeypatch.setenv("MAILCHIMP_API_KEY", MC_KEY)
    fake = FakeMailchimp(http_server)
    pushed = run(
        "export", "2026-12", "--to", "mailchimp", "--push", "--concern-tags",
        "--api-base", http_server.url, "--audience-id", LIST, "--without-baa",
        "--retry-delay", "0",
        cwd=tmp_workspace,
    )  # fmt: skip
    assert pushed.exit_code == 0, pushed.output
    workspace = Workspace(tmp_workspace)
    campaign = load_campaign(workspace, "2026-12", load_segments(workspace.segments_file))
    concerns = [v for v in campaign.variants if v.segment.id != "general"]
    assert concerns and {r["variant"] for r in _rows(tmp_workspace)} >= {
        f"2026-12-{v.segment.id}" for v in concerns
    }  # the push really recorded concern tags
    title = {cid: c["create"]["settings"]["title"] for cid, c in fake.campaigns.items()}
    opens = {cid: 3 + n for n, cid in enumerate(title)}
    http_server.route(
        "GET",
        r"/reports/c\d+",
        lambda r: (
            200,
            {
                "opens": {"unique_opens": opens[r.path.split("/")[2]]},
                "clicks": {"unique_subscriber_clicks": 1},
            },
        ),
    )
    http_server.route("GET", r"/reports/c\d+/click-details", lambda r: (200, {"urls_clicked": []}))
    api = ("--api-base", http_server.url)
    table = run("report", "2026-12", *api, cwd=tmp_workspace)
    as_json = run("report", "2026-12", "--json", *api, cwd=tmp_workspace)
    assert table.exit_code == 0 and as_json.exit_code == 0, table.output + as_json.output
    page = (tmp_workspace / "build/2026-12/report.html").read_text()
    versions = {v["id"]: v for v in json.loads(as_json.stdout)["versions"]}
    assert set(versions) == {v.id for v in campaign.variants}
    # Opens still reach their version: asked by concern tag, counted under the opaque id.
    by_tag = {f"2026-12-{v.segment.id}": v.id for v in campaign.variants}
    for cid, tag in title.items():
        assert versions[by_tag[tag]]["opens"] == opens[cid]
    for output in (table.output, as_json.stdout, page):
        for variant in concerns:
            for secret in (variant.segment.id, variant.segment.name):
                assert secret.lower() not in output.lower(), (secret, output)
    shown = run("report", "2026-12", "--show", *api, cwd=tmp_workspace)
    assert concerns[0].segment.name[:5] in shown.output


def _sent(workspace: Path, campaign: str, via: str, tags: dict[str, list[str]]) -> None:
    """The ledger as a send of `campaign` over `via` leaves it."""
    from chairside.ledger import open_ledger

    with open_ledger(workspace / ".chairside") as ledger:
        for number, (tag, emails) in enumerate(tags.items(), 1):
            batch = f"{via}:{campaign}:{tag}:{number}"
            ledger.mark_batch_sending(campaign, via, batch, [(e, e, tag) for e in emails])
            ledger.finish_batch(campaign, batch, reply="250")


def _event(workspace: Path, source: str, kind: str, email: str, campaign: str) -> None:
    """What the inbox or a sync records (each tested on its own elsewhere)."""
    from chairside.returnpath.state import Event, ReturnState, now

    state = ReturnState(workspace / ".chairside")
    try:
        key = f"{source}:{kind}:{email}"
        state.add_event(Event(key, source, kind, email, campaign, "test", now()))
    finally:
        state.close()


def test_a_bounce_counts_only_for_the_route_it_came_back_on(tmp_workspace, run):
    people = [f"p{n}@example.com" for n in range(4)]
    _sent(tmp_workspace, "2026-11", "smtp", {"2026-11-a": people[:1]})
    _sent(tmp_workspace, "2026-12", "mailgun", {"2026-12-a": people[:2]})
    _sent(tmp_workspace, "2026-12", "smtp", {"2026-12-b": people[2:]})
    _event(tmp_workspace, "inbox", "bounce", people[0], "2026-12")  # an SMTP bounce: not ours
    _event(tmp_workspace, "mailgun", "bounce", people[1], "2026-12")
    _event(tmp_workspace, "mailgun", "complaint", people[2], "2026-12")  # went by SMTP
    _event(tmp_workspace, "inbox", "bounce", people[3], "2026-12")
    _event(tmp_workspace, "inbox", "unsubscribe", people[0], "2026-12")  # any route's reply
    result = run("report", "2026-12", "--json", "--offline", cwd=tmp_workspace)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    versions = {v["id"]: v for v in data["versions"]}
    assert (versions["2026-12-a"]["bounced"], versions["2026-12-b"]["bounced"]) == (1, 1)
    assert versions["2026-12-b"]["complaints"] == 0
    assert versions["2026-12-a"]["unsubscribed"] == 1
    assert (versions["2026-12-a"]["delivered"], versions["2026-12-b"]["delivered"]) == (1, 1)
    november = next(c for c in data["campaigns"] if c["campaign"] == "2026-11")
    assert november["bounced"] == 1  # where the SMTP bounce lands


def test_this_month_beside_earlier_campaigns(http_server, tmp_workspace, run, monkeypatch):
    _sent(tmp_workspace, "2026-10", "smtp", {"2026-10-a": [f"o{n}@example.com" for n in range(8)]})
    _sent(tmp_workspace, "2026-11", "smtp", {"2026-11-a": [f"n{n}@example.com" for n in range(5)]})
    _event(tmp_workspace, "inbox", "unsubscribe", "n1@example.com", "2026-11")
    earlier = tmp_workspace / "build/2026-11/report.json"
    earlier.parent.mkdir(parents=True)
    earlier.write_text(json.dumps({"overall": {"opens": 2, "clicks": 1}}))
    _sent(tmp_workspace, "2026-12", "smtp", {"2026-12-a": [f"d{n}@example.com" for n in range(4)]})
    result = run("report", "2026-12", "--json", "--offline", cwd=tmp_workspace)
    assert result.exit_code == 0, result.output
    campaigns = json.loads(result.stdout)["campaigns"]
    assert [c["campaign"] for c in campaigns] == ["2026-10", "2026-11", "2026-12"]
    november = campaigns[1]
    assert (november["sent"], november["unsubscribed"], november["opens"]) == (5, 1, 2)
    assert campaigns[0]["opens"] is None  # never reported: unknown, not 0
    table = run("report", "2026-12", "--offline", cwd=tmp_workspace).output
    assert "beside earlier campaigns" in table and "<- this one" in table
    page = (tmp_workspace / "build/2026-12/report.html").read_text()
    assert "Beside earlier campaigns" in page and "2026-12 (this one)" in page
    tree = lxml.html.document_fromstring(page)
    assert tree.xpath(
        '//figure[@aria-label="Delivered, unsubscribed and opened for each campaign"]/svg'
    )


def test_a_provider_count_above_those_sent_is_shown_as_100_percent(
    http_server, tmp_workspace, run, monkeypatch
):
    monkeypatch.setenv("MAILCHIMP_API_KEY", "abc-us21")
    _pushed(tmp_workspace, "mailchimp", {"2026-12-a": [f"a{n}@example.com" for n in range(4)]})
    http_server.route(
        "GET",
        r"/reports/mc-1",
        lambda r: (
            200,
            {
                "emails_sent": 4,
                "opens": {"unique_opens": 5},
                "clicks": {"unique_subscriber_clicks": 1},
            },
        ),
    )
    http_server.route("GET", r"/reports/mc-1/click-details", lambda r: (200, {"urls_clicked": []}))
    result = run("report", "2026-12", "--api-base", http_server.url, cwd=tmp_workspace)
    assert result.exit_code == 0, result.output
    assert "100.0%" in result.output and "more opens than messages sent" in result.output
    page = (tmp_workspace / "build/2026-12/report.html").read_text()
    assert not [r for r in re.findall(r"(\d+(?:\.\d+)?)%", page) if float(r) > 100]


def test_a_provider_answering_garbage_is_a_note_and_the_rest_is_reported(
    http_server, tmp_workspace, run, monkeypatch
):
    monkeypatch.setenv("MAILGUN_API_KEY", KEY)
    _pushed(tmp_workspace, "mailgun", {"2026-12-a": ["a@example.com", "b@example.com"]})
    with (tmp_workspace / "practice.toml").open("a") as handle:
        handle.write(f'\n[providers.mailgun]\ndomain = "{DOMAIN}"\n')
    http_server.route("POST", "/v1/analytics/metrics", lambda r: (200, b"<html>Gateway</html>"))
    result = run("report", "2026-12", "--json", "--api-base", http_server.url, cwd=tmp_workspace)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["overall"]["sent"] == 2 and data["overall"]["opens"] is None
    assert "not JSON" in data["unanswered"]["mailgun"]
    page = (tmp_workspace / "build/2026-12/report.html").read_text()
    assert "Mailgun gave no opens or clicks" in page and "No opens or clicks recorded yet" in page


def test_sendgrid_months_are_never_added_up(http_server, tmp_workspace, run, monkeypatch):
    monkeypatch.setenv("SENDGRID_API_KEY", "SG.key")
    _pushed(tmp_workspace, "sendgrid", {"2026-12-a": [f"p{n}@example.com" for n in range(4)]})

    def stats(request):
        months = [("2026-12-01", 3), ("2027-01-01", 2)]  # some of January's opened in December
        if "aggregated_by=day" in request.query:
            return 200, []
        return 200, [
            {
                "date": date,
                "stats": [
                    {
                        "type": "category",
                        "name": "2026-12-a",
                        "metrics": {"unique_opens": opens, "unique_clicks": 1, "delivered": 2},
                    }
                ],
            }
            for date, opens in months
        ]

    http_server.route("GET", "/v3/categories/stats", stats)
    result = run("report", "2026-12", "--json", "--api-base", http_server.url, cwd=tmp_workspace)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["overall"]["opens"] == 3  # the busiest month, not 5 of 4
    assert any("busiest month" in note for note in data["notes"])
    assert not any("2026-12-a" in note for note in data["notes"])


def test_refusals_of_the_practices_mail_are_an_alarm_in_the_report(tmp_workspace, run):
    from chairside.returnpath.state import Refusal, ReturnState, now

    people = [f"p{n}@example.com" for n in range(3)]
    _sent(tmp_workspace, "2026-12", "smtp", {"2026-12-a": people})
    state = ReturnState(tmp_workspace / ".chairside")
    try:
        for number, email in enumerate(people[:2]):
            state.add_refusal(
                Refusal(f"r{number}", "2026-12", "Gmail", email, "spam-like", "5.7.1", now())
            )
        state.add_refusal(Refusal("r9", "2026-11", "Yahoo", people[2], "blocked", "5.7.1", now()))
    finally:
        state.close()
    result = run("report", "2026-12", "--offline", cwd=tmp_workspace)
    assert result.exit_code == 0, result.output
    assert "Gmail refused 2 messages as spam-like" in result.output
    assert "Yahoo" not in result.output  # another campaign's
    assert "p0@example.com" not in result.output
