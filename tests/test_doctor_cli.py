"""`chairside doctor` as a user runs it: one line per check, --json, the exit code; the mail
server over real TLS (a self-signed certificate, and one from a CA made for the test); a dead
DNS server; and `send`/`check` warning once of a problem the doctor found."""

from __future__ import annotations

import json
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from tests.dns_server import dead_dns_server, dns_server
from tests.imap_server import _certificates
from tests.support import assert_user_error

DOMAIN = "harborlanedental.example.com"
ZONE = {
    DOMAIN: [("MX", f"10 mx.{DOMAIN}"), ("TXT", "v=spf1 mx ~all")],
    f"mx.{DOMAIN}": [("A", "192.0.2.10")],
    f"_dmarc.{DOMAIN}": [("TXT", "v=DMARC1; p=none")],
}


def doctor(run, root: Path, zones: dict, monkeypatch, *args: str):
    with dns_server(zones) as nameserver:
        monkeypatch.setenv("CHAIRSIDE_NAMESERVER", nameserver)
        return run("doctor", *args, cwd=root)


def set_smtp(root: Path, port: int, security: str = "none", user: str = "") -> None:
    path = root / "practice.toml"
    text = path.read_text().replace("port = 1025", f"port = {port}")
    text = text.replace('security = "none"', f'security = "{security}"')
    path.write_text(text.replace('user = ""', f'user = "{user}"'))


def test_a_sound_set_up_exits_0_with_one_line_per_check(
    tmp_workspace, run, smtp_server, monkeypatch
):
    _, port = smtp_server
    set_smtp(tmp_workspace, port)
    result = doctor(run, tmp_workspace, ZONE, monkeypatch)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "Domain" in lines and "Mail server" in lines and "Bulk rules" in lines
    assert f"  ok       MX {DOMAIN}: mail for {DOMAIN} goes to mx.{DOMAIN}" in lines
    assert "  ok       DMARC: _dmarc.harborlanedental.example.com: p=none" in result.output
    assert f"127.0.0.1:{port} connects" in result.output
    assert result.output.rstrip().endswith("0 problems, 1 warning: nothing stops the newsletter.")

    data = json.loads(doctor(run, tmp_workspace, ZONE, monkeypatch, "--json").output)
    assert data["problems"] == 0
    names = {(c["area"], c["name"]): c["status"] for c in data["checks"]}
    assert names[("Domain", "SPF")] == "ok" and names[("Mailbox", "Mailbox")] == "warning"


def test_a_problem_exits_1_and_prints_the_record_to_add(
    tmp_workspace, run, smtp_server, monkeypatch
):
    _, port = smtp_server
    set_smtp(tmp_workspace, port)
    zones = {k: v for k, v in ZONE.items() if not k.startswith("_dmarc")}
    result = doctor(run, tmp_workspace, zones, monkeypatch)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "  problem  DMARC: harborlanedental.example.com has no DMARC record" in result.output
    assert "Type   TXT\n" in result.output
    assert f"Name   _dmarc   (_dmarc.{DOMAIN})" in result.output
    assert "Value  v=DMARC1; p=none" in result.output
    data = json.loads(doctor(run, tmp_workspace, zones, monkeypatch, "--json").output)
    (dmarc,) = [c for c in data["checks"] if c["name"] == "DMARC"]
    assert dmarc["records"] == [
        {
            "type": "TXT",
            "name": "_dmarc",
            "value": "v=DMARC1; p=none",
            "domain": DOMAIN,
            "action": "add",
            "full_name": f"_dmarc.{DOMAIN}",
        }
    ]


def test_a_dead_dns_server_is_one_line_and_the_rest_is_checked(
    tmp_workspace, run, smtp_server, monkeypatch
):
    _, port = smtp_server
    set_smtp(tmp_workspace, port)
    with dead_dns_server() as nameserver:
        monkeypatch.setenv("CHAIRSIDE_NAMESERVER", nameserver)
        started = time.monotonic()
        result = run("doctor", cwd=tmp_workspace)
        assert time.monotonic() - started < 30
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "  problem  DNS: Could not reach DNS (the DNS server 127.0.0.1:" in result.output
    assert f"127.0.0.1:{port} connects" in result.output  # the mail server was still checked
    assert "Practice details" in result.output


