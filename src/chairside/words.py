"""Counted words as people write them: "1 version", "3 versions" (never "1 versions")."""

from __future__ import annotations


def plural(count: int, word: str, words: str = "") -> str:
    """`count` and `word`, or `words` (default: word + "s") unless there is one."""
    return f"{count} {word if count == 1 else (words or word + 's')}"
