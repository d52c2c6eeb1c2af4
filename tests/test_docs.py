"""Every command has help text and a README section; the repository lints clean."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from chairside.cli import cli

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_has_help_and_a_readme_entry(run, name: str):
    result = run(name, "--help")
    assert result.exit_code == 0
    assert len(cli.commands[name].help or "") > 40
    assert "Example" in result.output
    assert f"### `chairside {name}" in README


def test_readme_gives_the_two_commands_ci_runs():
    assert "pip install -e . && chairside build 2026-12" in README
    assert "pip install -e '.[test]' && pytest" in README
    assert "pip install -e '.[test]' && pytest" in (REPO / ".ci/run").read_text()


def test_send_py_is_the_cli():
    result = subprocess.run(
        [sys.executable, str(REPO / "send.py"), "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert "Usage: chairside" in result.stdout


def test_ruff_is_clean():
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "."],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout
