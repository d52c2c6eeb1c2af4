"""`chairside export --to eml|mbox`: files a mail client opens, one message per patient."""

from __future__ import annotations

import csv
import email
import json
import mailbox
import re
from email import policy
from pathlib import Path

from tests.support import assert_user_error


def sendable(run, root: Path) -> dict[str, str]:
    result = run("audience", "--json", "--show", cwd=root)
    return {p["email"]: p["first_name"] for p in json.loads(result.output)["patients"]}


def test_eml_export_one_file_per_patient_with_a_safe_manifest(tmp_workspace, tmp_path, run):
    out = tmp_path / "december"
    result = run("export", "2026-12", "--to", "eml", "--out", str(out), cwd=tmp_workspace)
    assert result.exit_code == 0, result.output
    patients = sendable(run, tmp_workspace)
    files = sorted(out.glob("*.eml"))
    assert len(files) == len(patients) == 31
    assert all(re.fullmatch(r"\d{6}\.eml", f.name) for f in files)  # no address in a name
    with (out / "manifest.csv").open(encoding="utf-8") as handle:
        manifest = list(csv.DictReader(handle))
    assert [row["file"] for row in manifest] == [f.name for f in files]
    assert {row["recipient"] for row in manifest} == set(patients)
    assert {row["variant"] for row in manifest} == {"2026-12-a", "2026-12-b", "2026-12-c"}
    message_ids = set()
    for row in manifest:
        message = email.message_from_bytes((out / row["file"]).read_bytes(), policy=policy.default)
        assert message["To"].addresses[0].addr_spec == row["recipient"]
        name = patients[row["recipient"]]
        text = message.get_body(("plain",)).get_content()
        assert f"Hi {name or 'there'}," in text
        assert message["List-Unsubscribe"] and message["Date"]
        message_ids.add(message["Message-ID"])
    assert len(message_ids) == len(files)


def test_mbox_export_opens_as_a_mailbox(tmp_workspace, tmp_path, run):
    out = tmp_path / "december.mbox"
    result = run("export", "2026-12", "--to", "mbox", "--out", str(out), cwd=tmp_workspace)
    assert result.exit_code == 0, result.output
    box = mailbox.mbox(out)
    recipients = [m["To"] for m in box]
    assert len(recipients) == 31
    first = email.message_from_bytes(box.get_bytes(0), policy=policy.default)
    assert [p.get_content_type() for p in first.walk()] == [
        "multipart/alternative",
        "text/plain",
        "text/html",
    ]
    assert not re.search(rb"^From (?!news@)", out.read_bytes(), re.MULTILINE)


def test_manifest_cells_never_become_formulas(tmp_workspace, tmp_path, run):
    export = tmp_path / "p.csv"
    export.write_text('Email,First Name,Consent\n"=cmd@example.com",Ann,Y\n')
    out = tmp_path / "out"
    result = run(
        "export",
        "2026-12",
        "--to",
        "eml",
        "--out",
        str(out),
        "--audience",
        str(export),
        cwd=tmp_workspace,
    )
    assert result.exit_code == 0, result.output
    assert "'=cmd@example.com" in (out / "manifest.csv").read_text()


def test_export_refuses_a_folder_of_other_files_and_leaves_nothing_half_done(
    tmp_workspace, tmp_path, run
):
    busy = tmp_path / "documents"
    busy.mkdir()
    (busy / "letter.txt").write_text("keep me")
    result = run("export", "2026-12", "--to", "eml", "--out", str(busy), cwd=tmp_workspace)
    assert_user_error(result, "already holds other files")
    assert [p.name for p in busy.iterdir()] == ["letter.txt"]
    (tmp_workspace / "campaigns/2026-12/posts/holiday-hours.md").unlink()
    out = tmp_path / "fresh"
    result = run("export", "2026-12", "--to", "eml", "--out", str(out), cwd=tmp_workspace)
    assert_user_error(result, "holiday-hours.md")
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["practice", "documents"]


def test_a_rerun_replaces_an_earlier_export_whole(tmp_workspace, tmp_path, run):
    out = tmp_path / "december"
    assert (
        run("export", "2026-12", "--to", "eml", "--out", str(out), cwd=tmp_workspace).exit_code == 0
    )
    assert run("unsubscribe", "maria.lopez@example.com", cwd=tmp_workspace).exit_code == 0
    assert (
        run("export", "2026-12", "--to", "eml", "--out", str(out), cwd=tmp_workspace).exit_code == 0
    )
    assert len(list(out.glob("*.eml"))) == 30
    assert "maria.lopez" not in (out / "manifest.csv").read_text()


def test_an_unsubscribe_token_from_a_message_resolves_to_its_patient(tmp_workspace, tmp_path, run):
    out = tmp_path / "december"
    assert (
        run("export", "2026-12", "--to", "eml", "--out", str(out), cwd=tmp_workspace).exit_code == 0
    )
    with (out / "manifest.csv").open(encoding="utf-8") as handle:
        row = next(r for r in csv.DictReader(handle) if r["recipient"].startswith("priya"))
    message = email.message_from_bytes((out / row["file"]).read_bytes(), policy=policy.default)
    token = re.search(r"token=(\w+)", message["List-Unsubscribe"]).group(1)
    assert "priya" not in token.lower()
    result = run("unsubscribe", "--token", token, cwd=tmp_workspace)
    assert result.exit_code == 0 and "1 added" in result.output
    assert "priya.raman@example.com" in (tmp_workspace / "audiences/suppressed.csv").read_text()
    assert_user_error(run("unsubscribe", "--token", "nope", cwd=tmp_workspace), "'nope'")
    # The whole link, pasted from the email, works as well as its code.
    link = re.search(r"<(https://[^>]+)>", message["List-Unsubscribe"]).group(1)
    again = run("unsubscribe", "--token", link, cwd=tmp_workspace)
    assert again.exit_code == 0 and "already" in again.output, again.output


