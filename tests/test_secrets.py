"""Secrets: the environment first, then the keychain; never a file of the practice."""

from __future__ import annotations

from pathlib import Path

import keyring
import pytest
from keyring.backends import fail

from chairside import secrets


def _with_smtp(workspace: Path) -> None:
    path = workspace / "practice.toml"
    path.write_text(path.read_text().replace('user = ""', 'user = "office"'))


def test_set_then_send_reads_the_keychain(tmp_workspace: Path, run, monkeypatch) -> None:
    monkeypatch.delenv("CHAIRSIDE_SMTP_PASSWORD", raising=False)
    _with_smtp(tmp_workspace)
    result = run("secrets", "set", "smtp", cwd=tmp_workspace, input="s3cret\n")
    assert result.exit_code == 0, result.output
    assert "s3cret" not in result.output
    assert keyring.get_password("chairside", "smtp:office@127.0.0.1") == "s3cret"
    # Nothing of it in the practice folder.
    assert not any(b"s3cret" in p.read_bytes() for p in tmp_workspace.rglob("*") if p.is_file())

    from chairside.providers.smtp import resolve
    from chairside.workspace import find_workspace, load_practice

    practice = load_practice(find_workspace(tmp_workspace))
    assert resolve(practice.smtp).password == "s3cret"

    listed = run("secrets", "list", cwd=tmp_workspace)
    assert "smtp" in listed.output and "set (this computer's keychain)" in listed.output
    assert "s3cret" not in listed.output


def test_the_environment_wins_over_the_keychain(monkeypatch) -> None:
    secrets.store("mailchimp", "from-keychain-us1")
    assert secrets.get("mailchimp") == "from-keychain-us1"
    monkeypatch.setenv("MAILCHIMP_API_KEY", "from-env-us1")
    assert secrets.get("mailchimp") == "from-env-us1"


def test_forget_removes_it(tmp_workspace: Path, run) -> None:
    secrets.store("sendgrid", "SG.key")
    result = run("secrets", "forget", "sendgrid", cwd=tmp_workspace)
    assert result.exit_code == 0 and "Removed" in result.output
    assert secrets.get("sendgrid") == ""
    again = run("secrets", "forget", "sendgrid", cwd=tmp_workspace)
    assert again.exit_code == 0 and "nothing to remove" in again.output


def test_no_keychain_says_so_and_names_the_variable(
    tmp_workspace: Path, run, monkeypatch: pytest.MonkeyPatch
) -> None:
    keyring.set_keyring(fail.Keyring())
    monkeypatch.delenv("SENDGRID_API_KEY", raising=False)
    result = run("secrets", "set", "sendgrid", cwd=tmp_workspace, input="SG.key\n")
    assert result.exit_code == 1
    assert "no keychain" in result.output and "SENDGRID_API_KEY" in result.output
    assert "Traceback" not in result.output
    assert "SENDGRID_API_KEY" in secrets.missing("sendgrid")


def test_a_missing_key_names_both_places(monkeypatch) -> None:
    monkeypatch.delenv("MAILGUN_API_KEY", raising=False)
    from chairside.errors import ChairsideError
    from chairside.providers.base import api_key

    with pytest.raises(ChairsideError) as error:
        api_key("MAILGUN_API_KEY", "Mailgun")
    assert "chairside secrets set mailgun" in error.value.message
    assert "MAILGUN_API_KEY" in error.value.message


def test_unknown_secret_is_a_usage_error(tmp_workspace: Path, run) -> None:
    result = run("secrets", "set", "ftp", cwd=tmp_workspace, input="x\n")
    assert result.exit_code == 2


def test_a_file_keyring_picked_by_itself_is_no_keychain(monkeypatch) -> None:
    """keyrings.alt comes with the test tools; on a computer without a real keychain
    keyring would choose its plain-text file by itself. Chairside says there is no keychain
    instead of writing passwords to a file."""
    assert secrets.keychain_name() is not None  # the test's own file, chosen on purpose
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND")
    assert secrets.keychain_name() is None
    with pytest.raises(secrets.NoKeychain):
        secrets.store("smtp", "pw", "office@127.0.0.1")
