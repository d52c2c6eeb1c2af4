"""The reader interface: one subclass per post format, as in Pelican."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

from chairside.content.article import Article


class BaseReader(ABC):
    """Reads one post file into an `Article`.

    Subclasses declare the file extensions they read and implement `read`. A file that
    cannot be read raises `chairside.errors.ContentError` naming the file and the reason.
    `base_url` is the address the post was published at, for a file that does not say
    (no `url:`, no canonical link): relative links and images are resolved against it,
    and it becomes the post's `url`.
    """

    file_extensions: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def read(self, path: Path, *, base_url: str | None = None) -> Article: ...
