"""One vocabulary in --help (a concern is what a patient has; a version is the email its
patients get), jargon explained where it appears, and counts that read as people write."""

from __future__ import annotations

import re

import click
import pytest

from chairside.cli import cli

OLD_WORDS = re.compile(r"\b(segments?|variants?)\b", re.IGNORECASE)
# The concerns' file keeps its name: a name is not a word for the reader to learn.
FILE_NAMES = re.compile(r"audiences/segments\.toml|\[segments\.[A-Za-z_*]+\]|segments\.toml")


def all_help() -> dict[str, str]:
    found = {}

    def walk(command: click.Command, path: list[str]) -> None:
        ctx = click.Context(command, info_name=" ".join(path), max_content_width=10_000)
        found[" ".join(path)] = command.get_help(ctx)
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                walk(sub, [*path, name])

    walk(cli, ["chairside"])
    return found


@pytest.mark.parametrize("command", sorted(all_help()))
def test_help_says_concern_and_version_only(command):
    text = FILE_NAMES.sub("", all_help()[command])
    assert not OLD_WORDS.search(text), (command, OLD_WORDS.findall(text))
    assert "opaque" not in text


@pytest.mark.parametrize(
    ("jargon", "explained"),
    [
        ("STARTTLS", "encryption"),
        ("PIPELINING", "several at once"),
        ("BAA", "business associate agreement"),
        ("ledger", "who was sent"),
        ("unknown", "never came back"),
    ],
)
def test_jargon_in_help_is_explained_where_it_appears(jargon, explained):
    for command, text in all_help().items():
        if jargon in text and command not in ("chairside",):
            assert explained in " ".join(text.split()), (command, jargon)


def test_preview_takes_concern_and_still_the_old_option_name(tmp_workspace, run):
    new = run("preview", "2026-12", "--concern", "tmj", cwd=tmp_workspace)
    old = run("preview", "2026-12", "--segment", "tmj", cwd=tmp_workspace)
    assert new.exit_code == 0 and old.exit_code == 0, (new.output, old.output)
    assert new.output == old.output
    assert "--segment" not in run("preview", "--help").output
    wrong = run("preview", "2026-12", "--concern", "knees", cwd=tmp_workspace)
    assert wrong.exit_code == 1
    assert "No concern 'knees' has a version in 2026-12" in wrong.output


def test_build_counts_versions_and_posts_in_words(tmp_workspace, run):
    built = run("build", "2026-12", cwd=tmp_workspace)
    assert "Built 2026-12: 3 versions in build/2026-12/" in built.output
    assert re.search(r"tmj +3 posts +\d", built.output), built.output
    post = tmp_workspace / "campaigns/2026-12/posts/holiday-hours.md"
    assert run("new", "2027-03", "--post", str(post), cwd=tmp_workspace).exit_code == 0
    built = run("build", "2027-03", cwd=tmp_workspace)
    assert built.exit_code == 0, built.output
    assert "Built 2027-03: 1 version in build/2027-03/" in built.output
    assert re.search(r"general +1 post +\d", built.output), built.output
    assert "post(s)" not in built.output


def test_readme_says_concern_and_version_only():
    """Outside code (commands, file names, JSON keys) and the developers' section."""
    from tests.support import REPO

    readme = (REPO / "README.md").read_text(encoding="utf-8").split("## For developers")[0]
    prose = re.sub(r"```.*?```", "", readme, flags=re.DOTALL)
    prose = re.sub(r"`[^`]*`", "", prose)
    found = [line for line in prose.splitlines() if OLD_WORDS.search(FILE_NAMES.sub("", line))]
    assert not found, found
    assert "1 batches" not in readme and "1 variants" not in readme
