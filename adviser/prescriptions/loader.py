"""Reading prescription repositories: the directory walk, the metadata of each root, YAML, validation.

A root is a directory holding ``_prescription_metadata.yaml`` (``prescription: {name, release}``);
its metadata applies to every file below it up to the next root. Every ``*.yaml``/``*.yml`` is
read (names starting with ``.`` are skipped); the path never tells a package name. A file with a
problem is reported (file, unit and key named) and skipped; the others load.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from adviser.prescriptions.schema import SECTIONS, UnitError, check_unit

METADATA_FILE = "_prescription_metadata.yaml"
UNKNOWN = "UNKNOWN"
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built with it: ~5x faster


@dataclass
class Repository:
    """One prescription root as loaded: its namespace, release, units (compiled form) and problems."""

    name: str
    release: str
    path: str
    units: list[dict] = field(default_factory=list)  # kept only when no sink takes them (see load_tree)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    files: int = 0
    by_type: dict[str, int] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return dict(sorted(self.by_type.items()))


def read_yaml(path: Path) -> Any:
    with open(path, "rb") as handle:
        return yaml.load(handle, Loader=_Loader)  # noqa: S506 -- a safe loader


def _metadata(path: Path, errors: list[str], warnings: list[str]) -> tuple[str, str]:
    try:
        document = read_yaml(path)
    except (OSError, yaml.YAMLError) as exc:
        errors.append(f"{path}: cannot be read as YAML ({_short(exc)}); namespace {UNKNOWN} used")
        return UNKNOWN, UNKNOWN
    prescription = document.get("prescription") if isinstance(document, dict) else None
    prescription = prescription if isinstance(prescription, dict) else {}
    name, release = prescription.get("name"), prescription.get("release")
    if not name or not release:
        missing = " and ".join(k for k, v in (("name", name), ("release", release)) if not v)
        warnings.append(f"{path}: prescription.{missing} missing; {UNKNOWN} used")
    return str(name or UNKNOWN), str(release or UNKNOWN)


def _short(exc: Exception) -> str:
    return " ".join(str(exc).split())[:300]


def load_file(path: Path, label: str, namespace: str, warnings: list[str]) -> list[dict]:
    """The units of one file (compiled form, full names), or a UnitError naming file, unit and key."""
    try:
        document = read_yaml(path)
    except yaml.YAMLError as exc:
        raise UnitError(f"{label}: invalid YAML ({_short(exc)})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UnitError(f"{label}: cannot be read ({_short(exc)})") from None
    if not isinstance(document, dict) or not isinstance(document.get("units"), dict):
        raise UnitError(f"{label}: must be a mapping with a 'units' mapping")
    unknown = sorted(str(k) for k in document if k not in ("units", "metadata"))
    if unknown:
        raise UnitError(f"{label}: unknown top-level key {', '.join(unknown)}")
    units = []
    for section, entries in document["units"].items():
        if section not in SECTIONS:
            raise UnitError(f"{label}: units.{section}: unknown section (allowed: {', '.join(SECTIONS)})")
        if not isinstance(entries, list):
            raise UnitError(f"{label}: units.{section}: must be a list of units")
        seen: set[str] = set()
        for position, entry in enumerate(entries):
            name = entry.get("name") if isinstance(entry, dict) else None
            where = f"{label}: unit {name}" if isinstance(name, str) else f"{label}: units.{section}[{position}]"
            found: list[str] = []
            try:
                unit = check_unit(section, entry, found)
            except UnitError as exc:
                raise UnitError(f"{where}: {exc}") from None
            if name in seen:
                raise UnitError(f"{where}: name: duplicate unit name in {section} of this file")
            seen.add(name)
            warnings.extend(f"{where}: {w}" for w in found)
            unit["name"] = f"{namespace}.{name}"
            unit["section"] = section
            unit["file"] = label
            units.append(unit)
    return units


Sink = Callable[[Repository, list[dict]], None]
Parsed = tuple[list[dict] | None, list[str], str | None]  # units, warnings, error


def load_tree(top: str | Path, source: str | None = None, sink: Sink | None = None,
              parse: Callable[[Path, str, str], Parsed] | None = None) -> list[Repository]:
    """Every prescription root under ``top`` (itself included), each with its units and problems.

    With ``sink``, each file's units go to it as soon as they are read (memory stays flat) and
    duplicates are the sink's to settle; without, they are kept in ``Repository.units``. ``parse``
    (path, label, namespace) may stand for ``parse_file`` (the compiler reuses unchanged files)."""
    top = Path(top)
    repositories: dict[str, Repository] = {}
    if not top.is_dir():
        broken = Repository(UNKNOWN, UNKNOWN, str(top))
        broken.errors.append(f"{source or top}: not a directory")
        return [broken]
    # One process: YAML parsing is most of the cost (~0.7 ms a file), and parsing in spawned
    # processes measured slower on a shared two-core machine (start-up, pickling the units back).
    parse = parse or parse_file
    for repository, path, label in _files(top, source, repositories):
        _take(repository, parse(path, label, repository.name), sink)
    if sink is None:
        _overwrite_duplicates(repositories.values())
    return list(repositories.values())


def _files(top: Path, source: str | None, repositories: dict[str, Repository]) -> list[tuple[Repository, Path, str]]:
    """Every unit file under ``top`` with the repository (nearest root) it belongs to, in path order."""
    jobs = []
    orphan = None
    for directory, _names, files in _walk(top):
        root = _root_of(directory, top, repositories)
        if root is None:
            if orphan is None:
                orphan = repositories[str(top)] = Repository(UNKNOWN, UNKNOWN, str(top))
                orphan.errors.append(f"{source or top}: no {METADATA_FILE} at its top; units named {UNKNOWN}.<name>")
            root = orphan
        for file_name in files:
            if file_name != METADATA_FILE:
                path = Path(directory) / file_name
                jobs.append((root, path, str(path.relative_to(top))))
    return jobs


def parse_file(path: Path, label: str, namespace: str) -> Parsed:
    """A file's units, warnings and error (None when it loaded)."""
    warnings: list[str] = []
    try:
        return load_file(path, label, namespace, warnings), warnings, None
    except UnitError as exc:
        return None, warnings, f"{exc} (file skipped)"


def _take(repository: Repository, result: Parsed, sink: Sink | None) -> None:
    units, warnings, error = result
    repository.files += 1
    repository.warnings.extend(warnings)
    if error is not None:
        repository.errors.append(error)
        return
    for unit in units:
        repository.by_type[unit["type"]] = repository.by_type.get(unit["type"], 0) + 1
    if sink is None:
        repository.units.extend(units)
    else:
        sink(repository, units)


def _walk(top: Path):
    for directory, names, files in os.walk(top):
        names[:] = sorted(n for n in names if not n.startswith("."))
        wanted = sorted(f for f in files if not f.startswith(".") and f.endswith((".yaml", ".yml")))
        yield directory, names, wanted


def _root_of(directory: str, top: Path, repositories: dict[str, Repository]) -> Repository | None:
    """The repository of the nearest root at or above ``directory`` (a new one if it is a root)."""
    if directory not in repositories and os.path.isfile(os.path.join(directory, METADATA_FILE)):
        repository = Repository(UNKNOWN, UNKNOWN, directory)
        repository.name, repository.release = _metadata(
            Path(directory, METADATA_FILE), repository.errors, repository.warnings
        )
        repositories[directory] = repository
    current, limit = directory, str(top)
    while True:
        found = repositories.get(current)
        if found is not None and found.name is not None and os.path.isfile(os.path.join(current, METADATA_FILE)):
            return found
        if current == limit or len(current) <= len(limit):
            return None
        current = os.path.dirname(current)


def _overwrite_duplicates(repositories) -> None:
    """A later unit of the same full name replaces an earlier one (files in path order), with a warning."""
    for repository in repositories:
        by_name: dict[str, int] = {}
        kept: list[dict] = []
        for unit in repository.units:
            if unit["name"] in by_name:
                earlier = kept[by_name[unit["name"]]]
                repository.warnings.append(f"{unit['file']}: unit {unit['name']} replaces the one in {earlier['file']}")
                kept[by_name[unit["name"]]] = unit
                repository.by_type[earlier["type"]] -= 1
            else:
                by_name[unit["name"]] = len(kept)
                kept.append(unit)
        repository.units = kept
