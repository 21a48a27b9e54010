"""The compiled knowledge base: prescriptions in one SQLite file, keyed by the package names they route on.

Compiling reads every repository once (``loader``) and stores each unit (marshal, its compiled
form) under every key that can make it relevant to a request: ``pkg:<name>`` for each package
a unit acting during the resolution matches (boots, sieves, steps); ``fin:<name>`` for the
units acting on the finished stack (wraps, strides, pseudonyms), or ``ver:<name>==<version>``
when such a unit needs one exact version (the artifact-size wraps: one unit per version, only
the chosen one is read); and for units naming no package a static selector of their
``should_include`` (``image:``, ``label:``, ``lib:``, ``os:``, ``rtype:`` or ``always``). A
request then reads only the units of the packages it meets and the selectors it has. The index records a fingerprint of
its sources (paths, mtimes and sizes, or a git commit) and is rebuilt only when that changes.
"""

from __future__ import annotations

import hashlib
import json
import marshal
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.utils import canonicalize_version
from packaging.version import InvalidVersion, Version

if TYPE_CHECKING:  # the loader (and YAML) is imported only when compiling
    from adviser.prescriptions.loader import Repository

FORMAT = f"3/{sys.version_info[0]}.{sys.version_info[1]}"  # marshal's format follows the interpreter
_SCHEMA = """
CREATE TABLE info (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE repositories (position INTEGER, name TEXT, release TEXT, source TEXT, path TEXT, commit_id TEXT,
                           files INTEGER, counts TEXT, errors TEXT, warnings TEXT);
CREATE TABLE units (id INTEGER PRIMARY KEY, name TEXT, body BLOB, file TEXT);
CREATE TABLE files (path TEXT PRIMARY KEY, mtime_ns INTEGER, size INTEGER, namespace TEXT, warnings TEXT,
                    error TEXT);
CREATE TABLE routes (key TEXT, unit INTEGER);
"""
_INDEXES = ("CREATE INDEX routes_key ON routes (key); CREATE INDEX units_name ON units (name);"
            "CREATE INDEX units_file ON units (file);")


@dataclass(frozen=True)
class Source:
    """A prescription source ready to read: a local directory, how the user named it, its git commit."""

    label: str  # as configured (a path or a git URL with any credentials removed)
    path: str
    commit: str | None = None
    problem: str | None = None  # why it could not be fetched (then path may be a last good copy or "")


def fingerprint(sources: Sequence[Source]) -> str:
    """Changes whenever a source file is added, removed, touched or resized (or the commit moves)."""
    digest = hashlib.sha256(FORMAT.encode())
    for source in sources:
        digest.update(f"\0{source.label}\0{source.path}\0{source.commit or ''}\0".encode())
        if source.path and os.path.isdir(source.path):
            for entry in _scan(source.path):
                digest.update(entry)
    return digest.hexdigest()


def _scan(top: str) -> Iterable[bytes]:
    stack = [top]
    while stack:
        directory = stack.pop()
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)
            elif entry.name.endswith((".yaml", ".yml")):
                info = entry.stat()
                yield f"{entry.path}\0{info.st_mtime_ns}\0{info.st_size}\n".encode()


def index_path(cache_dir: Path, sources: Sequence[Source | str]) -> Path:
    """Where the index of these sources (or their labels) is kept: one file per list of sources."""
    labels = [s if isinstance(s, str) else s.label for s in sources]
    key = hashlib.sha256("\0".join(labels).encode()).hexdigest()[:16]
    return Path(cache_dir) / "prescriptions" / f"index-{key}.sqlite"


def compile_sources(sources: Sequence[Source], cache_dir: Path, log=None) -> Path:
    """The compiled index of ``sources`` under ``cache_dir``, compiled again only if they changed."""
    log = log or (lambda _message: None)
    path = index_path(cache_dir, sources)
    current = fingerprint(sources)
    if path.is_file() and _stored_fingerprint(path) == current:
        return path
    started = time.monotonic()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    writer = _Writer(temporary, _Previous(path))
    try:
        for source in sources:
            writer.add_source(source)
        units = writer.finish(current)
    finally:
        writer.close()
    os.replace(temporary, path)
    log(f"prescriptions compiled: {units} units in {time.monotonic() - started:.1f}s ({writer.parsed} files read, "
        f"{writer.kept} unchanged since the last compilation)")
    return path


