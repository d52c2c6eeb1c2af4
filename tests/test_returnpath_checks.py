"""What `send`, `export --push` and `check` say about the return path: unread unsubscribes
since the last campaign, one-click unsubscribe for bulk lists, a free-mail From address."""

from __future__ import annotations

import json
from pathlib import Path

from chairside.ledger import open_ledger
from chairside.returnpath.state import ReturnState


def _sent(workspace: Path, campaign: str, via: str = "smtp") -> None:
    """Record a finished earlier campaign in the ledger, as `send` or a push leaves it."""
    with open_ledger(workspace / ".chairside") as ledger:
        if via == "smtp":
            ledger.mark_sending(campaign, "maria.lopez@example.com", "maria.lopez@example.com", "a")
            ledger.finish(campaign, "maria.lopez@example.com", "sent", reply="250 OK")
        else:
            members = [("james.whitfield@example.com", "james.whitfield@example.com", "a")]
            ledger.mark_batch_sending(campaign, via, "b1", members)
            ledger.finish_batch(campaign, "b1", reply="200 queued")


def _rules(run, workspace: Path) -> dict[str, str]:
    result = run("check", "2026-12", "--json", cwd=workspace)
    return {f["rule"]: f["message"] for f in json.loads(result.stdout)}


def _add_imap(workspace: Path) -> None:
    with (workspace / "practice.toml").open("a") as handle:
        handle.write('\n[imap]\nhost = "imap.example.com"\nuser = "unsubscribe@example.com"\n')


def test_check_and_send_warn_until_the_inbox_is_read(tmp_workspace, run):
    assert "return-path-synced" not in _rules(run, tmp_workspace)  # nothing sent yet
    _add_imap(tmp_workspace)
    _sent(tmp_workspace, "2026-11")
    message = _rules(run, tmp_workspace)["return-path-synced"]
    assert "chairside inbox" in message and "2026-11" in message
    dry = run("send", "2026-12", "--dry-run", cwd=tmp_workspace)
    assert "warning: The mailbox has not been read since 2026-11" in dry.stderr

    state = ReturnState(tmp_workspace / ".chairside")
    state.synced("inbox")
    state.close()
    assert "return-path-synced" not in _rules(run, tmp_workspace)
    assert "warning" not in run("send", "2026-12", "--dry-run", cwd=tmp_workspace).stderr


def test_resuming_the_same_campaign_does_not_ask_for_a_sync(tmp_workspace, run):
    _add_imap(tmp_workspace)
    _sent(tmp_workspace, "2026-12")
    assert "return-path-synced" not in _rules(run, tmp_workspace)


def test_a_provider_used_must_be_synced(tmp_workspace, run):
    _sent(tmp_workspace, "2026-11", via="mailgun")
    message = _rules(run, tmp_workspace)["return-path-synced"]
    assert "chairside sync --from mailgun" in message
    state = ReturnState(tmp_workspace / ".chairside")
    state.synced("mailgun")
    state.close()
    assert "return-path-synced" not in _rules(run, tmp_workspace)


def test_smtp_sends_without_an_inbox_are_pointed_at_it(tmp_workspace, run):
    _sent(tmp_workspace, "2026-11")
    assert "no [imap] in practice.toml" in _rules(run, tmp_workspace)["return-path-synced"]


def test_free_mail_from_address_is_named(tmp_workspace, run):
    path = tmp_workspace / "practice.toml"
    text = path.read_text().replace(
        'from = "news@harborlanedental.example.com"', 'from = "harborlanedental@yahoo.com"'
    )
    path.write_text(text)
    assert "yahoo.com publishes a DMARC policy" in _rules(run, tmp_workspace)["from-free-mail"]


def test_large_list_without_one_click_unsubscribe(tmp_workspace, run):
    rows = ["Email,First Name,Email Opt In"]
    rows += [f"patient{n}@example.com,Pat,Y" for n in range(5001)]
    (tmp_workspace / "audiences/patients.csv").write_text("\n".join(rows) + "\n")
    assert "one-click-unsubscribe" not in _rules(run, tmp_workspace)  # the demo has a URL
    path = tmp_workspace / "practice.toml"
    path.write_text(
        "\n".join(line for line in path.read_text().splitlines() if "unsubscribe_url" not in line)
    )
    assert "5,001 rows" in _rules(run, tmp_workspace)["one-click-unsubscribe"]


def test_export_push_warns_when_the_provider_was_not_synced(
    http_server, tmp_workspace, run, monkeypatch
):
    _sent(tmp_workspace, "2026-11", via="mailgun")
    monkeypatch.setenv("MAILGUN_API_KEY", "key-test")
    http_server.route(
        "POST", r"/v3/[^/]+/messages", lambda r: (200, {"id": "<1@x>", "message": "Queued."})
    )
    result = run(
        "export",
        "2026-12",
        "--to",
        "mailgun",
        "--push",
        "--api-base",
        http_server.url,
        "--domain",
        "mg.example.com",
        "--without-baa",
        cwd=tmp_workspace,
    )
    assert result.exit_code == 0, result.output
    assert "warning: mailgun has not been synced since its last campaign" in result.stderr