def test_free_mail_from_makes_send_and_check_warn_once(
    tmp_workspace, run, smtp_server, monkeypatch
):
    _, port = smtp_server
    set_smtp(tmp_workspace, port)
    path = tmp_workspace / "practice.toml"
    path.write_text(path.read_text().replace(f"news@{DOMAIN}", "harbor.dental@gmail.com"))
    assert run("check", "2026-12", cwd=tmp_workspace).output.count("doctor found") == 0
    result = doctor(run, tmp_workspace, ZONE, monkeypatch)
    assert "problem  From address: harbor.dental@gmail.com is a free-mail address" in result.output
    for args in (("check", "2026-12"), ("send", "2026-12", "--test", "office@example.com")):
        output = run(*args, cwd=tmp_workspace).output
        assert (
            output.count(
                "warning: The doctor found a problem that will stop delivery: "
                "From address. See `chairside doctor` for the fix."
            )
            == 1
        ), output
    # Fixed and checked again, the warning goes.
    path.write_text(path.read_text().replace("harbor.dental@gmail.com", f"news@{DOMAIN}"))
    doctor(run, tmp_workspace, ZONE, monkeypatch)
    assert "doctor found" not in run("check", "2026-12", cwd=tmp_workspace).output


# The mail server over TLS


def _tls_server(root: Path, cert: str, key: str):
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    from tests.conftest import free_port
    from tests.support import SmtpRecorder

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(root / cert, root / key)

    def authenticator(server, session, envelope, mechanism, auth_data):
        good = auth_data.login == b"office" and auth_data.password == b"right"
        return AuthResult(success=good, handled=False)

    controller = Controller(
        SmtpRecorder(),
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=context,
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
    )
    controller.start()
    return controller


@pytest.fixture
def certificates(tmp_path: Path) -> Path:
    root = tmp_path / "tls"
    root.mkdir()
    _certificates(root)  # ca.pem, and server.pem for 127.0.0.1 signed by it
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", "self.key", "-out", "self.pem", "-days", "2", "-subj",
         "/CN=127.0.0.1", "-addext", "subjectAltName = IP:127.0.0.1"],
        check=True, capture_output=True, cwd=root,
    )  # fmt: skip
    # named.pem: for the mail server's name (found through the test DNS), 90 days, by the CA.
    (root / "named.ext").write_text(f"subjectAltName = DNS:mail.{DOMAIN}\n")
    for args in (
        ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", "named.key", "-out", "named.csr", "-subj", f"/CN=mail.{DOMAIN}"],
        ["x509", "-req", "-in", "named.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
         "-CAcreateserial", "-days", "90", "-extfile", "named.ext", "-out", "named.pem"],
    ):  # fmt: skip
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=root)
    return root


def mail_server_lines(run, root: Path, monkeypatch, zones=ZONE) -> dict[str, tuple[str, str]]:
    result = doctor(run, root, zones, monkeypatch, "--json")
    assert "Traceback" not in result.output
    data = json.loads(result.output)
    return {
        c["name"]: (c["status"], c["message"]) for c in data["checks"] if c["area"] == "Mail server"
    }


def test_a_self_signed_certificate_is_a_problem_and_no_password_is_sent(
    tmp_workspace, run, certificates, monkeypatch
):
    controller = _tls_server(certificates, "self.pem", "self.key")
    try:
        set_smtp(tmp_workspace, controller.port, "starttls", "office")
        monkeypatch.setenv("CHAIRSIDE_SMTP_PASSWORD", "right")
        found = mail_server_lines(run, tmp_workspace, monkeypatch)
    finally:
        controller.stop()
    status, message = found["Encryption"]
    assert status == "problem" and "does not trust" in message and "self-signed" in message
    assert "Login" not in found


def test_a_valid_certificate_and_the_right_login_are_ok(
    tmp_workspace, run, certificates, monkeypatch
):
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates / "ca.pem"))  # the test's CA trusted
    controller = _tls_server(certificates, "server.pem", "server.key")
    try:
        set_smtp(tmp_workspace, controller.port, "starttls", "office")
        monkeypatch.setenv("CHAIRSIDE_SMTP_PASSWORD", "right")
        found = mail_server_lines(run, tmp_workspace, monkeypatch)
        # The test CA's certificate lasts two days: valid, and due for renewal.
        assert found["Encryption"][0] == "warning"
        assert "STARTTLS, certificate valid until" in found["Encryption"][1]
        assert found["Login"] == ("ok", f"127.0.0.1:{controller.port} accepted the login of office")
        monkeypatch.setenv("CHAIRSIDE_SMTP_PASSWORD", "wrong")
        found = mail_server_lines(run, tmp_workspace, monkeypatch)
        assert (
            found["Login"][0] == "problem"
            and "refused the login of office (535" in found["Login"][1]
        )
    finally:
        controller.stop()


