"""`chairside check` from the command line, and the commands it guards."""

from __future__ import annotations

import json

from tests.support import assert_user_error

SUBJECT = 'subject = "December at Harbor Lane: easing everyday aches"'


def shout(root) -> None:
    """A concern named in what only the jaw version's patients get: an error there."""
    campaign = root / "campaigns/2026-12/campaign.toml"
    campaign.write_text(
        campaign.read_text().replace(
            "[segments.tmj]\n", '[segments.tmj]\nsubject = "Your TMJ and you"\n'
        )
    )


def test_the_demo_campaign_has_no_errors(tmp_workspace, run):
    result = run("check", "2026-12", "--json", cwd=tmp_workspace)
    findings = json.loads(result.output)
    assert all(set(f) == {"rule", "severity", "variant", "where", "message"} for f in findings)
    assert [f for f in findings if f["severity"] == "error"] == []
    assert result.exit_code == 0
    strict = run("check", "2026-12", "--strict", cwd=tmp_workspace)
    assert strict.exit_code == (1 if findings else 0)


def test_errors_are_listed_by_variant_and_exit_1(tmp_workspace, run):
    shout(tmp_workspace)
    result = run("check", "2026-12", cwd=tmp_workspace)
    assert result.exit_code == 1
    assert "tmj:\n  error   concern-named" in result.output
    assert "error" in result.output.splitlines()[-1]


def test_build_prints_a_one_line_summary(tmp_workspace, run):
    shout(tmp_workspace)
    result = run("build", "2026-12", cwd=tmp_workspace)
    assert result.exit_code == 0
    assert "Checks: 1 error" in result.output


def test_send_and_export_refuse_while_there_are_errors(tmp_workspace, tmp_path, run):
    shout(tmp_workspace)
    out = tmp_path / "out"
    result = run("export", "2026-12", "--to", "eml", "--out", str(out), cwd=tmp_workspace)
    assert_user_error(result, "nothing was sent", "concern-named", "--force")
    assert not out.exists()
    result = run("send", "2026-12", "--smtp-port", "9", cwd=tmp_workspace)
    assert_user_error(result, "concern-named")
    forced = run(
        "export", "2026-12", "--to", "eml", "--out", str(out), "--force", cwd=tmp_workspace
    )
    assert forced.exit_code == 0 and len(list(out.glob("*.eml"))) == 31