def _stored_fingerprint(path: Path) -> str | None:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
            rows = dict(connection.execute("SELECT key, value FROM info"))
    except sqlite3.Error:
        return None
    return rows.get("fingerprint") if rows.get("format") == FORMAT else None


class _Previous:
    """The last compilation of the same sources: a file unchanged since (path, mtime, size and
    namespace alike) is taken from it instead of being parsed again (a git refresh changes few)."""

    def __init__(self, path: Path) -> None:
        self.connection = None
        if path.is_file() and _stored_fingerprint(path) is not None:
            try:
                self.connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            except sqlite3.Error:
                self.connection = None

    def parsed(self, path: str, info: os.stat_result, namespace: str) -> tuple | None:
        if self.connection is None:
            return None
        row = self.connection.execute("SELECT mtime_ns, size, namespace, warnings, error FROM files WHERE path = ?",
                                      (path,)).fetchone()
        if row is None or tuple(row[:3]) != (info.st_mtime_ns, info.st_size, namespace):
            return None
        if row[4] is not None:
            return None, json.loads(row[3]), row[4]
        units = [marshal.loads(body) for (body,) in
                 self.connection.execute("SELECT body FROM units WHERE file = ? ORDER BY id", (path,))]
        for unit in units:
            unit.pop("id", None)
        return units, json.loads(row[3]), None

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()


class _Writer:
    """Units go to the database file by file, as the loader reads them (memory stays flat)."""

    def __init__(self, path: Path, previous: _Previous) -> None:
        self.previous = previous
        self.parsed = self.kept = 0
        self.file: str | None = None  # the file whose units _take receives
        self.files: list[tuple] = []
        self.connection = sqlite3.connect(path)
        self.connection.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + _SCHEMA)
        self.position = -1
        self.positions: dict[int, int] = {}  # id(Repository) -> its position
        self.rows: list[tuple] = []
        self.routes: list[tuple] = []
        self.unit_id = 0

    def add_source(self, source: Source) -> None:
        from adviser.prescriptions.loader import Repository, load_tree

        if source.problem and not source.path:
            broken = Repository("UNKNOWN", "UNKNOWN", "")
            broken.errors.append(source.problem)
            self._record(source, [broken])
            return
        repositories = load_tree(source.path, source.label, sink=self._take, parse=self._parse)
        for repository in repositories:
            if source.problem:
                repository.errors.insert(0, source.problem)
        self._record(source, repositories)

    def _parse(self, path: Path, label: str, namespace: str) -> tuple:
        from adviser.prescriptions.loader import parse_file

        info = path.stat()
        self.file = str(path)
        result = self.previous.parsed(self.file, info, namespace)
        if result is None:
            result = parse_file(path, label, namespace)
            self.parsed += 1
        else:
            self.kept += 1
        _units, warnings, error = result
        self.files.append((self.file, info.st_mtime_ns, info.st_size, namespace, json.dumps(warnings), error))
        return result

    def _take(self, repository: Repository, units: list[dict]) -> None:
        position = self.positions.get(id(repository))
        if position is None:
            self.position += 1
            position = self.positions[id(repository)] = self.position
        for unit in units:
            self.unit_id += 1
            unit["repository"] = position
            self.rows.append((self.unit_id, unit["name"], marshal.dumps(unit), self.file))
            self.routes.extend((key, self.unit_id) for key in routes_of(unit))
        if len(self.rows) > 5000:
            self._flush()

    def _flush(self) -> None:
        self.connection.executemany("INSERT INTO units VALUES (?, ?, ?, ?)", self.rows)
        self.connection.executemany("INSERT INTO routes VALUES (?, ?)", self.routes)
        self.connection.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?)", self.files)
        self.rows, self.routes, self.files = [], [], []

    def _record(self, source: Source, repositories: list[Repository]) -> None:
        for repository in repositories:
            position = self.positions.get(id(repository))
            if position is None:  # a repository without units
                self.position += 1
                position = self.positions[id(repository)] = self.position
            self.connection.execute(
                "INSERT INTO repositories VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (position, repository.name, repository.release, source.label, repository.path, source.commit,
                 repository.files, json.dumps(repository.counts()), json.dumps(repository.errors),
                 json.dumps(repository.warnings)),
            )

    def finish(self, current: str) -> int:
        """Indexes built, later duplicates kept (a unit of the same full name replaces an earlier one)."""
        self._flush()
        self.connection.executescript(_INDEXES)
        replaced = self.connection.execute(
            "SELECT id FROM units WHERE id NOT IN (SELECT MAX(id) FROM units GROUP BY name)").fetchall()
        if replaced:
            self.connection.executemany("DELETE FROM units WHERE id = ?", replaced)
            self.connection.executemany("DELETE FROM routes WHERE unit = ?", replaced)
        compiled_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.connection.executemany("INSERT INTO info VALUES (?, ?)",
                                    [("fingerprint", current), ("format", FORMAT), ("compiled_at", compiled_at)])
        self.connection.commit()
        return self.unit_id - len(replaced)

    def close(self) -> None:
        self.connection.close()
        self.previous.close()


