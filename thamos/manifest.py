"""Editing the project's direct requirements (``thamos add`` / ``thamos remove``).

Pipfiles are edited with tomlkit so comments, order and formatting of untouched parts stay as the
user wrote them; requirements.in files are edited line by line. Both are written atomically.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import tomlkit
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from stackfiles.pipfile import DEFAULT_SOURCE_NAME, append_source

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


def add(files: ProjectFiles, requirements: list[str], *, dev: bool = False, index_url: str | None = None,
        keep_existing: bool = False) -> Path:
    """Add or update direct requirements; returns the edited file. ``index_url`` pins them to that
    index (a Pipfile ``[[source]]`` added or reused); ``keep_existing`` leaves listed ones as they are."""
    parsed = [parse_requirement(text) for text in requirements]
    if files.is_pipenv:
        document = _load_pipfile(files.pipfile)
        section = "dev-packages" if dev else "packages"
        if section not in document:
            document[section] = tomlkit.table()
        table = document[section]
        index_name = _source_name(document, index_url) if index_url else None
        for requirement in parsed:
            key = _find_key(table, requirement.name)
            if key is not None and keep_existing:
                continue
            entry = _pipfile_entry(requirement)
            if index_name:
                entry = _with_index(entry, index_name)
            table[key or requirement.name] = entry
        atomic_write(files.pipfile, tomlkit.dumps(document))
        return files.pipfile
    path = files.requirements_in
    lines = read_user_file(path).splitlines() if path.exists() else []
    if index_url and not any(index_url.rstrip("/") in line for line in lines if line.lstrip().startswith("-")):
        lines.insert(0, f"--extra-index-url {index_url}")  # pip cannot tie one package to one index
    for requirement in parsed:
        wanted = canonicalize_name(requirement.name)
        index = next((i for i, line in enumerate(lines) if _line_name(line) == wanted), None)
        if index is None:
            lines.append(str(requirement))
        elif not keep_existing:
            lines[index] = str(requirement)
    atomic_write(path, "\n".join(lines) + "\n")
    return path


def _with_index(entry, index_name: str):
    if isinstance(entry, str):
        table = tomlkit.inline_table()
        table["version"] = entry
        entry = table
    entry["index"] = index_name
    return entry


def _source_name(document, url: str) -> str:
    """The name of the ``[[source]]`` with this URL, added (named after its host) when missing."""
    if not url.startswith(("http://", "https://", "file://")):
        raise BadInputError(f"--index-url {url!r}: expected an http://, https:// or file:// URL")
    sources = document.get("source")
    existing = list(sources) if sources is not None else []
    for source in existing:
        if str(source.get("url", "")).rstrip("/") == url.rstrip("/"):
            return str(source.get("name"))
    if sources is None:
        # Without [[source]] every package came from pip's default index: keep it first, so that
        # only the packages pinned here come from the new one.
        from .local_packages import default_index_url  # zipfile and email.parser: only needed here

        default = {"url": default_index_url(), "verify_ssl": True, "name": DEFAULT_SOURCE_NAME}
        sources = tomlkit.aot()
        document.add("source", sources)
        document.body.insert(0, document.body.pop())  # pipenv writes [[source]] first
        append_source(sources, default)
        if default["url"].rstrip("/") == url.rstrip("/"):
            return str(default["name"])
        existing = [default]
    names = {str(source.get("name")) for source in existing}
    base = re.sub(r"[^A-Za-z0-9-]+", "-", urlsplit(url).hostname or "index").strip("-") or "index"
    name = base if base not in names else next(f"{base}-{n}" for n in range(2, 1000) if f"{base}-{n}" not in names)
    append_source(sources, {"url": url, "verify_ssl": url.startswith("https://"), "name": name})
    return name


def remove(files: ProjectFiles, names: list[str], *, dev: bool | None = None) -> Path:
    """Remove direct requirements by name: from both sections of a Pipfile, only from
    ``[dev-packages]`` when ``dev`` is true, only from ``[packages]`` when it is false."""
    if files.is_pipenv:
        if not files.pipfile.exists():
            raise BadInputError(f"No Pipfile found in {files.directory}")
        document = _load_pipfile(files.pipfile)
        missing = []
        sections = ("packages", "dev-packages") if dev is None else ("dev-packages",) if dev else ("packages",)
        for name in names:
            removed = False
            for section in sections:
                if section in document:
                    key = _find_key(document[section], name)
                    if key is not None:
                        del document[section][key]
                        removed = True
            if not removed:
                missing.append(name)
        if missing:
            where = f"[{sections[0]}] of {files.pipfile}" if len(sections) == 1 else str(files.pipfile)
            raise BadInputError(f"Not a direct requirement in {where}: {', '.join(missing)}")
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
