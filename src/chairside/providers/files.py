"""Exports to files: one `.eml` per patient (with a manifest), or one mbox file.

Both are written beside their destination and moved into place only when complete, so a
failed export leaves no half-written folder or file.
"""

from __future__ import annotations

import csv
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from chairside.csvsafe import safe_cell
from chairside.delivery import Prepared
from chairside.errors import ChairsideError
from chairside.fsutil import replacing_dir
from chairside.providers.base import Provider, address_cell

MANIFEST = "manifest.csv"


@dataclass(frozen=True)
class Exported:
    path: Path
    messages: int


def _check_folder(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ChairsideError(f"{out} is a file; give --out a folder for .eml files.")
    if out.is_dir() and any(out.iterdir()) and not (out / MANIFEST).is_file():
        raise ChairsideError(
            f"{out} already holds other files. Give --out a new or empty folder "
            "(an earlier Chairside export there is replaced whole)."
        )


def _write_file(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        view = memoryview(data)
        while view:  # a regular file takes it all at once; a full disk raises
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _write_failed(out: Path, exc: OSError, what: str) -> ChairsideError:
    return ChairsideError(
        f"Writing {what} to {out} failed ({exc.strerror or exc}). Nothing was left "
        "half-written; free some disk space (or choose another folder) and export again."
    )


def export_eml(prepared: Prepared, out: Path) -> Exported:
    """`out/000001.eml`, … (file names carry no address) and `out/manifest.csv`.

    One process writes them: on this project's ext4 disk a second, forked writer gave no
    steady gain in time, for twice the CPU (README, benchmarks). The manifest is written
    row by row beside the files, never held whole (a million rows would be ~300 MB).
    """
    _check_folder(out)
    patients = prepared.audience.patients
    with replacing_dir(out) as staging:
        try:
            with (staging / MANIFEST).open("w", encoding="utf-8", newline="") as handle:
                manifest = csv.writer(handle, lineterminator="\n")
                manifest.writerow(["file", "recipient", "variant"])
                for number, patient in enumerate(patients, 1):
                    name = f"{number:06d}.eml"
                    _write_file(staging / name, prepared.message(patient).data)
                    manifest.writerow(
                        [name, address_cell(patient.email), safe_cell(prepared.variant_id(patient))]
                    )
        except OSError as exc:
            raise _write_failed(out, exc, "the .eml files") from None
    return Exported(out, len(patients))


def _first_bytes(path: Path, size: int) -> bytes:
    with path.open("rb") as handle:  # not read_bytes(): an earlier export can be gigabytes
        return handle.read(size)


def export_mbox(prepared: Prepared, out: Path) -> Exported:
    """One mbox file (mboxrd-safe: message bodies never start a line with "From ")."""
    if out.is_dir():
        raise ChairsideError(f"{out} is a folder; give --out a file name such as campaign.mbox.")
    if out.is_file() and out.stat().st_size and _first_bytes(out, 5) != b"From ":
        raise ChairsideError(
            f"{out} already exists and is not a mailbox file; Chairside will not overwrite it. "
            "Give --out a new file name such as december.mbox."
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime())
    separator = f"From {prepared.practice.from_email} {stamp}\n".encode()
    templates = prepared.templates
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    count = 0
    try:
        with os.fdopen(fd, "wb", buffering=1 << 20) as handle:
            for patient in prepared.audience.patients:
                # LF line ends, as mbox files have them: the variant's bytes were converted
                # once (MessageTemplate.fill), not every message.
                data = templates[patient.segment].fill(prepared.person(patient), eol=b"\n").data
                handle.write(separator + data + b"\n")
                count += 1
        os.replace(tmp, out)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise _write_failed(out, exc, "the mailbox") from None
        raise
    return Exported(out, count)


class EmlFiles(Provider):
    name = "eml"
    title = ".eml files"

    @classmethod
    def features(cls) -> list[str]:
        return ["files: one .eml per patient, and manifest.csv", "final messages, filled in"]

    def export(self, out: Path) -> str:
        result = export_eml(self.prepared, out)
        return f"{result.messages} messages in {result.path}"


class MboxFile(Provider):
    name = "mbox"
    title = "mbox file"

    @classmethod
    def features(cls) -> list[str]:
        return ["one mailbox file for mail programs", "final messages, filled in"]

    def export(self, out: Path) -> str:
        result = export_mbox(self.prepared, out)
        return f"{result.messages} messages in {result.path}"