def test_bad_practice_settings_are_a_clear_error(tmp_workspace, run, monkeypatch):
    monkeypatch.setenv("CHAIRSIDE_NAMESERVER", "nowhere")
    result = run("doctor", cwd=tmp_workspace)
    assert_user_error(result, "CHAIRSIDE_NAMESERVER", "HOST:PORT")


def test_the_mail_server_is_found_by_name_through_the_doctors_dns(
    tmp_workspace, run, certificates, monkeypatch
):
    """Its address from CHAIRSIDE_NAMESERVER, its certificate checked for its name."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates / "ca.pem"))
    controller = _tls_server(certificates, "named.pem", "named.key")
    try:
        set_smtp(tmp_workspace, controller.port, "starttls", "office")
        path = tmp_workspace / "practice.toml"
        path.write_text(path.read_text().replace('host = "127.0.0.1"', f'host = "mail.{DOMAIN}"'))
        monkeypatch.setenv("CHAIRSIDE_SMTP_PASSWORD", "right")
        zones = {**ZONE, f"mail.{DOMAIN}": [("A", "127.0.0.1")]}
        found = mail_server_lines(run, tmp_workspace, monkeypatch, zones)
        where = f"mail.{DOMAIN}:{controller.port}"
        assert found["Encryption"][0] == "ok", found
        assert found["Encryption"][1].startswith(f"{where}: STARTTLS, certificate valid until")
        assert found["Login"] == ("ok", f"{where} accepted the login of office")
        found = mail_server_lines(run, tmp_workspace, monkeypatch, ZONE)  # not in DNS
        assert found["Connection"][0] == "problem" and "Cannot look up" in found["Connection"][1]
    finally:
        controller.stop()


def test_a_fresh_practice_from_init_is_checked_without_a_traceback(tmp_path, run, monkeypatch):
    monkeypatch.setattr("chairside.commands.options.stdin_is_terminal", lambda: False)
    assert run("init", str(tmp_path / "fresh"), cwd=tmp_path).exit_code == 0
    result = doctor(run, tmp_path / "fresh", {}, monkeypatch)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "From address: The From address is still a placeholder" in result.output
    assert "Details: Still a placeholder (TODO): name, address" in result.output


def test_the_practice_can_name_its_mail_servers_authority(
    tmp_workspace, run, certificates, monkeypatch
):
    """`[smtp] ca_file`: a mail server with the practice's own certificates is trusted by
    `doctor` and by `send` (over real STARTTLS), besides the computer's own authorities;
    a file that is missing or not a certificate is a clear error."""
    controller = _tls_server(certificates, "server.pem", "server.key")
    try:
        set_smtp(tmp_workspace, controller.port, "starttls", "office")
        monkeypatch.setenv("CHAIRSIDE_SMTP_PASSWORD", "right")
        assert mail_server_lines(run, tmp_workspace, monkeypatch)["Encryption"][0] == "problem"
        path = tmp_workspace / "practice.toml"
        text = path.read_text()
        path.write_text(text.replace("[smtp]\n", '[smtp]\nca_file = "tls/mail-ca.pem"\n', 1))
        (tmp_workspace / "tls").mkdir()
        missing = run("doctor", cwd=tmp_workspace)
        assert_user_error(missing, "[smtp] ca_file: tls/mail-ca.pem does not exist")
        (tmp_workspace / "tls" / "mail-ca.pem").write_text("not a certificate\n")
        sent = run("send", "2026-12", cwd=tmp_workspace)
        assert_user_error(sent, "[smtp] ca_file", "not a certificate in PEM format")
        (tmp_workspace / "tls" / "mail-ca.pem").write_bytes((certificates / "ca.pem").read_bytes())
        found = mail_server_lines(run, tmp_workspace, monkeypatch)
        assert found["Encryption"][0] == "warning"  # trusted; the test CA's lasts two days
        assert found["Login"][0] == "ok"
        sent = run("send", "2026-12", cwd=tmp_workspace)
        assert sent.exit_code == 0, sent.output
        assert len(controller.handler.received) > 20
    finally:
        controller.stop()
