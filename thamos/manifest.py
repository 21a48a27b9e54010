"""Editing the project's direct requirements (``thamos add`` / ``thamos remove``).

Pipfiles are edited with tomlkit so comments, order and formatting of untouched parts stay as the
user wrote them; requirements.in files are edited line by line. Both are written atomically.
"""

from __future__ import annotations

import re
from pathlib import Path

import tomlkit
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from .exceptions import BadInputError
from .project_files import ProjectFiles, atomic_write, parse_pipfile, read_user_file

_REQUIREMENT_NAME_RE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def parse_requirement(text: str) -> Requirement:
    try:
        requirement = Requirement(text)
    except InvalidRequirement as exc:
        raise BadInputError(f"{text!r} is not a valid requirement: {exc}") from None
    if requirement.url:
        raise BadInputError(f"{text!r}: direct URL requirements are not supported")
    return requirement


def _pipfile_entry(requirement: Requirement):
    version = str(requirement.specifier) or "*"
    if not requirement.extras and not requirement.marker:
        return version
    entry = tomlkit.inline_table()
    entry["version"] = version
    if requirement.extras:
        entry["extras"] = sorted(requirement.extras)
    if requirement.marker:
        entry["markers"] = str(requirement.marker)
    return entry


def _find_key(table, name: str) -> str | None:
    wanted = canonicalize_name(name)
    for key in list(table.keys()):
        if canonicalize_name(str(key)) == wanted:
            return str(key)
    return None


def _load_pipfile(path: Path):
    if not path.exists():
        return tomlkit.document()
    text = read_user_file(path)
    parse_pipfile(text, str(path))  # a clear message for a Pipfile of the wrong shape
    return tomlkit.parse(text)


def add(files: ProjectFiles, requirements: list[str], *, dev: bool = False) -> Path:
    """Add or update direct requirements; returns the edited file."""
    parsed = [parse_requirement(text) for text in requirements]
    if files.is_pipenv:
        document = _load_pipfile(files.pipfile)
        section = "dev-packages" if dev else "packages"
        if section not in document:
            document[section] = tomlkit.table()
        table = document[section]
        for requirement in parsed:
            key = _find_key(table, requirement.name) or requirement.name
            table[key] = _pipfile_entry(requirement)
        atomic_write(files.pipfile, tomlkit.dumps(document))
        return files.pipfile
    path = files.requirements_in
    lines = read_user_file(path).splitlines() if path.exists() else []
    for requirement in parsed:
        wanted = canonicalize_name(requirement.name)
        index = next((i for i, line in enumerate(lines) if _line_name(line) == wanted), None)
        if index is None:
            lines.append(str(requirement))
        else:
            lines[index] = str(requirement)
    atomic_write(path, "\n".join(lines) + "\n")
    return path


def remove(files: ProjectFiles, names: list[str]) -> Path:
    """Remove direct requirements by name (from both default and dev sections of a Pipfile)."""
    if files.is_pipenv:
        if not files.pipfile.exists():
            raise BadInputError(f"No Pipfile found in {files.directory}")
        document = _load_pipfile(files.pipfile)
        missing = []
        for name in names:
            removed = False
            for section in ("packages", "dev-packages"):
                if section in document:
                    key = _find_key(document[section], name)
                    if key is not None:
                        del document[section][key]
                        removed = True
            if not removed:
                missing.append(name)
        if missing:
            raise BadInputError(f"Not a direct requirement in {files.pipfile}: {', '.join(missing)}")
        atomic_write(files.pipfile, tomlkit.dumps(document))
        return files.pipfile
    path = files.input_file
    if not path.exists():
        raise BadInputError(f"No {path.name} found in {files.directory}")
    lines = read_user_file(path).splitlines()
    wanted = {canonicalize_name(name) for name in names}
    kept = [line for line in lines if _line_name(line) not in wanted]
    found = {_line_name(line) for line in lines} & wanted
    missing = [name for name in names if canonicalize_name(name) not in found]
    if missing:
        raise BadInputError(f"Not a direct requirement in {path}: {', '.join(missing)}")
    atomic_write(path, "\n".join(kept) + ("\n" if kept else ""))
    return path


def _line_name(line: str) -> str | None:
    stripped = line.split("#", 1)[0].strip()
    if not stripped or stripped.startswith("-"):
        return None
    match = _REQUIREMENT_NAME_RE.match(stripped)
    return canonicalize_name(match.group(1)) if match else None
