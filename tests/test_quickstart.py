"""The README's Quickstart, followed line by line as a newcomer would: each command run as
written (in a fresh folder, with a home of its own), each comment line done as it says.

Only what cannot exist here is stood in for: the blog's feed address by a saved feed, the
mail server and the mailbox by real ones on 127.0.0.1, and the name `init` printed for
next month's newsletter where the README says 2027-01 (as the README tells the reader).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from chairside.scaffold import next_month
from tests.conftest import free_port
from tests.support import REPO, need, smtp_with_login

FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Your Practice</title><link>https://your-practice.example.com/</link>
<item><title>Three neck and shoulder stretches for desk workers</title>
<link>https://your-practice.example.com/blog/neck-stretches/</link>
<pubDate>Thu, 10 Dec 2026 09:00:00 +0000</pubDate>
<description><![CDATA[<p>Neck pain and shoulder tension after a day at the desk? Try these
three stretches, twice a day. Roll your shoulders, tuck your chin, and stretch each side of
your neck for thirty seconds.</p>]]></description></item>
</channel></rss>
"""
JAW = """---
title: Why your jaw aches in the morning
tags: [tmj]
---

Waking up with a sore jaw or a headache often means clenching or grinding at night.
A night guard protects your teeth and lets your jaw muscles rest. Ask us at your next visit.
"""
PATIENTS = (
    "First Name,Last Name,Email,Concerns,Email Opt In\n"
    "Ana,Lopez,ana@example.com,TMJ,Y\n"
    "Ben,Okafor,ben@example.com,,Y\n"
)
ANSWERS = "\n".join(
    [
        "Lakeside Dental",
        "12 Main St, Springfield, IL 62701",
        "(217) 555-0100",
        "news@lakeside.example.com",
        "https://lakeside.example.com",
    ]
)
SMTP_USER, SMTP_PASSWORD = "news@lakeside.example.com", "quickstart-smtp-pw"


def quickstart() -> list[str]:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quickstart for your practice", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    # An indented comment continues the comment of the line above: nothing to do.
    return [line for line in block.splitlines() if line.strip() and line[0] != " "]


def _uncomment(practice: Path, section: str, values: dict[str, str]) -> None:
    """What a person does with `init`'s commented [smtp] / [imap] lines: remove the `# `
    in front of the section's lines and put their own values in."""
    lines = practice.read_text(encoding="utf-8").splitlines()
    start = lines.index(f"# [{section}]")
    end = start + 1
    while end < len(lines) and re.match(r"# [a-z_]+ = ", lines[end]):
        end += 1
    body = [f"[{section}]"]
    for line in lines[start + 1 : end]:
        key = line[2:].split(" = ", 1)[0]
        body.append(f"{key} = {values.pop(key)}" if key in values else line[2:])
    body += [f"{key} = {value}" for key, value in values.items()]
    practice.write_text("\n".join(lines[:start] + body + lines[end:]) + "\n", encoding="utf-8")


@pytest.fixture
def smtp_login():
    with smtp_with_login(SMTP_USER, SMTP_PASSWORD) as server:
        yield server


def test_the_readme_quickstart_works_as_written(tmp_path, run, monkeypatch, smtp_login):
    from tests.imap_server import DOVECOT, PASSWORD, USER, Dovecot

    need("dovecot (apt-get install dovecot-imapd)", Path(DOVECOT).exists())
    recorder, smtp_port = smtp_login
    home = tmp_path / "home"
    (home / "notes").mkdir(parents=True)
    (home / "notes/jaw.md").write_text(JAW, encoding="utf-8")
    (home / "feed.xml").write_text(FEED, encoding="utf-8")
    monkeypatch.setenv("HOME", str(home))
    # No DNS server answers on this port: doctor says so at once and checks the rest.
    monkeypatch.setenv("CHAIRSIDE_NAMESERVER", f"127.0.0.1:{free_port()}")
    monkeypatch.setattr("chairside.commands.options.stdin_is_terminal", lambda: True)
    opened: list[str] = []
    monkeypatch.setattr("webbrowser.open", lambda url, *a, **k: opened.append(url) or True)
    imap = Dovecot()
    imap.start()
    try:
        cwd: Path | None = None
        campaign = "2027-01"
        for line in quickstart():
            command = line.split("  #", 1)[0].strip()
            if command.startswith("#"):
                what = command.lstrip("# ")
                practice = cwd / "practice.toml"
                if what.startswith("edit campaigns/"):
                    toml = cwd / f"campaigns/{campaign}/campaign.toml"
                    text = toml.read_text(encoding="utf-8")
                    toml.write_text(
                        re.sub(r'(?m)^subject = ".*"$', 'subject = "Our January news"', text),
                        encoding="utf-8",
                    )
                elif what.startswith("put your practice software's patient export"):
                    (cwd / "audiences/patients.csv").write_text(PATIENTS, encoding="utf-8")
                elif what.startswith("fill in the [smtp] lines"):
                    values = {"host": '"127.0.0.1"', "port": str(smtp_port)}
                    _uncomment(practice, "smtp", values | {"security": '"none"'})
                elif what.startswith("fill in the [imap] lines"):
                    values = {"host": '"127.0.0.1"', "user": f'"{USER}"'}
                    _uncomment(practice, "imap", values | {"port": str(imap.port), "tls": "false"})
                else:
                    pytest.fail(f"the Quickstart says {what!r}: teach this test to do it")
                continue
            words = [
                str(Path(word).expanduser()) if word.startswith("~") else word
                for word in shlex.split(command)
            ]
            if words[0] == "cd":
                cwd = Path(words[1])
                continue
            assert words[0] == "chairside", line
            words = [campaign if word == "2027-01" else word for word in words[1:]]
            words = [str(home / "feed.xml") if w.startswith("https://your-") else w for w in words]
            answer = {
                "init": ANSWERS,
                "secrets": {"smtp": SMTP_PASSWORD, "imap": PASSWORD}.get(words[-1]),
            }.get(words[0])
            result = run(*words, cwd=cwd, input=answer)
            if words[0] == "doctor":  # exit 1 lists what to fix; no DNS here to ask
                assert result.exit_code in (0, 1) and "Traceback" not in result.output
                assert "could not reach" in result.output.lower(), result.output
                continue
            assert result.exit_code == 0, (line, result.output)
            if words[0] == "init":
                found = re.search(r"your first newsletter: (\S+)", result.output)
                assert found, result.output
                campaign = found.group(1)
                assert campaign == next_month(__import__("datetime").date.today())
            if words[0] == "new":
                assert "Added 2 posts" in result.output, result.output
    finally:
        imap.stop()

    posts = (cwd / f"campaigns/{campaign}/campaign.toml").read_text(encoding="utf-8")
    assert posts.count("[[posts]]") == 3  # the welcome post, the feed's, the jaw note
    assert opened and opened[0].endswith("index.html")
    delivered = sorted(set(recorder.recipients()))
    assert delivered == ["ana@example.com", "ben@example.com", "office@your-practice.com"]
