"""Reading the workspace's TOML files, with errors that name the file, line and fix."""

from __future__ import annotations

import difflib
import re
import tomllib
from pathlib import Path
from typing import Any

from chairside.errors import WorkspaceError


def load_toml(path: Path, *, label: str | None = None) -> dict[str, Any]:
    """Parse `path`; a missing or malformed file raises `WorkspaceError` with its line."""
    shown = label or str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise WorkspaceError(f"{shown}: file not found.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise WorkspaceError(f"{shown}: cannot be read ({exc}). Save it as UTF-8 text.") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib says "Expected '=' after a key (at line 3, column 7)": lead with the place.
        message = str(exc)
        match = re.search(r"\(at line (\d+), column (\d+)\)", message)
        if match:
            message = message[: match.start()].strip()
            shown = f"{shown}, line {match.group(1)}"
        raise WorkspaceError(
            f"{shown}: this is not valid TOML: {message}. "
            "Check quotes, brackets and '=' signs on that line."
        ) from None


def line_of(path: Path, pattern: str) -> int | None:
    """The first line of `path` that matches the regex `pattern`, for pointing at a key."""
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except OSError:
        return None
    regex = re.compile(pattern)
    return next((n for n, line in enumerate(lines, 1) if regex.search(line)), None)


class Problems:
    """Collects every problem in one file so the user fixes them in one go (as MkDocs does)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.items: list[str] = []

    def add(self, message: str, *, line: int | None = None) -> None:
        self.items.append(f"line {line}: {message}" if line else message)

    def raise_if_any(self) -> None:
        if not self.items:
            return
        if len(self.items) == 1:
            error = WorkspaceError(f"{self.label}: {self.items[0]}")
        else:
            listed = "\n".join(f"  - {item}" for item in self.items)
            error = WorkspaceError(f"{self.label} has {len(self.items)} problems:\n{listed}")
        error.problems = tuple(self.items)  # one by one, for a form to show beside each field
        raise error


def get_str(
    table: dict[str, Any], key: str, problems: Problems, *, where: str, default: str = ""
) -> str:
    """A string setting, or `default`; a value of the wrong type is recorded as a problem."""
    value = table.get(key, default)
    if isinstance(value, str):
        return value.strip()
    problems.add(f'{where}{key}: must be text in quotes, like {key} = "..."')
    return default


def get_str_list(table: dict[str, Any], key: str, problems: Problems, *, where: str) -> list[str]:
    """A list of strings (a single string is accepted as a one-item list)."""
    value = table.get(key, [])
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return [item.strip() for item in value if item.strip()]
    problems.add(f'{where}{key}: must be a list of words in quotes, like {key} = ["a", "b"]')
    return []


def unknown_keys(
    table: dict[str, Any], known: tuple[str, ...], problems: Problems, *, where: str, path: Path
) -> None:
    """Report keys the file does not use (typos: "fromat"), with the nearest known one."""
    for key in table:
        if key in known:
            continue
        near = difflib.get_close_matches(key.lower(), known, n=1, cutoff=0.6)
        hint = f" (did you mean {near[0]}?)" if near else f" (known: {', '.join(known)})"
        problems.add(
            f"{where}{key}: unknown setting{hint}",
            line=line_of(path, rf"^\s*{re.escape(key)}\s*="),
        )
