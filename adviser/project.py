"""The application stack of a request: Pipfile or pip / pip-tools requirements, constraints, a lock.

Everything is normalized into a ``Project``: sources (indexes), direct requirements (default and
dev), the Python version of ``[requires]``, pre-release settings, ``[thoth]`` options and the
constraints. A Pipfile dictionary is produced for the report even when the input was a
requirements file, because the lock and its hash are always Pipfile-based.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from stackfiles.errors import StackFileError
from stackfiles.pipfile import read_pipfile
from stackfiles.pipfile_lock import lock_hash, read_pipfile_lock
from stackfiles.requirements import logical_lines, parse_requirement, split_hashes

# Markers constraints may use (the seed's supported list); everything else is refused.
SUPPORTED_CONSTRAINT_MARKERS = frozenset(
    {
        "python_full_version",
        "implementation_name",
        "os_name",
        "platform_machine",
        "platform_python_implementation",
        "platform_system",
        "python_version",
        "implementation_version",
        "sys_platform",
    }
)
# Pipenv lets a package entry carry single markers as keys, e.g. sys_platform = "== 'linux'".
PIPFILE_MARKER_KEYS = (
    "os_name",
    "sys_platform",
    "platform_machine",
    "platform_python_implementation",
    "platform_system",
    "python_version",
    "python_full_version",
    "implementation_name",
    "implementation_version",
)
PIP_FORMATS = ("pip", "pip-tools", "pip-compile")


class ProjectError(ValueError):
    """The requirements, constraints or lock cannot be understood; the message says where and why."""


@dataclass(frozen=True)
class Source:
    name: str
    url: str
    verify_ssl: bool = True


@dataclass
class DirectRequirement:
    name: str  # canonical
    specifier: SpecifierSet
    extras: frozenset[str] = frozenset()
    marker: Marker | None = None
    index: str | None = None  # source name the package is pinned to
    dev: bool = False
    text: str = ""  # as the user wrote it, for messages
    # A direct reference instead of an index: {"path", "editable"} or {"git", "ref", "editable"}.
    direct: dict[str, Any] | None = None

    def where(self) -> str:
        return f"[{'dev-packages' if self.dev else 'packages'}] {self.name}"

    def pinned_version(self) -> str | None:
        specs = list(self.specifier)
        if len(specs) == 1 and specs[0].operator in ("==", "===") and "*" not in specs[0].version:
            return specs[0].version
        return None


@dataclass
class Constraint:
    name: str
    specifier: SpecifierSet
    marker: Marker | None
    text: str
    line: int


@dataclass
class Project:
    requirements_format: str
    sources: list[Source]
    packages: list[DirectRequirement]
    dev_packages: list[DirectRequirement]
    python_version: str | None
    allow_prereleases_all: bool
    prerelease_packages: dict[str, bool]
    disable_index_adjustment: bool
    pipfile: dict[str, Any]
    constraints: list[Constraint] = field(default_factory=list)
    notes: list[dict[str, str]] = field(default_factory=list)

    def source_named(self, name: str) -> Source | None:
        return next((s for s in self.sources if s.name == name), None)


@dataclass
class LockedPackage:
    name: str
    version: str
    index: str | None
    hashes: tuple[str, ...]
    dev: bool


@dataclass
class ExistingLock:
    packages: dict[str, LockedPackage]
    pipfile_hash: str | None  # _meta.hash.sha256 of a Pipfile.lock; None for requirements.txt


def load_toml(text: str) -> dict[str, Any]:
    """The Pipfile of a request as plain data (stackfiles.pipfile), or ProjectError saying why not."""
    try:
        return read_pipfile(text, "Pipfile")
    except StackFileError as exc:
        raise ProjectError(exc.message) from None


def _note(kind: str, message: str) -> dict[str, str]:
    return {"type": kind, "message": message, "link": ""}


def marker_variables(marker: Marker) -> set[str]:
    """Names of the environment variables a marker compares (string literals left out)."""
    text = re.sub(r"'[^']*'|\"[^\"]*\"", " ", str(marker))
    return {
        word
        for word in re.findall(r"[A-Za-z_][A-Za-z_0-9.]*", text)
        if word not in ("and", "or", "in", "not")
    }


# ---------------------------------------------------------------- Pipfile


def _pipfile_entry(name: str, value: Any, dev: bool, sources: list[Source]) -> DirectRequirement:
    where = f"[{'dev-packages' if dev else 'packages'}] {name}"
    extras: frozenset[str] = frozenset()
    markers: list[str] = []
    index = None
    direct = None
    if isinstance(value, str):
        version = value
    elif isinstance(value, dict):
        for unsupported in ("file", "hg", "svn", "bzr"):
            if unsupported in value:
                raise ProjectError(
                    f"{where}: '{unsupported}' dependencies are not supported; use a version from an index, "
                    "a local path or a git repository"
                )
        direct = _direct_reference(where, value)
        version = value.get("version", "*")
        if not isinstance(version, str):
            raise ProjectError(f'{where}: version must be a string such as ">=1.0" or "*"')
        raw_extras = value.get("extras", [])
        if not isinstance(raw_extras, list) or not all(isinstance(e, str) for e in raw_extras):
            raise ProjectError(f"{where}: extras must be a list of names")
        extras = frozenset(canonicalize_name(e) for e in raw_extras)
        index = value.get("index")
        if index is not None and not any(s.name == index for s in sources):
            known = ", ".join(s.name for s in sources) or "none"
            raise ProjectError(
                f"{where}: index {index!r} is not a [[source]] of the Pipfile (sources: {known})"
            )
        if value.get("markers"):
            markers.append(str(value["markers"]))
        for key in PIPFILE_MARKER_KEYS:
            if key in value:
                markers.append(f"{key} {value[key]}")
    else:
        raise ProjectError(f"{where}: expected a version string or a table, got {type(value).__name__}")
    version = _bare_version_as_pin(version.strip())
    try:
        specifier = SpecifierSet("" if version in ("*", "") else version)
    except InvalidSpecifier:
        raise ProjectError(f"{where}: {version!r} is not a valid version specifier") from None
    marker = None
    if markers:
        text = " and ".join(f"({m})" for m in markers)
        try:
            marker = Marker(text)
        except InvalidMarker as exc:
            raise ProjectError(f"{where}: invalid markers {text!r}: {exc}") from None
    shown = name + (f"[{','.join(sorted(extras))}]" if extras else "") + (version if version != "*" else "")
    return DirectRequirement(
        name=canonicalize_name(name),
        specifier=specifier,
        extras=extras,
        marker=marker,
        index=index,
        dev=dev,
        text=shown,
        direct=direct,
    )


def _direct_reference(where: str, value: dict[str, Any]) -> dict[str, Any] | None:
    """The ``path`` or ``git`` (with ``ref``) of a Pipfile entry, checked; None for index packages."""
    editable = _as_bool(value.get("editable", False), f"{where}: editable")
    if "path" in value and "git" in value:
        raise ProjectError(f"{where}: give either path or git, not both")
    if "path" in value:
        path = value["path"]
        if not isinstance(path, str) or not path.strip():
            raise ProjectError(f'{where}: path must be a non-empty string such as "./mylib"')
        return {"path": path, "editable": editable}
    if "git" in value:
        url, ref = value["git"], value.get("ref")
        if not isinstance(url, str) or not url.strip():
            raise ProjectError(f'{where}: git must be a repository URL such as "https://host/owner/repo.git"')
        if ref is not None and (not isinstance(ref, str) or not ref.strip()):
            raise ProjectError(f"{where}: ref must be a branch, tag or commit name")
        subdirectory = value.get("subdirectory")
        if subdirectory is not None and (not isinstance(subdirectory, str) or not subdirectory.strip()):
            raise ProjectError(f"{where}: subdirectory must be a relative path inside the repository")
        return {"git": url.strip(), "ref": ref, "editable": editable, "subdirectory": subdirectory}
    if editable:
        raise ProjectError(f"{where}: editable = true needs a path or a git repository")
    return None


def _bare_version_as_pin(version: str) -> str:
    """pipenv reads a bare version (``django = "5.0"``) as ``==5.0``; so does the adviser."""
    if not version or not version[0].isalnum():
        return version  # "*", "" or a specifier starting with an operator
    try:
        Version(version)
    except InvalidVersion:
        return version  # left for SpecifierSet to refuse with the usual message
    return f"=={version}"


def _as_bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ProjectError(f"{where} must be true or false, got {value!r}")


def parse_pipfile(text: str, default_source: Source) -> Project:
    data = load_toml(text)
    notes: list[dict[str, str]] = []
    sources: list[Source] = []
    for position, raw in enumerate(data.get("source", []) or [], start=1):
        if not isinstance(raw, dict) or not raw.get("url"):
            raise ProjectError(f"Pipfile [[source]] number {position} has no url")
        name = str(raw.get("name") or f"source-{position}")
        sources.append(Source(name=name, url=str(raw["url"]), verify_ssl=bool(raw.get("verify_ssl", True))))
    if not sources:
        sources = [default_source]
        data["source"] = [
            {"url": default_source.url, "verify_ssl": default_source.verify_ssl, "name": default_source.name}
        ]
        notes.append(
            _note("INFO", f"The Pipfile states no [[source]]; using the default index {default_source.name}")
        )

    packages = [_pipfile_entry(n, v, False, sources) for n, v in (data.get("packages") or {}).items()]
    dev_packages = [_pipfile_entry(n, v, True, sources) for n, v in (data.get("dev-packages") or {}).items()]
    requires = data.get("requires") or {}
    python_version = requires.get("python_full_version") or requires.get("python_version")
    pipenv = data.get("pipenv") or {}
    allow_all = _as_bool(pipenv.get("allow_prereleases", False), "[pipenv] allow_prereleases")
    thoth = data.get("thoth") or {}
    if not isinstance(thoth, dict):
        raise ProjectError("[thoth] must be a table")
    table = thoth.get("allow_prereleases") or {}
    if not isinstance(table, dict):
        raise ProjectError("[thoth.allow_prereleases] must be a table of package = true/false")
    prereleases = {
        canonicalize_name(k): _as_bool(v, f"[thoth.allow_prereleases] {k}") for k, v in table.items()
    }
    if allow_all and prereleases:
        notes.append(
            _note(
                "WARNING",
                "[pipenv] allow_prereleases = true enables pre-releases of every package; "
                "the [thoth.allow_prereleases] table is ignored",
            )
        )
    disable = _as_bool(thoth.get("disable_index_adjustment", False), "[thoth] disable_index_adjustment")
    data.setdefault("packages", {})
    data.setdefault("dev-packages", {})
    return Project(
        requirements_format="pipenv",
        sources=sources,
        packages=packages,
        dev_packages=dev_packages,
        python_version=str(python_version) if python_version else None,
        allow_prereleases_all=allow_all,
        prerelease_packages={} if allow_all else prereleases,
        disable_index_adjustment=disable,
        pipfile=data,
        notes=notes,
    )


# ---------------------------------------------------------------- requirements files


_OPTION_WITH_VALUE = re.compile(
    r"^(-i|--index-url|--extra-index-url|-c|--constraint|-r|--requirement|-f|--find-links|--trusted-host)(?:\s*=\s*|\s+)(\S+)$"
)


def _split_hashes(line: str) -> tuple[str, list[str]]:
    body, hashes = split_hashes(line)
    return body, list(hashes)


def _parse_requirement_line(line: str, number: int, what: str) -> Requirement:
    try:
        return parse_requirement(line, f"{what} line {number}")
    except StackFileError as exc:
        raise ProjectError(exc.message) from None


@dataclass
class _RequirementsFile:
    """What the lines of a requirements file said, read one by one."""

    index_url: str | None = None
    extra_urls: list[str] = field(default_factory=list)
    packages: list[DirectRequirement] = field(default_factory=list)
    allow_all: bool = False
    notes: list[dict[str, str]] = field(default_factory=list)

    def read_option(self, number: int, line: str, flag: str, value: str) -> None:
        if flag in ("-i", "--index-url"):
            self.index_url = value
        elif flag == "--extra-index-url":
            self.extra_urls.append(value)
        elif flag in ("-c", "--constraint"):
            self.notes.append(
                _note(
                    "WARNING",
                    f"requirements line {number}: {line!r} ignored; send constraints as a constraints file",
                )
            )
        elif flag in ("-r", "--requirement"):
            raise ProjectError(
                f"requirements line {number}: nested requirements files ({line!r}) are not supported; inline them"
            )
        else:
            self.notes.append(_note("WARNING", f"requirements line {number}: option {flag} ignored"))

    def read_line(self, number: int, line: str) -> None:
        option = _OPTION_WITH_VALUE.match(line)
        if option:
            self.read_option(number, line, *option.groups())
        elif line in ("--pre",):
            self.allow_all = True
        elif line.startswith("-e ") or line.startswith("--editable"):
            raise ProjectError(
                f"requirements line {number}: editable requirements are not supported ({line!r})"
            )
        elif line.startswith("-"):
            self.notes.append(
                _note("WARNING", f"requirements line {number}: option {line.split()[0]} ignored")
            )
        else:
            self.packages.append(_requirements_package(number, line))

    def sources(self, default_source: Source) -> list[Source]:
        sources = [Source("index", self.index_url)] if self.index_url else [default_source]
        if self.index_url and self.index_url.rstrip("/") == default_source.url.rstrip("/"):
            sources = [default_source]
        for position, url in enumerate(self.extra_urls, start=1):
            sources.append(Source(name=f"extra-{position}", url=url))
        return sources


def _requirements_package(number: int, line: str) -> DirectRequirement:
    body, _hashes = _split_hashes(line)
    requirement = _parse_requirement_line(body, number, "requirements")
    if requirement.url:
        raise ProjectError(
            f"requirements line {number}: direct URL requirements are not supported ({body!r})"
        )
    return DirectRequirement(
        name=canonicalize_name(requirement.name),
        specifier=requirement.specifier,
        extras=frozenset(canonicalize_name(e) for e in requirement.extras),
        marker=requirement.marker,
        text=body,
    )


def _requirements_pipfile(
    sources: list[Source], packages: list[DirectRequirement], allow_all: bool
) -> dict[str, Any]:
    """The Pipfile equivalent of a requirements file (the report's project shows it)."""
    pipfile: dict[str, Any] = {
        "source": [{"url": s.url, "verify_ssl": s.verify_ssl, "name": s.name} for s in sources],
        "packages": {},
        "dev-packages": {},
    }
    for req in packages:
        entry: dict[str, Any] = {"version": str(req.specifier) or "*"}
        if req.extras:
            entry["extras"] = sorted(req.extras)
        if req.marker is not None:
            entry["markers"] = str(req.marker)
        pipfile["packages"][req.name] = entry if len(entry) > 1 else entry["version"]
    if allow_all:
        pipfile["pipenv"] = {"allow_prereleases": True}
    return pipfile


def parse_requirements(text: str, default_source: Source, requirements_format: str) -> Project:
    read = _RequirementsFile()
    for number, line in logical_lines(text):
        read.read_line(number, line)
    sources = read.sources(default_source)
    return Project(
        requirements_format=requirements_format,
        sources=sources,
        packages=read.packages,
        dev_packages=[],
        python_version=None,
        allow_prereleases_all=read.allow_all,
        prerelease_packages={},
        disable_index_adjustment=False,
        pipfile=_requirements_pipfile(sources, read.packages, read.allow_all),
        notes=read.notes,
    )


def parse_constraints(text: str | None) -> list[Constraint]:
    """Constraints: PEP 508 lines whose markers are limited to the supported list."""
    constraints: list[Constraint] = []
    for number, line in logical_lines(text or ""):
        if line.startswith("-"):
            raise ProjectError(
                f"constraints line {number}: options such as {line.split()[0]!r} are not allowed in constraints"
            )
        body, _hashes = _split_hashes(line)
        requirement = _parse_requirement_line(body, number, "constraints")
        if requirement.extras:
            raise ProjectError(f"constraints line {number}: constraints cannot name extras ({body!r})")
        if requirement.url:
            raise ProjectError(f"constraints line {number}: constraints cannot be URLs ({body!r})")
        if requirement.marker is not None:
            unsupported = sorted(marker_variables(requirement.marker) - SUPPORTED_CONSTRAINT_MARKERS)
            if unsupported:
                raise ProjectError(
                    f"constraints line {number}: environment marker {', '.join(unsupported)} is not supported "
                    f"in constraints ({body!r}); supported markers: {', '.join(sorted(SUPPORTED_CONSTRAINT_MARKERS))}"
                )
        constraints.append(
            Constraint(
                name=canonicalize_name(requirement.name),
                specifier=requirement.specifier,
                marker=requirement.marker,
                text=body,
                line=number,
            )
        )
    return constraints


def parse_project(
    requirements: str | None,
    requirements_format: str | None,
    constraints: str | None,
    default_source: Source,
) -> Project:
    fmt = (requirements_format or "pipenv").strip().lower()
    if not requirements or not requirements.strip():
        raise ProjectError("The request carries no requirements (application_stack.requirements is empty)")
    if fmt == "pipenv":
        project = parse_pipfile(requirements, default_source)
    elif fmt in PIP_FORMATS:
        project = parse_requirements(requirements, default_source, fmt)
    else:
        raise ProjectError(
            f"Unknown requirements_format {requirements_format!r}: use pipenv, pip, pip-tools or pip-compile"
        )
    project.constraints = parse_constraints(constraints)
    names = [r.name for r in project.packages + project.dev_packages]
    if not names:
        raise ProjectError("The requirements name no packages")
    return project


def _locked_packages(lock: dict[str, Any]) -> dict[str, LockedPackage]:
    """The pinned packages of a Pipfile.lock (default first); path and git entries have no version."""
    packages: dict[str, LockedPackage] = {}
    for section, dev in (("default", False), ("develop", True)):
        for name, entry in (lock.get(section) or {}).items():
            version = str(entry.get("version", "")).lstrip("=")
            key = canonicalize_name(name)
            if version and key not in packages:
                packages[key] = LockedPackage(key, version, entry.get("index"), tuple(entry.get("hashes") or ()), dev)
    return packages


def parse_lock(text: str | None, requirements_format: str) -> ExistingLock | None:
    """Read a user's lock: Pipfile.lock JSON, or a pinned requirements.txt."""
    if not text or not text.strip():
        return None
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            data = read_pipfile_lock(text, "requirements_lock")
        except StackFileError as exc:
            raise ProjectError(exc.message) from None
        return ExistingLock(packages=_locked_packages(data), pipfile_hash=lock_hash(data))
    packages = {}
    for number, line in logical_lines(text):
        if line.startswith("-"):
            continue
        body, hashes = _split_hashes(line)
        requirement = _parse_requirement_line(body, number, "requirements_lock")
        pinned = [s for s in requirement.specifier if s.operator in ("==", "===")]
        if pinned:
            key = canonicalize_name(requirement.name)
            packages[key] = LockedPackage(key, pinned[0].version, None, tuple(hashes), False)
    return ExistingLock(packages=packages, pipfile_hash=None)
