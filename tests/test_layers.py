"""Imports run one way: no module of chairside imports, even inside a function, one that
imports it back, and every import goes to the same layer or a lower one (the layers the
README's "For developers" lists). The faces (the CLI and the studio) are imported by none.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"

# Bottom to top, as README.md "For developers" lists them; a module belongs to the layer of
# its longest listed prefix.
LAYERS: tuple[tuple[str, ...], ...] = (
    (
        "chairside",
        "chairside.errors",
        "chairside.fsutil",
        "chairside.workspace",
        "chairside.tomlfile",
        "chairside.tomlwrite",
        "chairside.urls",
        "chairside.headers",
        "chairside.csvsafe",
        "chairside.placeholders",
        "chairside.tokens",
        "chairside.secrets",
        "chairside.words",
        "chairside.clock",
        "chairside.witness",
    ),
    (
        "chairside.content",
        "chairside.audience",
        "chairside.campaign",
        "chairside.newcampaign",
        "chairside.scaffold",
    ),
    (
        "chairside.render",
        "chairside.message",
        "chairside.rendered",
        "chairside.templates",
        "chairside.logocheck",
    ),
    (
        "chairside.delivery",
        "chairside.journal",
        "chairside.ledger",
        "chairside.providers",
        "chairside.sending",
        "chairside.sendloop",
        "chairside.sendsummary",
        "chairside.status",
        "chairside.returnpath",
        "chairside.mailcheck",
        "chairside.dkim",
    ),
    ("chairside.checks", "chairside.build", "chairside.campaignops", "chairside.doctor"),
    ("chairside.autopilot",),
    ("chairside.commands", "chairside.cli", "chairside.__main__", "chairside.studio"),
)
FACES = ("chairside.commands", "chairside.cli", "chairside.__main__", "chairside.studio")


def modules() -> dict[str, Path]:
    found = {}
    for path in (SRC / "chairside").rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _owner(name: str, known: dict[str, Path]) -> str | None:
    """The module `name` is, or is in (`chairside.checks.Finding` → `chairside.checks`)."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Every chairside module `name` imports: at the top, inside functions and under
    TYPE_CHECKING alike (a lazy import is a dependency all the same)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            # `from chairside import cli` imports the module chairside.cli.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            if target == "chairside" or target.startswith("chairside."):
                owner = _owner(target, known)
                if owner and owner != name:
                    found.add(owner)
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def layer_of(name: str) -> int:
    best, found = -1, None
    for number, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (name == prefix or name.startswith(prefix + ".")) and len(prefix) > best:
                best, found = len(prefix), number
    if found is None or (found == 0 and name != "chairside" and best == len("chairside")):
        pytest.fail(
            f"{name} is in no layer: add it to LAYERS in tests/test_layers.py and to the "
            "layers in README.md 'For developers'"
        )
    return found


def cycle_in(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the modules around it, or None."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(edges[node]):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_the_parser_sees_lazy_and_relative_imports(tmp_path):
    (tmp_path / "chairside" / "pkg").mkdir(parents=True)
    module = tmp_path / "chairside" / "pkg" / "mod.py"
    module.write_text(
        "from . import sibling\n"
        "def later():\n"
        "    from chairside import cli\n"
        "    import chairside.build.thing\n"
    )
    known = dict.fromkeys(
        ["chairside", "chairside.cli", "chairside.build", "chairside.pkg.sibling"], Path()
    )
    found = imports_of("chairside.pkg.mod", module, known)
    assert found == {"chairside.pkg.sibling", "chairside.cli", "chairside.build"}
    assert cycle_in({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle_in({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_among_chairside_modules():
    found = cycle_in(graph())
    assert found is None, "import cycle: " + " -> ".join(found)


def test_imports_go_down_the_layers_and_nothing_below_imports_a_face():
    upward = []
    for name, targets in sorted(graph().items()):
        for target in sorted(targets):
            if layer_of(target) > layer_of(name):
                upward.append(f"{name} imports {target}")
            below_the_faces = not name.startswith(FACES)
            if below_the_faces and target.startswith(FACES):
                upward.append(f"{name} imports the face {target}")
            if name.startswith("chairside.studio") and target.startswith(FACES[:3]):
                upward.append(f"{name} (the studio) imports the CLI's {target}")
    assert upward == []
