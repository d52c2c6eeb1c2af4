"""`chairside templates`: which theme files exist, and copying one out to override it."""

from __future__ import annotations

import shutil
from importlib.resources import as_file, files
from pathlib import Path

from chairside.errors import WorkspaceError
from chairside.render.env import THEME_PACKAGE


def theme_files() -> list[str]:
    """The built-in theme's template names."""
    theme = files(THEME_PACKAGE[0]) / THEME_PACKAGE[1]
    return sorted(entry.name for entry in theme.iterdir() if entry.is_file())


def copy_template(name: str, templates_dir: Path) -> Path:
    """Copy the built-in `name` into the practice's templates/ folder, never overwriting."""
    if name not in theme_files():
        raise WorkspaceError(
            f"There is no theme file {name!r}. Theme files: {', '.join(theme_files())}."
        )
    target = templates_dir / name
    if target.exists():
        raise WorkspaceError(f"templates/{name} already exists; edit it, or delete it first.")
    templates_dir.mkdir(parents=True, exist_ok=True)
    with as_file(files(THEME_PACKAGE[0]) / THEME_PACKAGE[1] / name) as source:
        shutil.copyfile(source, target)
    return target
