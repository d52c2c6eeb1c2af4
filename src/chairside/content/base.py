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
    """

    file_extensions: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def read(self, path: Path) -> Article: ...
