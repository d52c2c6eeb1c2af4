"""The demo newsletter's text parts and manifest, compared with reviewed copies.

After an intended change, regenerate them and review the diff:

    CHAIRSIDE_REGEN_GOLDEN=1 pytest tests/test_golden.py
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

GOLDEN = Path(__file__).parent / "golden" / "2026-12"
FILES = ("manifest.json", "tmj.txt", "neck_shoulder.txt", "general.txt")


@pytest.mark.parametrize("name", FILES)
def test_demo_build_matches_golden(tmp_workspace: Path, run, name: str):
    assert run("build", "2026-12", cwd=tmp_workspace).exit_code == 0
    produced = (tmp_workspace / "build/2026-12" / name).read_text(encoding="utf-8")
    # HTML sizes follow the MJML and premailer versions installed; tests/test_build.py checks
    # them against the files. The golden copy pins what the practice wrote and Chairside chose.
    produced = re.sub(r'"html_bytes": \d+', '"html_bytes": "…"', produced)
    golden = GOLDEN / name
    if os.environ.get("CHAIRSIDE_REGEN_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(produced, encoding="utf-8")
    assert produced == golden.read_text(encoding="utf-8")
