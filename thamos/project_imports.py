"""Finding the modules a project imports (``thamos discover``), by parsing its sources with ast."""

from __future__ import annotations

import ast
import logging
import os
import sys
from pathlib import Path

_LOGGER = logging.getLogger(__name__)

# Directories that hold no project code (virtual environments, caches, VCS metadata...).
_SKIPPED_DIRS = {".git", ".hg", ".svn", ".tox", ".nox", ".venv", "venv", "env", "__pycache__", "node_modules",
                 "build", "dist", ".eggs", "site-packages", ".mypy_cache", ".pytest_cache", ".ruff_cache"}


def iter_python_files(root: Path):
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if d not in _SKIPPED_DIRS and not d.endswith(".egg-info"))
        for name in sorted(files):
            if name.endswith(".py"):
                yield Path(directory) / name


def local_module_names(root: Path) -> set[str]:
    """Top-level names that belong to the project itself (its own modules and packages)."""
    names: set[str] = set()
    for path in iter_python_files(root):
        relative = path.relative_to(root)
        names.add(relative.parts[0].removesuffix(".py"))
        # src/ layouts and nested packages: every directory holding code is importable from somewhere.
        names.update(part for part in relative.parts[:-1])
        names.add(path.stem)
    return names


def imported_modules(root: Path) -> dict[str, list[str]]:
    """Third-party top-level modules imported by the project, each with the files importing it."""
    found: dict[str, set[str]] = {}
    for path in iter_python_files(root):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"), filename=str(path))
        except SyntaxError as exc:
            _LOGGER.warning("Skipping %s: %s", path, exc.msg)
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                found.setdefault(module.split(".", 1)[0], set()).add(str(path.relative_to(root)))
    local = local_module_names(root)
    stdlib = set(sys.stdlib_module_names)
    return {
        module: sorted(files)
        for module, files in sorted(found.items())
        if module not in stdlib and module not in local and module != "__future__"
    }
