"""Writing the small TOML files Chairside generates, readable and with comments."""

from __future__ import annotations

import json


def toml_str(value: str) -> str:
    """A TOML basic string (JSON's escaping is valid TOML for strings)."""
    return json.dumps(value, ensure_ascii=False)


def toml_list(values: list[str] | tuple[str, ...]) -> str:
    return "[" + ", ".join(toml_str(v) for v in values) + "]"


def toml_text(value: str) -> str:
    """A multi-line string for prose the user will edit."""
    if "'''" in value:
        return toml_str(value)
    return "'''\n" + value.strip("\n") + "\n'''"
