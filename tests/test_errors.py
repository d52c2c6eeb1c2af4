"""Bad input: one clear paragraph naming the file (and line), exit 1, no traceback, no output."""

from __future__ import annotations

from pathlib import Path

from tests.support import assert_user_error


def no_build(root: Path) -> None:
    assert not (root / "build").exists()


def test_no_practice_file(tmp_path: Path, run):
    result = run("build", "2026-12", cwd=tmp_path)
    assert_user_error(result, "No practice.toml found", "chairside init")


def test_unknown_campaign_lists_the_known_ones(tmp_workspace: Path, run):
    assert_user_error(
        run("build", "2027-05", cwd=tmp_workspace), "No campaign '2027-05'", "2026-12"
    )


def test_unknown_segment_in_campaign_names_file_and_line(tmp_workspace: Path, run):
    toml = tmp_workspace / "campaigns/2026-12/campaign.toml"
    toml.write_text(toml.read_text() + '\n[segments.knees]\nintro = "Hi"\n')
    line = toml.read_text().splitlines().index("[segments.knees]") + 1
    result = run("build", "2026-12", cwd=tmp_workspace)
    assert_user_error(result, "campaigns/2026-12/campaign.toml", f"line {line}", "'knees'")
    no_build(tmp_workspace)


def test_unknown_tag_on_a_post(tmp_workspace: Path, run):
    toml = tmp_workspace / "campaigns/2026-12/campaign.toml"
    toml.write_text(toml.read_text().replace('tags = ["tmj"]', 'tags = ["teeth"]'))
    assert_user_error(run("build", "2026-12", cwd=tmp_workspace), "no concern 'teeth'")


def test_missing_post_names_the_line(tmp_workspace: Path, run):
    toml = tmp_workspace / "campaigns/2026-12/campaign.toml"
    text = toml.read_text().replace("holiday-hours.md", "holidays.md")
    toml.write_text(text)
    line = text.splitlines().index('file = "holidays.md"')  # the [[posts]] line above it
    result = run("build", "2026-12", cwd=tmp_workspace)
    assert_user_error(result, f"campaign.toml, line {line}", "'holidays.md'")
    no_build(tmp_workspace)


def test_malformed_toml_names_file_and_line(tmp_workspace: Path, run):
    practice = tmp_workspace / "practice.toml"
    lines = practice.read_text().splitlines()
    lines[3] = 'address = "1420 Harbor Lane'  # unterminated string on line 4
    practice.write_text("\n".join(lines))
    result = run("build", "2026-12", cwd=tmp_workspace)
    assert_user_error(result, "practice.toml, line 4", "not valid TOML")
    no_build(tmp_workspace)


def test_every_practice_problem_is_reported_at_once(tmp_workspace: Path, run):
    practice = tmp_workspace / "practice.toml"
    text = practice.read_text().replace('"#0B5D6B"', '"teal"')
    text = text.replace('from = "news@harborlanedental.example.com"', 'from = "news at harbor"')
    practice.write_text(text)
    result = run("build", "2026-12", cwd=tmp_workspace)
    assert_user_error(result, "practice.toml has 2 problems", "[brand] color", "[email] from")


def test_broken_template_override_names_the_file(tmp_workspace: Path, run):
    (tmp_workspace / "templates/article.mjml").write_text(
        "<mj-section><mj-column><mj-text>{{ article.title </mj-text></mj-column></mj-section>"
    )
    result = run("build", "2026-12", cwd=tmp_workspace)
    assert_user_error(result, "templates/article.mjml, line 1", "template error")
    no_build(tmp_workspace)


def test_invalid_mjml_in_an_override_is_reported(tmp_workspace: Path, run):
    (tmp_workspace / "templates/article.mjml").write_text("<mj-section><mj-colum>x</mj-section>")
    result = run("build", "2026-12", cwd=tmp_workspace)
    assert_user_error(result, "templates/article.mjml", "MJML is not valid")
    no_build(tmp_workspace)


def test_unreadable_post(tmp_workspace: Path, run):
    (tmp_workspace / "campaigns/2026-12/posts/holiday-hours.md").write_bytes(
        b"---\ntitle: [\n---\nx"
    )
    result = run("build", "2026-12", cwd=tmp_workspace)
    assert_user_error(result, "holiday-hours.md")
    no_build(tmp_workspace)


def test_usage_errors_exit_2(tmp_workspace: Path, run):
    assert run("build", cwd=tmp_workspace).exit_code == 2
    assert run("new", "x", "--since", "2026-01-01", cwd=tmp_workspace).exit_code == 2
    assert run("new", "x", "--since", "yesterday", "--feed", "f", cwd=tmp_workspace).exit_code == 2


def test_a_setting_of_the_wrong_type_is_reported_once(tmp_workspace: Path, run):
    practice = tmp_workspace / "practice.toml"
    text = practice.read_text().replace('name = "Harbor Lane Dental"', "name = 3", 1)
    practice.write_text(text)
    result = run("build", "2026-12", cwd=tmp_workspace)
    assert_user_error(result, "practice.toml: name: must be text in quotes")
    assert "missing" not in result.output
