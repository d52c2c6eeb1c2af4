"""No empty newsletter, ever: a concern with no post this month gets the general version,
and a post with nothing in it stops the build."""

from __future__ import annotations

import email
import json
import re
from email import policy
from pathlib import Path

from tests.support import assert_user_error, posts_line

CAMPAIGN = "campaigns/2026-12/campaign.toml"


def without_neck_posts(root: Path) -> None:
    """Only jaw posts and office news this month (the issue's "one jaw post" month)."""
    toml = root / CAMPAIGN
    text = toml.read_text(encoding="utf-8")
    text = text.replace('tags = ["tmj", "neck_shoulder"]', 'tags = ["tmj"]')
    text = text.replace('tags = ["neck_shoulder"]', 'tags = ["tmj"]')
    toml.write_text(text, encoding="utf-8")


def parts(path: Path) -> tuple[str, str]:
    message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    return str(message["To"]), message.get_body(("plain",)).get_content()


def test_a_concern_without_a_post_gets_the_general_version(tmp_workspace, run, tmp_path):
    without_neck_posts(tmp_workspace)
    built = run("build", "2026-12", cwd=tmp_workspace)
    assert built.exit_code == 0, built.output
    assert "neck_shoulder    no post this month → its patients get the general version" in (
        built.output
    )
    manifest = json.loads((tmp_workspace / "build/2026-12/manifest.json").read_text())
    assert [v["segment"] for v in manifest["variants"]] == ["tmj", "general"]

    findings = json.loads(run("check", "2026-12", "--json", cwd=tmp_workspace).output)
    fallback = [f for f in findings if f["rule"] == "general-fallback"]
    assert [(f["variant"], f["severity"]) for f in fallback] == [("neck_shoulder", "warning")]
    assert "intro in campaign.toml are not used" in fallback[0]["message"]
    assert not [f for f in findings if f["severity"] == "error"]

    counts = json.loads(run("audience", "--json", cwd=tmp_workspace).output)["segments"]
    assert counts["neck_shoulder"] > 0
    told = run("audience", "--campaign", "2026-12", "--json", cwd=tmp_workspace)
    assert json.loads(told.output)["general_instead"] == {"neck_shoulder": counts["neck_shoulder"]}
    told = run("audience", "--campaign", "2026-12", cwd=tmp_workspace)
    expected_line = (
        f"neck_shoulder: no post this month → {counts['neck_shoulder']} patients get the general"
    )
    assert expected_line in told.output, told.output
    assert "general_instead" not in run("audience", "--json", cwd=tmp_workspace).output
    dry = run("send", "2026-12", "--dry-run", cwd=tmp_workspace)
    assert dry.exit_code == 0, dry.output
    expected = counts["neck_shoulder"]
    assert (
        f"neck_shoulder: no post this month → {expected} patients get the general version"
        in dry.output
    ), dry.output
    total = counts["general"] + expected
    assert re.search(rf"^\s+general\s+{total}\s+subject:", dry.output, re.MULTILINE), dry.output

    out = tmp_path / "eml"
    exported = run("export", "2026-12", "--to", "eml", "--out", str(out), cwd=tmp_workspace)
    assert exported.exit_code == 0, exported.output
    general = manifest["variants"][1]
    assert len(general["articles"]) == 4
    found = 0
    for path in out.glob("*.eml"):
        to, text = parts(path)
        if "priya.raman@example.com" in to or "grace.nakamura@example.com" in to:
            found += 1
            # The general newsletter, every post in it; not the neck intro, not empty.
            assert "Winter is a busy season" in text
            assert "tight neck and shoulder muscles" not in text
            for title in general["articles"]:
                assert title in text, title
    assert found == 2


def test_a_post_with_nothing_in_it_stops_the_build(tmp_workspace, run):
    posts = tmp_workspace / "campaigns/2026-12/posts"
    (posts / "holiday-hours.md").write_text("---\ntitle: Holiday hours\n---\n\n", "utf-8")
    for command in ("build", "check"):
        result = run(command, "2026-12", cwd=tmp_workspace)
        line = posts_line(tmp_workspace / CAMPAIGN, "holiday-hours.md")
    assert_user_error(result, CAMPAIGN, f"line {line}", "holiday-hours.md", "no text")
    assert not (tmp_workspace / "build").exists()


def test_preview_and_test_send_of_a_fallen_back_concern(tmp_workspace, run):
    without_neck_posts(tmp_workspace)
    preview = run("preview", "2026-12", "--segment", "neck_shoulder", cwd=tmp_workspace)
    assert preview.exit_code == 0, preview.output
    assert "neck_shoulder: no post this month" in preview.output
    assert "Winter is a busy season" in preview.output  # the general intro
    test = run(
        "send", "2026-12", "--test", "office@example.com", "--segment", "neck_shoulder",
        cwd=tmp_workspace,
    )  # fmt: skip
    assert_user_error(test, "no post this month", "--concern general")
