"""Header injection (CVE-2024-6923 class): encoded words that decode to a line break, and
control characters, never reach a header, on a patched Python or not.

Settings are refused with the file, key and line; patient names are cleaned. Every .eml
that is written is parsed back to assert exactly the expected headers and no `Bcc`.
"""

from __future__ import annotations

import csv
import email
import re
from email import policy
from pathlib import Path

import pytest

from chairside.headers import header_problem
from tests.support import assert_user_error

CAMPAIGN = "campaigns/2026-12/campaign.toml"
PAYLOAD = "=?utf-8?q?December_news=0D=0ABcc:_victim@evil.example?="
EXPECTED = {
    "From",
    "List-Id",
    "Precedence",
    "Reply-To",
    "Subject",
    "MIME-Version",
    "Content-Type",
    "To",
    "Date",
    "Message-ID",
    "List-Unsubscribe",
}
# What each payload hides: an encoded CRLF, an encoded LF in base64, a word that decodes into
# another encoded word, and raw VT, FF, FS, GS, RS, US, NEL, DEL, U+2028 and U+2029.
HOSTILE = [
    PAYLOAD,
    "=?utf-8?b?TmV3cwpCY2M6IHZAZXZpbC5leGFtcGxl?=",
    "=?utf-8?q?=3D=3Futf-8=3Fq=3Fx=3D0ABcc:_v@evil.example=3F=3D?=",
    *(f"News{c}Bcc: v@evil.example" for c in "\x0b\x0c\x1c\x1d\x1e\x1f\x85\x7f\u2028\u2029"),
]


def replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new), encoding="utf-8")


def toml_escape(value: str) -> str:
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in value)


@pytest.mark.parametrize("value", HOSTILE)
def test_every_hostile_value_is_refused(value):
    assert header_problem(value)


@pytest.mark.parametrize(
    "value", ["December news", "=?utf-8?q?D=C3=A9cembre?=", "Zoë's news: 50% off = 1/2"]
)
def test_plain_and_safely_encoded_values_pass(value):
    assert header_problem(value) is None


def test_a_subject_that_decodes_to_a_bcc_header_is_refused(tmp_workspace, run):
    replace(
        tmp_workspace / CAMPAIGN,
        'subject = "December at Harbor Lane: easing everyday aches"',
        f'subject = "{PAYLOAD}"',
    )
    result = run("build", "2026-12", cwd=tmp_workspace)
    assert_user_error(result, CAMPAIGN, "line 2", "subject: contains a carriage return", "decoded")


def test_a_per_segment_subject_is_checked_too(tmp_workspace, run, tmp_path):
    section = f'[segments.tmj]\nsubject = "{PAYLOAD}"\n'
    replace(tmp_workspace / CAMPAIGN, "[segments.tmj]\n", section)
    out = str(tmp_path / "eml")
    result = run("export", "2026-12", "--to", "eml", "--out", out, cwd=tmp_workspace)
    assert_user_error(result, CAMPAIGN, "[segments.tmj] subject: contains")


@pytest.mark.parametrize("value", HOSTILE[3:])
def test_control_characters_in_the_preheader(tmp_workspace, run, value):
    replace(
        tmp_workspace / CAMPAIGN,
        'preheader = "Three short reads from our team, plus our holiday hours."',
        f'preheader = "{toml_escape(value)}"',
    )
    assert_user_error(run("build", "2026-12", cwd=tmp_workspace), "preheader: contains")


def test_a_sender_name_that_decodes_to_a_bcc_header_is_refused(tmp_workspace, run):
    replace(
        tmp_workspace / "practice.toml",
        'from_name = "Harbor Lane Dental"',
        f'from_name = "{PAYLOAD}"',
    )
    result = run("build", "2026-12", cwd=tmp_workspace)
    assert_user_error(result, "practice.toml", "[email] from_name: contains a carriage return")
    assert "Traceback" not in result.output


def test_hostile_patient_names_are_cleaned_and_every_header_parses_back(
    tmp_workspace, run, tmp_path
):
    names = [PAYLOAD, "Ann\x0bBcc: v@evil.example", "Ann\u2028Bcc: v@evil.example", "Ann\rBcc: x"]
    patients = tmp_workspace / "audiences/patients.csv"
    with patients.open("a", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        for n, name in enumerate(names):
            writer.writerow([f"HLD-9{n:04d}", name, "Doe", f"hostile{n}@example.com", "", "Y", ""])
    # An encoded word that decodes to plain text is allowed, and reads back as that text.
    replace(
        tmp_workspace / CAMPAIGN,
        'subject = "December at Harbor Lane: easing everyday aches"',
        'subject = "=?utf-8?q?D=C3=A9cembre_news?="',
    )
    out = tmp_path / "eml"
    result = run("export", "2026-12", "--to", "eml", "--out", str(out), cwd=tmp_workspace)
    assert result.exit_code == 0, result.output
    files = sorted(out.rglob("*.eml"))
    assert len(files) >= 20
    hostile = 0
    for path in files:
        data = path.read_bytes()
        message = email.message_from_bytes(data, policy=policy.default)
        names = list(message)
        assert set(names) - {"List-Unsubscribe-Post"} == EXPECTED, (path, names)
        assert len(names) == len(set(names)), names
        assert "Bcc" not in message
        assert message["Subject"] == "Décembre news"
        assert b"\nBcc" not in data and b"\rBcc" not in data
        for name, value in message.items():
            # Decoded once, as a mail client does: one line of text.
            assert not re.search(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]", str(value)), (name, value)
        if "hostile" in str(message["To"]):
            hostile += 1
    assert hostile == 4


def test_the_message_itself_refuses_a_hostile_subject(tmp_workspace):
    """The last gate: a subject that skipped the settings check (e.g. a test-send prefix)."""
    from chairside.errors import ChairsideError
    from chairside.message import MessageTemplate
    from chairside.workspace import Workspace, load_practice

    practice = load_practice(Workspace(tmp_workspace))
    with pytest.raises(ChairsideError, match="Subject header contains a carriage return"):
        MessageTemplate(practice=practice, subject=PAYLOAD, html_body="<p>x</p>", text_body="x")
