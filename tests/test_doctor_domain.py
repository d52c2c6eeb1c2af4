"""`chairside doctor`'s Domain checks against zones served by a real DNS server on 127.0.0.1
(dnslib): a correct Microsoft 365 and Google Workspace set-up, and each way a domain goes
wrong, every one a clear line with the record that fixes it; never a traceback or a hang."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import pytest
import tomlkit
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from chairside import dkim
from chairside.doctor import domain as domain_checks
from chairside.doctor.dns import Dns, DnsUnreachable
from chairside.doctor.results import Report
from chairside.workspace import DkimConfig, Workspace, load_practice
from tests.dns_server import dead_dns_server, dns_server

DOMAIN = "harbordental.example.com"


def public_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


KEY = public_key()
M365_ZONE = {
    DOMAIN: [
        ("MX", "0 harbordental-example-com.mail.protection.outlook.com"),
        ("TXT", "v=spf1 include:spf.protection.outlook.com -all"),
        ("TXT", "MS=ms12345678"),
    ],
    f"selector1._domainkey.{DOMAIN}": [
        ("CNAME", "selector1-harbordental-example-com._domainkey.harbortest.onmicrosoft.com")
    ],
    "selector1-harbordental-example-com._domainkey.harbortest.onmicrosoft.com": [
        ("TXT", f"v=DKIM1; k=rsa; p={KEY}")
    ],
    f"_dmarc.{DOMAIN}": [
        ("TXT", "v=DMARC1; p=quarantine; rua=mailto:dmarc@harbordental.example.com")
    ],
}


def set_practice(root: Path, *, host: str, dkim_selector: str | None = None, **providers) -> None:
    path = root / "practice.toml"
    document = tomlkit.parse(path.read_text())
    document["email"]["from"] = f"news@{DOMAIN}"
    document["email"]["reply_to"] = f"frontdesk@{DOMAIN}"
    document["email"]["unsubscribe_email"] = f"unsubscribe@{DOMAIN}"
    document["smtp"]["host"] = host
    if dkim_selector:
        document["dkim"] = {"selector": dkim_selector}
    if providers:
        document["providers"] = {name: dict(table) for name, table in providers.items()}
    path.write_text(tomlkit.dumps(document))


def domain_report(root: Path, zones: dict, monkeypatch) -> Report:
    report = Report()
    with dns_server(zones) as nameserver:
        monkeypatch.setenv("CHAIRSIDE_NAMESERVER", nameserver)
        domain_checks.check_domain(load_practice(Workspace(root)), Dns(timeout=1), report)
    return report


def line(report: Report, name: str):
    found = [c for c in report.checks if c.name == name]
    assert len(found) == 1, (name, [(c.name, c.status, c.message) for c in report.checks])
    return found[0]


def test_a_correct_microsoft_365_set_up_is_all_ok(tmp_workspace, monkeypatch):
    set_practice(tmp_workspace, host="smtp.office365.com")
    report = domain_report(tmp_workspace, M365_ZONE, monkeypatch)
    assert report.problems == [] and report.warnings == [], report.checks
    assert (
        "harbordental-example-com.mail.protection.outlook.com"
        in line(report, f"MX {DOMAIN}").message
    )
    assert "authorises Microsoft 365" in line(report, "SPF").message
    assert (
        "selector1._domainkey.harbordental.example.com"
        in line(report, "DKIM (Microsoft 365)").message
    )
    assert "p=quarantine" in line(report, "DMARC").message
    assert line(report, "Alignment (Microsoft 365)").message.startswith("SPF and DKIM align")


def test_a_correct_google_workspace_set_up_is_all_ok(tmp_workspace, monkeypatch):
    set_practice(tmp_workspace, host="smtp.gmail.com")
    zones = {
        DOMAIN: [("MX", "1 smtp.google.com"), ("TXT", "v=spf1 include:_spf.google.com ~all")],
        f"google._domainkey.{DOMAIN}": [("TXT", f"v=DKIM1; k=rsa; p={KEY}")],
        f"_dmarc.{DOMAIN}": [("TXT", "v=DMARC1; p=none")],
    }
    report = domain_report(tmp_workspace, zones, monkeypatch)
    assert report.problems == [] and report.warnings == [], report.checks
    assert "google._domainkey" in line(report, "DKIM (Google Workspace)").message


def test_no_dmarc_is_a_problem_with_the_record_to_add(tmp_workspace, monkeypatch):
    set_practice(tmp_workspace, host="smtp.office365.com")
    zones = {k: v for k, v in M365_ZONE.items() if not k.startswith("_dmarc")}
    report = domain_report(tmp_workspace, zones, monkeypatch)
    check = line(report, "DMARC")
    assert check.status == "problem" and "no DMARC record" in check.message
    (record,) = check.records
    assert (record.type, record.name, record.value, record.full_name) == (
        "TXT",
        "_dmarc",
        "v=DMARC1; p=none",
        f"_dmarc.{DOMAIN}",
    )
    assert [c.name for c in report.problems] == ["DMARC"]


def test_two_spf_records_are_merged_into_the_one_to_publish(tmp_workspace, monkeypatch):
    set_practice(tmp_workspace, host="smtp.office365.com")
    zones = dict(M365_ZONE)
    zones[DOMAIN] = [
        ("MX", "0 harbordental-example-com.mail.protection.outlook.com"),
        ("TXT", "v=spf1 include:spf.protection.outlook.com -all"),
        ("TXT", "v=spf1 ip4:192.0.2.7 ~all"),
    ]
    report = domain_report(tmp_workspace, zones, monkeypatch)
    check = line(report, "SPF")
    assert check.status == "problem" and "2 SPF records" in check.message
    (record,) = check.records
    assert record.action == "change" and record.name == "@"
    assert record.value == "v=spf1 include:spf.protection.outlook.com ip4:192.0.2.7 -all"
    assert line(report, "Alignment (Microsoft 365)").status == "ok"  # DKIM still aligns
    assert report.blocking == []  # so nothing stops the newsletter


def test_an_spf_that_misses_the_hosting_relay_names_its_address(tmp_workspace, monkeypatch):
    set_practice(tmp_workspace, host="mail.hosting.test")
    zones = {
        DOMAIN: [("MX", "10 mx.harbordental.example.com"), ("TXT", "v=spf1 mx -all")],
        f"mx.{DOMAIN}": [("A", "192.0.2.10")],
        "mail.hosting.test": [("A", "192.0.2.25")],
        f"_dmarc.{DOMAIN}": [("TXT", "v=DMARC1; p=none")],
    }
    report = domain_report(tmp_workspace, zones, monkeypatch)
    check = line(report, "SPF (the mail server mail.hosting.test)")
    assert check.status == "problem" and "ip4:192.0.2.25" in check.message
    assert check.records[0].value == "v=spf1 mx ip4:192.0.2.25 -all"
    alignment = line(report, "Alignment (the mail server mail.hosting.test)")
    assert alignment.status == "problem" and alignment.stops_delivery
    assert line(report, "DKIM (the mail server mail.hosting.test)").status == "warning"

    # Published by name (a:) instead, the same relay is authorised: no SPF problem.
    zones[DOMAIN] = [
        ("MX", "10 mx.harbordental.example.com"),
        ("TXT", "v=spf1 mx a:mail.hosting.test -all"),
    ]
    report = domain_report(tmp_workspace, zones, monkeypatch)
    assert line(report, "SPF").status == "ok"
    assert line(report, "Alignment (the mail server mail.hosting.test)").status == "ok"


def test_eleven_lookups_are_a_problem_and_ten_are_not(tmp_workspace, monkeypatch):
    set_practice(tmp_workspace, host="mail.hosting.test")

    def zones(count: int) -> dict:
        includes = " ".join(f"include:l{i}.test" for i in range(count - 1))
        found = {
            DOMAIN: [
                ("MX", "10 mx.harbordental.example.com"),
                ("TXT", f"v=spf1 {includes} a:mail.hosting.test -all"),
            ],
            "mail.hosting.test": [("A", "192.0.2.25")],
            f"_dmarc.{DOMAIN}": [("TXT", "v=DMARC1; p=none")],
        }
        for i in range(count - 1):
            found[f"l{i}.test"] = [("TXT", f"v=spf1 ip4:198.51.100.{i} -all")]
        return found

    report = domain_report(tmp_workspace, zones(11), monkeypatch)
    check = line(report, "SPF")
    assert check.status == "problem" and "needs 11 DNS lookups" in check.message
    assert line(report, "Alignment (the mail server mail.hosting.test)").stops_delivery
    report = domain_report(tmp_workspace, zones(10), monkeypatch)
    assert line(report, "SPF").message.startswith("one record, 10 of 10 DNS lookups")


def test_an_spf_loop_is_named_and_not_followed_forever(tmp_workspace, monkeypatch):
    set_practice(tmp_workspace, host="mail.hosting.test")
    zones = {
        DOMAIN: [
            ("MX", "10 mx.harbordental.example.com"),
            ("TXT", "v=spf1 include:loop.test -all"),
        ],
        "loop.test": [("TXT", "v=spf1 include:harbordental.example.com -all")],
        "mail.hosting.test": [("A", "192.0.2.25")],
    }
    report = domain_report(tmp_workspace, zones, monkeypatch)
    loop = [c for c in report.problems if c.name == "SPF" and "loop" in c.message]
    assert (
        loop
        and "harbordental.example.com → loop.test → harbordental.example.com" in loop[0].message
    )


@pytest.mark.parametrize(
    ("published", "fixed"),
    [
        ("v=DMARC1 p=reject", "v=DMARC1; p=reject"),
        (
            "v=DMARC1; p=sometimes; rua=mailto:d@harbordental.example.com",
            "v=DMARC1; p=none; rua=mailto:d@harbordental.example.com",
        ),
        ("p=none; v=DMARC1", "v=DMARC1; p=none"),
    ],
)
def test_a_malformed_dmarc_record_gets_a_corrected_one(
    tmp_workspace, monkeypatch, published, fixed
):
    set_practice(tmp_workspace, host="smtp.office365.com")
    zones = {**M365_ZONE, f"_dmarc.{DOMAIN}": [("TXT", published)]}
    report = domain_report(tmp_workspace, zones, monkeypatch)
    check = line(report, "DMARC")
    assert check.status == "problem" and "malformed" in check.message
    assert published in check.message
    assert check.records[0].value == fixed and check.records[0].action == "change"


def test_a_dkim_record_with_a_damaged_key_is_a_problem(tmp_workspace, monkeypatch):
    set_practice(tmp_workspace, host="smtp.office365.com")
    zones = dict(M365_ZONE)
    zones["selector1-harbordental-example-com._domainkey.harbortest.onmicrosoft.com"] = [
        ("TXT", f"v=DKIM1; k=rsa; p={KEY[:120]}")
    ]
    report = domain_report(tmp_workspace, zones, monkeypatch)
    check = line(report, "DKIM (Microsoft 365)")
    assert (
        check.status == "problem"
        and "selector1._domainkey.harbordental.example.com" in check.message
    )
    assert "not a public key" in check.message
    assert line(report, "Alignment (Microsoft 365)").status == "ok"  # SPF still aligns


def own_key(selector: str = "cs1") -> rsa.RSAPrivateKey:
    return dkim.new_key(DkimConfig(selector, DOMAIN))


def test_chairsides_key_matching_its_record_verifies(tmp_workspace, monkeypatch):
    set_practice(tmp_workspace, host="mail.hosting.test", dkim_selector="cs1")
    key = own_key()
    zones = {
        DOMAIN: [("MX", "10 mx.harbordental.example.com"), ("TXT", "v=spf1 -all")],
        f"cs1._domainkey.{DOMAIN}": [("TXT", dkim.record_value(key))],
        "mail.hosting.test": [("A", "192.0.2.25")],
    }
    report = domain_report(tmp_workspace, zones, monkeypatch)
    assert line(report, "DKIM (Chairside's key)").status == "ok"
    assert "verifies" in line(report, "DKIM (Chairside's key)").message
    # SPF leaves the relay out, but Chairside's signature aligns: delivery is not stopped.
    assert line(report, "Alignment (the mail server mail.hosting.test)").message == (
        f"DKIM aligns with {DOMAIN}"
    )


def test_a_published_key_that_is_not_the_signing_key_gets_the_right_record(
    tmp_workspace, monkeypatch
):
    set_practice(tmp_workspace, host="mail.hosting.test", dkim_selector="cs1")
    key = own_key()
    zones = {
        DOMAIN: [("MX", "10 mx.harbordental.example.com"), ("TXT", "v=spf1 -all")],
        f"cs1._domainkey.{DOMAIN}": [("TXT", f"v=DKIM1; k=rsa; p={KEY}")],
        "mail.hosting.test": [("A", "192.0.2.25")],
    }
    report = domain_report(tmp_workspace, zones, monkeypatch)
    check = line(report, "DKIM (Chairside's key)")
    assert check.status == "problem" and "different key" in check.message
    assert check.records[0].value == dkim.record_value(key)
    assert check.records[0].full_name == f"cs1._domainkey.{DOMAIN}"
    assert line(report, "Alignment (the mail server mail.hosting.test)").stops_delivery


def test_servfail_is_a_line_per_record_never_a_traceback(tmp_workspace, monkeypatch):
    set_practice(tmp_workspace, host="smtp.office365.com")
    zones = {**M365_ZONE, f"_dmarc.{DOMAIN}": [("SERVFAIL", "")]}
    report = domain_report(tmp_workspace, zones, monkeypatch)
    check = line(report, "DMARC")
    assert check.status == "problem" and "SERVFAIL" in check.message
    assert line(report, "SPF").status == "ok"
    report = domain_report(tmp_workspace, {DOMAIN: [("SERVFAIL", "")]}, monkeypatch)
    assert all("Traceback" not in c.message for c in report.checks)
    assert any("SERVFAIL" in c.message for c in report.problems)


def test_a_free_mail_from_address_is_a_problem(tmp_workspace, monkeypatch):
    path = tmp_workspace / "practice.toml"
    path.write_text(
        path.read_text().replace("news@harborlanedental.example.com", "harbor.dental@gmail.com")
    )
    report = domain_report(tmp_workspace, {}, monkeypatch)
    check = line(report, "From address")
    assert check.status == "problem" and check.stops_delivery and "gmail.com" in check.message


def test_a_dead_dns_server_times_out_once(tmp_workspace, monkeypatch):
    set_practice(tmp_workspace, host="smtp.office365.com")
    with dead_dns_server() as nameserver:
        monkeypatch.setenv("CHAIRSIDE_NAMESERVER", nameserver)
        dns = Dns(timeout=0.5)
        started = time.monotonic()
        with pytest.raises(DnsUnreachable, match="did not answer in time"):
            domain_checks.check_domain(load_practice(Workspace(tmp_workspace)), dns, Report())
        with pytest.raises(DnsUnreachable):  # asked no more: a second question costs nothing
            dns.txt("other.test")
        assert dns.queries == 1
        assert time.monotonic() - started < 5


def test_a_bad_nameserver_setting_is_a_clear_error(monkeypatch):
    from chairside.errors import ChairsideError

    monkeypatch.setenv("CHAIRSIDE_NAMESERVER", "127.0.0.1:port")
    with pytest.raises(ChairsideError, match="HOST:PORT"):
        Dns()


def test_amazon_ses_aligns_only_by_dkim_it_cannot_see_a_warning_not_a_block(
    tmp_workspace, monkeypatch
):
    set_practice(tmp_workspace, host="email-smtp.us-east-1.amazonaws.com")
    zones = {
        DOMAIN: [("MX", "10 inbound-smtp.us-east-1.amazonaws.com"), ("TXT", "v=spf1 -all")],
        f"_dmarc.{DOMAIN}": [("TXT", "v=DMARC1; p=none")],
    }
    report = domain_report(tmp_workspace, zones, monkeypatch)
    check = line(report, "SPF (Amazon SES)")
    assert check.records[0].value == "v=spf1 include:amazonses.com -all"
    alignment = line(report, "Alignment (Amazon SES)")
    assert alignment.status == "warning" and "DKIM" in alignment.message


def test_a_provider_needs_its_own_dkim_chairsides_key_does_not_sign_for_it(
    tmp_workspace, monkeypatch
):
    set_practice(tmp_workspace, host="127.0.0.1", dkim_selector="cs1", sendgrid={})
    key = own_key()
    zones = {
        DOMAIN: [("MX", "10 mx.harbor.test"), ("TXT", "v=spf1 include:sendgrid.net -all")],
        f"cs1._domainkey.{DOMAIN}": [("TXT", dkim.record_value(key))],
        f"_dmarc.{DOMAIN}": [("TXT", "v=DMARC1; p=none")],
    }
    report = domain_report(tmp_workspace, zones, monkeypatch)
    assert line(report, "DKIM (Chairside's key)").status == "ok"
    check = line(report, "DKIM (SendGrid)")
    assert check.status == "problem" and "s1._domainkey, s2._domainkey" in check.message
    assert check.records[0].type == "CNAME" and check.records[0].name == "s1._domainkey"
    assert line(report, "Alignment (SendGrid)").stops_delivery


def spf_walk(zones: dict, monkeypatch, domain: str = DOMAIN):
    from chairside.doctor import spf

    with dns_server(zones) as nameserver:
        monkeypatch.setenv("CHAIRSIDE_NAMESERVER", nameserver)
        return spf.walk(Dns(timeout=1), domain)


def test_spf_follows_redirect_counts_a_and_mx_and_ignores_what_does_not_pass(monkeypatch):
    zones = {
        DOMAIN: [("TXT", "v=spf1 redirect=_spf.hostco.example")],
        "_spf.hostco.example": [
            ("TXT", "v=spf1 a:relay.hostco.example/30 mx -include:bad.example ?ip4:192.0.2.99 -all")
        ],
        "relay.hostco.example": [("A", "198.51.100.8")],
        "bad.example": [("TXT", "v=spf1 ip4:203.0.113.5 -all")],
    }
    walk = spf_walk(zones, monkeypatch)
    assert walk.lookups == 4  # redirect, a, mx, include
    assert walk.authorises("198.51.100.9")  # inside a:/30
    assert not walk.authorises("198.51.100.12")
    assert not walk.authorises("203.0.113.5")  # -include: authorises nothing
    assert not walk.authorises("192.0.2.99")  # ?ip4: is neutral, not a pass
    assert walk.includes == {"_spf.hostco.example"}


def test_plus_all_and_an_include_without_spf_are_problems(tmp_workspace, monkeypatch):
    set_practice(tmp_workspace, host="mail.hosting.test")
    zones = {
        DOMAIN: [("MX", "10 mx.example.net"), ("TXT", "v=spf1 include:gone.example +all")],
        "mail.hosting.test": [("A", "192.0.2.25")],
        f"_dmarc.{DOMAIN}": [("TXT", "v=DMARC1; p=none")],
    }
    report = domain_report(tmp_workspace, zones, monkeypatch)
    messages = [c.message for c in report.problems if c.name == "SPF"]
    assert any("include:gone.example has no SPF record" in m for m in messages)
    plus = [c for c in report.problems if "+all" in c.message]
    assert plus and plus[0].records[0].value == "v=spf1 include:gone.example ~all"
