"""The doctor's other areas: each provider's key tried with one read-only request (a real
local HTTP server checks the request's shape), the provider's word on domain authentication,
recent refusals read from what `inbox` recorded, and the practice's details."""

from __future__ import annotations

from chairside.doctor.details import check_details
from chairside.doctor.providers import check_providers
from chairside.doctor.refusals import check_refusals
from chairside.doctor.results import Report
from chairside.workspace import Workspace, load_practice

DOMAIN = "harborlanedental.example.com"


def with_providers(root, text: str):
    path = root / "practice.toml"
    path.write_text(path.read_text() + "\n" + text)
    return load_practice(Workspace(root))


def test_each_provider_key_is_tried_with_one_read_only_request(
    tmp_workspace, http_server, monkeypatch
):
    practice = with_providers(
        tmp_workspace,
        '[providers.sendgrid]\n[providers.mailgun]\ndomain = "mg.example.com"\n'
        "[providers.mailchimp]\n",
    )
    for name in ("SENDGRID", "MAILGUN", "MAILCHIMP"):
        monkeypatch.setenv(f"CHAIRSIDE_{name}_API_BASE", http_server.url)
    monkeypatch.setenv("SENDGRID_API_KEY", "SG.key")
    monkeypatch.setenv("MAILGUN_API_KEY", "mg-key")
    monkeypatch.setenv("MAILCHIMP_API_KEY", "mc-key-us21")
    http_server.route("GET", "/v3/scopes", lambda r: (200, {"scopes": ["mail.send"]}))
    http_server.route(
        "GET", "/v3/whitelabel/domains", lambda r: (200, [{"domain": DOMAIN, "valid": False}])
    )
    http_server.route(
        "GET", "/v3/domains/mg.example.com", lambda r: (200, {"domain": {"state": "active"}})
    )
    http_server.route("GET", "/3.0/ping", lambda r: (401, {"detail": "bad key"}))
    report = Report()
    check_providers(practice, report)

    found = {c.name: (c.status, c.message) for c in report.checks}
    assert found["SendGrid"] == ("ok", "the API key works")
    assert found["SendGrid domain"][0] == "problem"
    assert "not authenticated yet" in found["SendGrid domain"][1]
    assert found["Mailgun domain"] == ("ok", "Mailgun says mg.example.com is authenticated")
    assert (
        found["Mailchimp"][0] == "problem" and "refused the API key (401)" in found["Mailchimp"][1]
    )
    assert {r.method for r in http_server.requests} == {"GET"}  # nothing created or sent
    by_path = {r.path: r for r in http_server.requests}
    assert by_path["/v3/scopes"].headers["authorization"] == "Bearer SG.key"
    assert by_path["/v3/domains/mg.example.com"].headers["authorization"].startswith("Basic ")


def test_a_provider_without_a_key_says_where_to_put_it(tmp_workspace, monkeypatch):
    monkeypatch.delenv("SENDGRID_API_KEY", raising=False)
    practice = with_providers(tmp_workspace, "[providers.sendgrid]\n")
    report = Report()
    check_providers(practice, report)
    (check,) = report.checks
    assert check.status == "problem" and "SENDGRID_API_KEY" in check.message


def test_refusals_are_counted_by_receiver_with_a_likely_cause(tmp_path, monkeypatch):
    """What `inbox` records (returnpath.state), read back by the doctor."""
    from chairside.returnpath.state import Refusal, ReturnState

    monkeypatch.setenv("CHAIRSIDE_NOW", "2026-12-20T10:00:00+00:00")
    state = ReturnState(tmp_path)
    rows = [
        ("Gmail", "not authenticated", "5.7.26 unauthenticated email from x is not accepted"),
        ("Gmail", "not authenticated", "5.7.26 unauthenticated email"),
        ("Outlook", "blocked", "5.7.1 listed at Spamhaus"),
    ]
    try:
        for number, (provider, reason, detail) in enumerate(rows):
            state.add_refusal(
                Refusal(
                    f"k{number}",
                    "2026-12",
                    provider,
                    f"p{number}@example.com",
                    reason,
                    detail,
                    "2026-12-10T09:00:00+00:00",
                )
            )
        state.add_refusal(
            Refusal(
                "old",
                "2026-01",
                "Yahoo",
                "p9@example.com",
                "blocked",
                "5.7.9",
                "2026-01-10T09:00:00+00:00",
            )
        )
    finally:
        state.close()
    report = Report()
    check_refusals(tmp_path, report)
    found = {c.name: c.message for c in report.checks}
    assert "refused 2 of the practice's messages" in found["Refused by Gmail"]
    assert "not authenticated" in found["Refused by Gmail"]
    assert "blocklist" in found["Refused by Outlook"]
    assert "Refused by Yahoo" not in found  # older than the window