# -- routing ----------------------------------------------------------------------------------


def package_names(unit: dict) -> set[str]:
    """Every package whose presence can make the unit fire."""
    names: set[str] = set()
    for entry in unit["match"]:
        if entry.get("package_name"):
            names.add(entry["package_name"])
        if entry.get("package_version", {}).get("name"):
            names.add(entry["package_version"]["name"])
        names.update(member["name"] for member in entry.get("group", ()))
        state = entry.get("state", {})
        for key in ("resolved_dependencies", "package_version_from"):
            names.update(pv["name"] for pv in state.get(key, ()))
    return names


# Units that act on the finished stack only (see evaluator and settle): read for the packages
# resolved, after the resolution, never while it runs.
FINAL_TYPES = ("wrap", "wrap.GHReleaseNotes", "stride", "pseudonym")


def version_key(name: str, version: Any) -> str:
    """The key of a unit pinned to one version of a package (1.0 and 1.0.0 alike)."""
    return f"ver:{name}=={canonicalize_version(str(version))}"


def _pinned_route(unit: dict) -> set[str] | None:
    """``ver:`` keys when every match entry needs one exact version of its first resolved package
    (one unit per version, as for artifact sizes: only the version chosen is ever read)."""
    keys = set()
    for entry in unit["match"]:
        pvs = entry.get("state", {}).get("resolved_dependencies") or []
        version = pvs[0].get("version", "") if pvs else ""
        pinned = version[2:].strip() if version.startswith("==") and not version.startswith("===") else ""
        if not pinned or "," in pinned or "*" in pinned or not _valid(pinned):
            return None
        keys.add(version_key(pvs[0]["name"], pinned))
    return keys or None


def _valid(version: str) -> bool:
    try:
        Version(version)
    except InvalidVersion:
        return False
    return True


def routes_of(unit: dict) -> set[str]:
    """``pkg:`` (read while resolving), ``fin:``/``ver:`` (read for the finished stack), or selectors."""
    names = package_names(unit)
    if not names:
        return selectors_of(unit["should_include"])
    if unit["type"] not in FINAL_TYPES:
        return {f"pkg:{name}" for name in names}
    return _pinned_route(unit) or {f"fin:{name}" for name in names}