def big_list(tmp_path: Path, count: int) -> Path:
    path = tmp_path / "many.csv"
    rows = ["Email,First Name,Concerns,Consent"]
    rows += [f"p{i}@example.com,P{i},{('TMJ', 'neck pain', '')[i % 3]},Y" for i in range(count)]
    path.write_text("\n".join(rows) + "\n")
    return path


def test_a_failing_writer_leaves_no_half_export(tmp_workspace, tmp_path, run, monkeypatch):
    from chairside.providers import files

    real = files._write_file

    def full_disk(path, data):
        if path.name == "000002.eml":
            raise OSError(28, "No space left on device")
        real(path, data)

    monkeypatch.setattr(files, "_write_file", full_disk)
    out = tmp_path / "out"
    result = run("export", "2026-12", "--to", "eml", "--out", str(out), cwd=tmp_workspace)
    assert_user_error(result, "Writing the .eml files", "No space left on device", "export again")
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["practice"]


def test_a_full_disk_during_an_mbox_export_leaves_the_earlier_mailbox(
    tmp_workspace, tmp_path, run, monkeypatch
):
    from chairside.providers import files

    out = tmp_path / "december.mbox"
    assert (
        run("export", "2026-12", "--to", "mbox", "--out", str(out), cwd=tmp_workspace).exit_code
        == 0
    )
    earlier = out.read_bytes()
    real_fdopen = files.os.fdopen

    class FullDisk:
        def __init__(self, handle):
            self.handle, self.written = handle, 0

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

        def write(self, data):
            self.written += len(data)
            if self.written > 100_000:
                raise OSError(28, "No space left on device")
            return self.handle.write(data)

    monkeypatch.setattr(files.os, "fdopen", lambda *a, **k: FullDisk(real_fdopen(*a, **k)))
    result = run("export", "2026-12", "--to", "mbox", "--out", str(out), cwd=tmp_workspace)
    assert_user_error(result, "Writing the mailbox", "No space left on device", "export again")
    assert out.read_bytes() == earlier
    assert sorted(p.name for p in tmp_path.iterdir()) == ["december.mbox", "practice"]


def test_mbox_keeps_hostile_names_intact_and_starts_no_line_with_from(tmp_workspace, tmp_path, run):
    # Mixed case, so the reader's name-casing (for names typed in one case) leaves them be.
    names = ["From Bob", ">From Ann", ".", "..Dots", "Zoë. From", "Ann\rBob"]
    audience = tmp_path / "hostile.csv"
    with audience.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Email", "First Name", "Concerns", "Consent"])
        for i, name in enumerate(names):
            writer.writerow([f"h{i}@example.com", name, ("TMJ", "neck pain", "")[i % 3], "Y"])
    out = tmp_path / "hostile.mbox"
    result = run(
        "export", "2026-12", "--to", "mbox", "--out", str(out), "--audience", str(audience),
        cwd=tmp_workspace,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    assert b"\r" not in data
    assert re.findall(rb"^>*From .*$", data, re.MULTILINE) == [
        line for line in data.split(b"\n") if line.startswith(b"From news@")
    ]
    box = mailbox.mbox(out)
    assert len(box) == len(names)
    for i, name in enumerate(names):
        message = email.message_from_bytes(box.get_bytes(i), policy=policy.default)
        assert message["To"].addresses[0].addr_spec == f"h{i}@example.com"
        text = message.get_body(("plain",)).get_content()
        assert f"Hi {name.replace(chr(13), ' ')}," in text


def test_a_provider_bundle_passes_the_same_agreement_gate_as_a_push(tmp_workspace, tmp_path, run):
    # The bundle pairs each opaque tag with its version's HTML (the jaw version's words):
    # uploading it tells the provider as much as a push does.
    for provider in ("mailchimp", "sendgrid", "mailgun"):
        out = tmp_path / provider
        refused = run("export", "2026-12", "--to", provider, "--out", str(out), cwd=tmp_workspace)
        assert_user_error(refused, "baa = true", f"[providers.{provider}]", "--without-baa")
        assert "Nothing was written" in refused.output
        assert not out.exists()
    warned = run(
        "export", "2026-12", "--to", "mailgun", "--out", str(tmp_path / "mg"), "--without-baa",
        cwd=tmp_workspace,
    )  # fmt: skip
    assert warned.exit_code == 0, warned.output
    assert "without a business associate agreement" in warned.output
    with open(tmp_workspace / "practice.toml", "a", encoding="utf-8") as handle:
        handle.write("\n[providers.sendgrid]\nbaa = true\n")
    agreed = run(
        "export", "2026-12", "--to", "sendgrid", "--out", str(tmp_path / "sg"), cwd=tmp_workspace
    )
    assert agreed.exit_code == 0 and "business associate" not in agreed.output, agreed.output
