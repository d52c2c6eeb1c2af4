"""Exports to files: one `.eml` per patient (with a manifest), or one mbox file.

Both are written beside their destination and moved into place only when complete, so a
failed export leaves no half-written folder or file.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from chairside.csvsafe import safe_row
from chairside.delivery import Prepared
from chairside.errors import ChairsideError
from chairside.fsutil import replacing_dir
from chairside.providers.base import Provider

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


def export_eml(prepared: Prepared, out: Path) -> Exported:
    """`out/000001.eml`, … (file names carry no address) and `out/manifest.csv`."""
    _check_folder(out)
    manifest = io.StringIO()
    writer = csv.writer(manifest, lineterminator="\n")
    writer.writerow(["file", "recipient", "variant"])
    count = 0
    with replacing_dir(out) as staging:
        for number, (patient, message) in enumerate(prepared.messages(), 1):
            name = f"{number:06d}.eml"
            fd = os.open(staging / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                view = memoryview(message.data)
                while view:  # a regular file takes it all at once; a full disk raises
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)
            writer.writerow(safe_row([name, patient.email, prepared.variant_id(patient)]))
            count = number
        (staging / MANIFEST).write_text(manifest.getvalue(), encoding="utf-8")
    return Exported(out, count)


def export_mbox(prepared: Prepared, out: Path) -> Exported:
    """One mbox file (mboxrd-safe: message bodies never start a line with "From ")."""
    if out.is_dir():
        raise ChairsideError(f"{out} is a folder; give --out a file name such as campaign.mbox.")
    out.parent.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime()).encode()
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    count = 0
    try:
        with os.fdopen(fd, "wb") as handle:
            for _patient, message in prepared.messages():
                sender = prepared.practice.from_email.encode()
                handle.write(b"From " + sender + b" " + stamp + b"\n")
                # Messages never hold a bare CR, so deleting every CR turns CRLF into LF
                # (at twice the speed of replace).
                handle.write(message.data.translate(None, b"\r"))
                handle.write(b"\n")
                count += 1
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
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