def selectors_of(should_include: dict) -> set[str]:
    """Static keys for a unit naming no package: the first selective condition it has."""
    environment = should_include.get("runtime_environments", {})
    images = environment.get("base_images")
    if images and not images["not"] and all(images["items"]):
        return {f"image:{str(item).split(':', 1)[0]}" for item in images["items"]}
    if should_include.get("labels"):
        return {f"label:{k}={v}" for k, v in should_include["labels"].items()}
    if should_include.get("library_usage"):
        return {f"lib:{next(iter(should_include['library_usage']))}"}
    systems = environment.get("operating_systems")
    if systems and all(s.get("name") for s in systems):
        return {f"os:{s['name']}" for s in systems}
    types = should_include.get("recommendation_types")
    if types and not types["not"]:
        return {f"rtype:{t}" for t in types["items"]}
    return {"always"}


# -- reading ----------------------------------------------------------------------------------


class KnowledgeBase:
    """A compiled index opened read-only; units are read per key and decoded once per process."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._connection = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
        self._lock = threading.Lock()
        self._decoded: dict[int, dict] = {}
        self._keys: dict[str, list[dict]] = {}
        with self._lock:
            self.info = dict(self._connection.execute("SELECT key, value FROM info"))
            self._repositories = self._connection.execute(
                "SELECT name, release, source, path, commit_id, files, counts, errors, warnings "
                "FROM repositories ORDER BY position"
            ).fetchall()

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    def repositories(self) -> list[dict[str, Any]]:
        """What was loaded, for listings: name, release, source, commit, counts, errors, compiled_at."""
        out = []
        for name, release, source, path, commit, files, counts, errors, warnings in self._repositories:
            out.append({
                "name": name, "release": release, "source": source, "path": path, "commit": commit,
                "files": files, "units": json.loads(counts), "errors": json.loads(errors),
                "warnings": json.loads(warnings), "compiled_at": self.info.get("compiled_at"),
            })
        return out

    def releases(self) -> list[tuple[str, str]]:
        """(name, release) of every repository loaded, in source order."""
        return [(row[0], row[1]) for row in self._repositories]

    def release_of(self, unit: dict) -> tuple[str, str]:
        name, release, *_rest = self._repositories[unit["repository"]]
        return name, release

    def units(self, key: str) -> list[dict]:
        """The units stored under ``key`` (``pkg:<name>`` or a selector), in compile order."""
        found = self._keys.get(key)
        if found is not None:
            return found
        with self._lock:
            rows = self._connection.execute(
                "SELECT u.id, u.body FROM routes r JOIN units u ON u.id = r.unit WHERE r.key = ? ORDER BY u.id",
                (key,),
            ).fetchall()
        found = [self._decode(unit_id, body) for unit_id, body in rows]
        if len(self._keys) > 50_000:  # a long-running worker: keep the memo bounded
            self._keys.clear()
            self._decoded.clear()
        self._keys[key] = found
        return found

    def units_of(self, keys: Sequence[str]) -> list[dict]:
        """The units stored under any of ``keys`` (each once), the uncached keys read in one query."""
        missing = [key for key in dict.fromkeys(keys) if key not in self._keys]
        if missing:
            marks = ",".join("?" * len(missing))
            with self._lock:
                rows = self._connection.execute(
                    f"SELECT r.key, u.id, u.body FROM routes r JOIN units u ON u.id = r.unit "  # noqa: S608 -- marks only
                    f"WHERE r.key IN ({marks}) ORDER BY u.id", missing,
                ).fetchall()
            found: dict[str, list[dict]] = {key: [] for key in missing}
            for key, unit_id, body in rows:
                found[key].append(self._decode(unit_id, body))
            self._keys.update(found)
        seen: set[int] = set()
        return [u for key in keys for u in self._keys.get(key, ()) if not (u["id"] in seen or seen.add(u["id"]))]

    def named(self, name: str) -> dict | None:
        with self._lock:
            row = self._connection.execute("SELECT id, body FROM units WHERE name = ? ORDER BY id DESC",
                                           (name,)).fetchone()
        return self._decode(*row) if row else None

    def _decode(self, unit_id: int, body: bytes) -> dict:
        unit = self._decoded.get(unit_id)
        if unit is None:
            unit = self._decoded[unit_id] = marshal.loads(body)
            unit["id"] = unit_id
        return unit
