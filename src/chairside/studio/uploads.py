"""Uploaded files, saved where the library can read them (it takes paths, like the CLI)."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from starlette.datastructures import FormData, UploadFile

from chairside.errors import ChairsideError

_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


def safe_name(filename: str | None, default: str) -> str:
    """The file's own name without folders or odd characters (it may become a post's name)."""
    name = _UNSAFE.sub("-", Path((filename or "").replace("\\", "/")).name).strip(" .-")
    return name[:120] or default


def uploads(form: FormData, field: str) -> list[UploadFile]:
    """The files sent in `field`; an empty file input sends one nameless, empty part."""
    return [f for f in form.getlist(field) if isinstance(f, UploadFile) and (f.filename or f.size)]


async def save(upload: UploadFile, target: Path) -> Path:
    """Copy the upload to `target`; a full disk or a read-only folder is the user's to fix."""
    try:
        with target.open("wb") as handle:
            while chunk := await upload.read(1 << 20):
                handle.write(chunk)
    except OSError as exc:
        target.unlink(missing_ok=True)
        raise ChairsideError(
            f"Cannot save the upload in {target.parent} ({exc.strerror or exc}). Free some "
            "space or check the folder can be written to, then upload again."
        ) from None
    return target


@contextmanager
def scratch_dir() -> Iterator[Path]:
    """A private temporary folder, removed afterwards whatever happens."""
    with tempfile.TemporaryDirectory(prefix="chairside-studio-") as folder:
        yield Path(folder)
