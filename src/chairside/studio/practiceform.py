"""Writing the Settings pages' forms back into practice.toml, keeping the office's comments.

As with campaign.toml (`campaignform`), tomlkit edits the document in place, and the result
is read back with the CLI's own loader before it is kept: a value the CLI would refuse
leaves the file as it was, and each problem is handed back with the setting it is about,
for the page to show beside that field.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

import tomlkit
from tomlkit.items import Table

from chairside.errors import ChairsideError, WorkspaceError
from chairside.fsutil import write_text_atomic
from chairside.tomlfile import load_toml
from chairside.workspace import PRACTICE_FILE, Workspace

Value = str | int | bool
# "line 4: [email] from: 'x' is not an email address": the setting, then what is wrong.
# One save at a time: each reads the file, changes its part and writes it back.
_saving = threading.Lock()
_PROBLEM = re.compile(r"^(?:line \d+: )?(?:\[([a-z_.]+)\] )?([a-z_]+): (.*)$", re.DOTALL)


def read_practice(workspace: Workspace) -> dict:
    """practice.toml as it stands (valid or not: the pages show what is there to fix)."""
    return load_toml(workspace.practice_file, label=PRACTICE_FILE)


def value_at(data: dict, path: str, default: Value = "") -> Value:
    """`data["email"]["from"]` for "email.from"; `default` where it is missing."""
    node: object = data
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node if isinstance(node, (str, int, bool)) else default


def save_practice(
    workspace: Workspace, changes: dict[str, Value | None], check: Callable[[Workspace], object]
) -> None:
    """Set each dotted setting in `changes` ("email.from" → value; None or "" removes it),
    then read the file back with `check` (`load_practice`, `load_imap`); a file it refuses
    is put back as it was and the error raised, its `problems` one by one."""
    with _saving:
        _save(workspace, changes, check)


def _save(
    workspace: Workspace, changes: dict[str, Value | None], check: Callable[[Workspace], object]
) -> None:
    path = workspace.practice_file
    before = path.read_text(encoding="utf-8-sig")
    text = before
    for section in {dotted.split(".")[0] for dotted in changes if "." in dotted}:
        text = _uncomment(text, section)
    doc = tomlkit.parse(text)
    for dotted, value in changes.items():
        *sections, key = dotted.split(".")
        table = doc
        for section in sections:
            if section not in table:
                if value in (None, ""):
                    break
                table.append(section, tomlkit.table(is_super_table=section == "providers"))
            table = table[section]
        else:
            _set(table, key, value)
    write_text_atomic(path, tomlkit.dumps(doc))
    try:
        check(workspace)
    except ChairsideError:
        write_text_atomic(path, before)
        raise


def _uncomment(text: str, section: str) -> str:
    """`text` with the commented example of `[section]` that `chairside init` writes
    (`# [smtp]`, then `# key = value` lines) made real, when the file has no such section
    yet: the settings then land where the file explains them, not after everything."""
    lines = text.splitlines(keepends=True)
    if any(re.match(rf"\s*\[{section}[.\]]", line) for line in lines):
        return text
    start = next((n for n, line in enumerate(lines) if line.strip() == f"# [{section}]"), None)
    if start is None:
        return text
    end = start + 1
    while end < len(lines) and re.match(r"# [a-z_]+ = ", lines[end]):
        end += 1
    lines[start:end] = [line[2:] for line in lines[start:end]]
    return "".join(lines)


def _set(table: Table, key: str, value: Value | None) -> None:
    if value is None or value == "":
        if key in table:
            del table[key]
    else:
        table[key] = value


def problems_by_setting(error: ChairsideError) -> tuple[dict[str, list[str]], list[str]]:
    """The error's problems keyed by dotted setting ("email.from"), each without the
    setting's name in front, and those about no one setting."""
    items = error.problems if isinstance(error, WorkspaceError) and error.problems else ()
    if not items:
        return {}, [error.format_message()]
    by_setting: dict[str, list[str]] = {}
    others = []
    for item in items:
        found = _PROBLEM.match(item)
        if found is None:
            others.append(item)
            continue
        section, key, what = found.groups()
        setting = f"{section}.{key}" if section else key
        by_setting.setdefault(setting, []).append(what[0].upper() + what[1:])
    return by_setting, others