def test_no_record_of_refusals_is_ok_and_a_damaged_one_is_no_finding(tmp_path):
    report = Report()
    check_refusals(tmp_path, report)
    assert report.checks[0].status == "ok"
    (tmp_path / "returnpath.db").write_bytes(b"not a database")
    report = Report()
    check_refusals(tmp_path, report)
    assert [c.status for c in report.checks] == ["ok"]


def test_placeholders_left_by_init_and_dead_links_are_problems(tmp_workspace, http_server):
    path = tmp_workspace / "practice.toml"
    text = path.read_text().replace('phone = "(360) 555-0142"', 'phone = "TODO: the phone"')
    text = text.replace("https://harborlanedental.example.com/book", f"{http_server.url}/book")
    path.write_text(text.replace('https://harborlanedental.example.com"', f'{http_server.url}/"'))
    http_server.route("GET", "/", lambda r: (200, b"<html></html>"))
    practice = load_practice(Workspace(tmp_workspace))
    report = Report()
    check_details(practice, report, online=True)
    found = {c.name: (c.status, c.message) for c in report.checks}
    assert found["Details"] == ("problem", "Still a placeholder (TODO): phone.")
    assert found["Website"][0] == "ok"
    assert found["Booking link"] == ("problem", f"{http_server.url}/book answers 404.")
    report = Report()
    check_details(practice, report, online=False)  # offline: no request at all
    assert [c.name for c in report.checks] == ["Details"]


def test_the_mailbox_logs_in_and_says_where_unsubscribes_go(tmp_workspace, monkeypatch):
    import shutil

    from chairside.doctor.servers import check_imap
    from tests.imap_server import DOVECOT, PASSWORD, USER, Dovecot
    from tests.support import need

    need("Debian's dovecot-imapd", shutil.which(DOVECOT) is not None)
    server = Dovecot()
    server.start()
    try:
        with (tmp_workspace / "practice.toml").open("a") as handle:
            handle.write(
                f'\n[imap]\nhost = "127.0.0.1"\nport = {server.port}\nuser = "{USER}"\n'
                "tls = false\n"
            )
        workspace = Workspace(tmp_workspace)
        practice = load_practice(workspace)
        monkeypatch.setenv("CHAIRSIDE_IMAP_PASSWORD", PASSWORD)
        report = Report()
        check_imap(workspace, practice, report)
        found = {c.name: (c.status, c.message) for c in report.checks}
        assert found["Login"][0] == "ok" and f"accepted the login of {USER}" in found["Login"][1]
        assert found["Unsubscribe address"] == ("ok", f"{USER} is the mailbox Chairside reads")
        assert found["Bounce address"][0] == "warning"  # bounces go to the From address
        assert "news@harborlanedental.example.com" in found["Bounce address"][1]
        monkeypatch.setenv("CHAIRSIDE_IMAP_PASSWORD", "wrong")
        report = Report()
        check_imap(workspace, practice, report)
        (login,) = report.checks
        assert login.status == "problem" and "refused the login" in login.message
    finally:
        server.stop()


def test_bulk_rules_apply_from_5000_patients(tmp_workspace):
    from chairside.doctor import _bulk
    from chairside.doctor.domain import Facts
    from tests.support import write_patients

    write_patients(
        tmp_workspace / "audiences" / "patients.csv",
        [f"patient{i}@example.com" for i in range(5000)],
    )
    path = tmp_workspace / "practice.toml"
    path.write_text(path.read_text().replace('unsubscribe_url = "', 'old_unsubscribe = "'))
    path.write_text(path.read_text().replace("old_unsubscribe", "# old"))
    workspace = Workspace(tmp_workspace)
    practice = load_practice(workspace)
    facts = Facts(DOMAIN, dmarc=None, checked=True)
    facts.aligned["Microsoft 365"] = True
    facts.spf_passes["Microsoft 365"] = True
    facts.dkim_signs["Microsoft 365"] = False
    report = Report()
    _bulk(workspace, practice, facts, report)
    found = {c.name: c for c in report.checks}
    assert found["One-click unsubscribe"].status == "problem"
    assert found["One-click unsubscribe"].stops_delivery
    assert found["DMARC"].status == "problem" and "5,000 patients" in found["DMARC"].message
    assert found["SPF and DKIM (Microsoft 365)"].status == "warning"

    write_patients(
        tmp_workspace / "audiences" / "patients.csv",
        [f"patient{i}@example.com" for i in range(4999)],
    )
    report = Report()
    _bulk(workspace, practice, facts, report)
    assert [(c.name, c.status) for c in report.checks] == [("Patients", "ok")]
    assert "4,999 patients: under 5,000" in report.checks[0].message
