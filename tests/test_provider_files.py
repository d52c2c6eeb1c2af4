"""What the provider bundles and the .eml manifest hold, read back: addresses exact, every
other cell neutralised against spreadsheet formulas, variants only for who gets them, and
Mailgun member files small enough for its upload."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

HOSTILE_NAME = '=HYPERLINK("http://evil.example","x")'


def audience(tmp_path: Path, rows: list[tuple[str, str, str]]) -> Path:
    path = tmp_path / "patients.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Email", "First Name", "Concerns", "Consent"])
        writer.writerows([*row, "Y"] for row in rows)
    return path


def export(run, root: Path, destination: str, out: Path, patients: Path):
    # A bundle for a provider holds concern versions: the practice has a BAA with it.
    agreed = [] if destination in ("eml", "mbox") else ["--without-baa"]
    result = run(
        "export", "2026-12", "--to", destination, "--out", str(out),
        "--audience", str(patients), *agreed, cwd=root,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return result


def cells(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))


PEOPLE = [
    ("-dash@example.com", HOSTILE_NAME, "TMJ"),
    ("+plus@example.com", "-Bo", ""),
    ("ann@example.com", "@Ann", ""),
]


@pytest.mark.parametrize(
    ("destination", "files", "address", "name"),
    [
        ("mailchimp", ["audience.csv"], 0, 1),
        ("sendgrid", ["contacts-2026-12-a.csv", "contacts-2026-12-c.csv"], 0, 1),
        ("mailgun", ["members-2026-12-a.csv", "members-2026-12-c.csv"], 0, 1),
    ],
)
def test_addresses_stay_exact_and_names_never_become_formulas(
    tmp_workspace, tmp_path, run, destination, files, address, name
):
    out = tmp_path / "bundle"
    export(run, tmp_workspace, destination, out, audience(tmp_path, PEOPLE))
    rows = [row for file in files for row in cells(out / file)[1:]]
    assert sorted(row[address] for row in rows) == sorted(p[0] for p in PEOPLE)
    names = {row[address]: row[name] for row in rows}
    assert names["-dash@example.com"] == "'" + HOSTILE_NAME
    assert names["+plus@example.com"] == "'-Bo" and names["ann@example.com"] == "'@Ann"
    # No variant nobody gets: the neck-and-shoulder version (b) is left out.
    assert not [p for p in out.iterdir() if "2026-12-b" in p.name]


def test_the_eml_manifest_keeps_addresses_exact(tmp_workspace, tmp_path, run):
    out = tmp_path / "eml"
    export(run, tmp_workspace, "eml", out, audience(tmp_path, PEOPLE))
    rows = cells(out / "manifest.csv")[1:]
    assert sorted(row[1] for row in rows) == sorted(p[0] for p in PEOPLE)


def test_mailgun_member_files_hold_at_most_1000_rows(tmp_workspace, tmp_path, run):
    people = [(f"p{n:04d}@example.com", f"P{n}", "") for n in range(2300)]
    people += [("t@example.com", "T", "TMJ")]
    out = tmp_path / "bundle"
    export(run, tmp_workspace, "mailgun", out, audience(tmp_path, people))
    parts = sorted(out.glob("members-2026-12-c-*.csv"))
    assert [p.name for p in parts] == [f"members-2026-12-c-{n}.csv" for n in (1, 2, 3)]
    sizes = [len(cells(p)) - 1 for p in parts]
    assert sizes == [1000, 1000, 300]
    for part in parts:
        assert cells(part)[0] == ["address", "name", "vars", "subscribed"]
    addresses = [row[0] for part in parts for row in cells(part)[1:]]
    assert len(addresses) == len(set(addresses)) == 2300
    assert (out / "members-2026-12-a.csv").is_file()  # small ones keep their plain name
    readme = (out / "README.txt").read_text(encoding="utf-8")
    assert "members-2026-12-c-1.csv, members-2026-12-c-2.csv, members-2026-12-c-3.csv" in readme
    assert json.loads(cells(parts[0])[1][2])["first_name"] == "P0"
