"""`check_smtp_login`, the mail-server test the studio and `chairside doctor` share: real
aiosmtpd servers on 127.0.0.1; each failure names the setting to fix."""

from __future__ import annotations

from chairside.mailcheck import check_smtp_login
from chairside.providers.smtp import SmtpSettings
from tests.conftest import free_port


def test_a_server_that_needs_no_login(smtp_server):
    recorder, port = smtp_server
    result = check_smtp_login(SmtpSettings("127.0.0.1", port, "none"))
    assert result.ok, result.message
    assert "no login needed. Nothing was sent." in result.message
    assert recorder.received == []


def test_encryption_from_the_start_against_a_plain_server_is_the_security_setting(smtp_server):
    _recorder, port = smtp_server
    result = check_smtp_login(SmtpSettings("127.0.0.1", port, "ssl", "a@b.example", "pw"))
    assert not result.ok
    assert result.field == "security"


def test_a_login_at_a_server_that_offers_none_is_the_user_setting(smtp_server):
    _recorder, port = smtp_server  # aiosmtpd without an authenticator offers no AUTH
    result = check_smtp_login(SmtpSettings("127.0.0.1", port, "none", "a@b.example", "pw"))
    assert (result.ok, result.field) == (False, "user")
    assert "offers no login" in result.message


def test_nothing_listening_is_the_host_setting():
    result = check_smtp_login(SmtpSettings("127.0.0.1", free_port(), "none"), timeout=5)
    assert (result.ok, result.field) == (False, "host")
    assert "Cannot reach" in result.message
