"""Known vulnerabilities in OSV format, looked up by package and version.

The database is a directory tree of OSV documents (``.yaml``/``.yml``/``.json``, e.g. a checkout of
the PyPA advisory database) or a ``.zip``/``.tar.gz`` archive of one. In the PyPA layout (one
directory per package) only the directories of the packages being resolved are read. Only ``PyPI`` entries are
used. A version is affected when it is listed in ``versions`` or falls in an ``ECOSYSTEM`` range
(``introduced`` inclusive, ``fixed`` exclusive, ``last_affected`` inclusive).

Other layouts and archives are parsed whole (thousands of YAML files take seconds), so their
parsed index is cached as JSON in the cache directory, keyed by a signature of the snapshot (file
names, sizes and modification times); a changed snapshot is parsed again.

With no database named, the snapshot shipped in the package is used (``adviser.advisory_bundle``:
a prebuilt index by package name, read per package); ``none`` means no advisory data at all.
A snapshot's date is the newest ``modified`` of its documents (or the date its bundle states);
data older than ``STALE_DAYS`` is reported as stale.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import re
import tarfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date as Date
from datetime import datetime, timezone
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from stackfiles.atomic import write_file_atomically

CACHE_FORMAT = 1
_SUFFIXES = (".yaml", ".yml", ".json")
STALE_DAYS = 30
NONE = "none"  # the advisory database setting that turns advisory data off
# The "modified" field of a YAML or JSON OSV document, read without parsing it.
_MODIFIED = re.compile(rb'^\s*"?modified"?\s*:\s*[\'"]?([0-9]{4}-[0-9]{2}-[0-9]{2}[^\'",\n]*)', re.MULTILINE)


class AdvisoryDatabaseError(ValueError):
    """The advisory snapshot cannot be read."""


@dataclass(frozen=True)
class Advisory:
    id: str
    aliases: tuple[str, ...]
    summary: str
    link: str
    # Each range is a list of (event, version) pairs in document order.
    ranges: tuple[tuple[tuple[str, str], ...], ...]
    versions: frozenset[str]

    def affects(self, version: Version) -> bool:
        if str(version) in self.versions:
            return True
        for events in self.ranges:
            affected = False
            for event, bound in events:
                if event == "introduced":
                    if bound == "0" or _ge(version, bound):
                        affected = True
                elif event == "fixed" and affected and _ge(version, bound):
                    affected = False
                elif event == "last_affected" and affected and _gt(version, bound):
                    affected = False
            if affected:
                return True
        return False

    def names(self) -> set[str]:
        return {self.id, *self.aliases}

    def fixed_in(self, version: Version) -> str | None:
        """The lowest version above ``version`` an ECOSYSTEM range names as fixed, if any."""
        fixes = [_parse(bound) for events in self.ranges for event, bound in events if event == "fixed"]
        above = [fix for fix in fixes if fix is not None and fix > version]
        return str(min(above)) if above else None


@functools.lru_cache(maxsize=65536)
def _parse(version: str) -> Version | None:
    try:
        return Version(version)
    except InvalidVersion:
        return None


def _ge(version: Version, bound: str) -> bool:
    parsed = _parse(bound)
    return parsed is not None and version >= parsed


def _gt(version: Version, bound: str) -> bool:
    parsed = _parse(bound)
    return parsed is not None and version > parsed


@dataclass
class AdvisoryDatabase:
    source: str
    count: int
    newest_modified: str | None
    signature: str
    records: dict[str, list[dict]]  # raw records by package; Advisory objects are built on first use
    # Per-package directory layout: the documents of each package, parsed when first asked for.
    package_files: dict[str, list[str]] | None = None
    package_cache: Path | None = None  # where parsed per-package records are kept between runs
    loader: Callable[[str], list[dict]] | None = None  # a prebuilt index's records of one package
    date: str | None = None  # the snapshot's date (YYYY-MM-DD), when known
    packages: int = 0
    note: str | None = None  # a problem with the source, reported as a WARNING

    def __post_init__(self) -> None:
        self._built: dict[str, list[Advisory]] = {}
        if self.date is None and self.newest_modified:
            self.date = self.newest_modified[:10]
        if not self.packages:
            self.packages = len(self.package_files) if self.package_files is not None else len(self.records)

    def for_package(self, name: str) -> list[Advisory]:
        name = canonicalize_name(name)
        built = self._built.get(name)
        if built is None:
            if self.loader is not None and name not in self.records:
                self.records[name] = self.loader(name)
            if self.package_files is not None and name not in self.records:
                self.records[name] = self._package_records(name)
            built = self._built[name] = [_advisory(record) for record in self.records.get(name, ())]
        return built

    def _package_records(self, name: str) -> list[dict]:
        files = self.package_files.get(name, ()) if self.package_files else ()
        if not files:
            return []
        cached = self.package_cache / f"{name}.json" if self.package_cache is not None else None
        if cached is not None and cached.is_file():
            try:
                return json.loads(cached.read_text())
            except (OSError, ValueError):
                pass  # a torn cache file is rebuilt below
        records = _records_from_files(files, only=name)
        if cached is not None:
            try:
                write_file_atomically(cached, json.dumps(records, separators=(",", ":")))
            except OSError:
                pass  # a read-only cache only costs speed
        return records

    def lookup(self, name: str, version: Version) -> list[Advisory]:
        return [a for a in self.for_package(name) if a.affects(version)]

    def describe(self) -> str:
        if not self.count and not self.source:
            return "no advisory database configured"
        dated = f"of {self.date}" if self.date else "(date unknown)"
        if self.package_files is not None:
            return (
                f"advisory snapshot {self.source} {dated}: {self.count} documents for {len(self.package_files)} "
                f"packages (read per package on demand), signature {self.signature[:12]}"
            )
        return (
            f"advisory snapshot {self.source} {dated}: {self.count} PyPI advisories for {self.packages} "
            f"packages, signature {self.signature[:12]}"
        )

    def age_days(self, today: Date | None = None) -> int | None:
        """Days since the snapshot's date, None when the date is unknown."""
        try:
            taken = Date.fromisoformat(self.date[:10]) if self.date else None
        except ValueError:
            return None
        if taken is None:
            return None
        return ((today or datetime.now(timezone.utc).date()) - taken).days

    def info(self) -> dict:
        """What the backend has, for the advisories endpoint: source, date, age, counts."""
        age = self.age_days()
        return {
            "source": self.source or None,
            "date": self.date,
            "age_days": age,
            "stale": bool(age is not None and age > STALE_DAYS),
            "advisories": self.count,
            "packages": self.packages,
            "signature": self.signature[:12] or None,
        }


EMPTY = AdvisoryDatabase(source="", count=0, newest_modified=None, signature="", records={})


def _advisory(record: dict) -> Advisory:
    return Advisory(
        id=record["id"],
        aliases=tuple(record["aliases"]),
        summary=record["summary"],
        link=record["link"],
        ranges=tuple(tuple((e, v) for e, v in r) for r in record["ranges"]),
        versions=frozenset(record["versions"]),
    )


def _documents(path: Path) -> Iterator[tuple[str, bytes]]:
    """(name, raw bytes) of every OSV document in a directory or archive."""
    if path.is_dir():
        for root, _dirs, files in os.walk(path):
            for name in sorted(files):
                if name.endswith(_SUFFIXES):
                    full = os.path.join(root, name)
                    with open(full, "rb") as handle:
                        yield full, handle.read()
    elif path.name.endswith(".zip"):
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if info.filename.endswith(_SUFFIXES):
                    yield info.filename, archive.read(info)
    elif path.name.endswith((".tar.gz", ".tgz", ".tar")):
        with tarfile.open(path) as archive:
            for member in archive:
                if member.isfile() and member.name.endswith(_SUFFIXES):
                    handle = archive.extractfile(member)
                    if handle is not None:
                        yield member.name, handle.read()
    else:
        raise AdvisoryDatabaseError(f"{path}: expected a directory, .zip or .tar.gz of OSV documents")


def snapshot_signature(path: Path) -> str:
    """Cheap identity of a snapshot: names, sizes and mtimes (no file contents read)."""
    digest = hashlib.sha256(str(path.resolve()).encode())
    if path.is_dir():
        for root, _dirs, files in os.walk(path):
            for name in sorted(files):
                if name.endswith(_SUFFIXES):
                    stat = os.stat(os.path.join(root, name))
                    digest.update(f"{root}/{name}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    else:
        stat = path.stat()
        digest.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()


def _load_document(name: str, raw: bytes) -> dict | None:
    if name.endswith(".json"):
        return json.loads(raw)
    import yaml  # only needed when the snapshot is parsed, not when the cache is warm

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(io.BytesIO(raw), Loader=loader)


def _first_link(document: dict) -> str:
    references = document.get("references") or []
    for wanted in ("ADVISORY", "WEB", None):
        for ref in references:
            if isinstance(ref, dict) and ref.get("url") and (wanted is None or ref.get("type") == wanted):
                return str(ref["url"])
    return ""


def _document_records(name: str, raw: bytes, only: str | None = None) -> tuple[list[dict], str | None]:
    """Compact JSON-able records of one document, one per affected PyPI package (``only``: that one)."""
    try:
        document = _load_document(name, raw)
    except Exception as exc:  # a broken file is named, not hidden
        raise AdvisoryDatabaseError(f"{name}: not a readable OSV document ({exc})") from None
    if not isinstance(document, dict) or "id" not in document or document.get("withdrawn"):
        return [], None
    modified = str(document.get("modified") or "") or None
    summary = str(document.get("summary") or document.get("details") or "").strip().splitlines()
    records = []
    for affected in document.get("affected") or []:
        package = affected.get("package") or {}
        if str(package.get("ecosystem", "")).lower() != "pypi" or not package.get("name"):
            continue
        canonical = canonicalize_name(str(package["name"]))
        if only is not None and canonical != only:
            continue
        ranges = [
            [[key, str(value)] for event in r.get("events") or [] for key, value in event.items()]
            for r in affected.get("ranges") or []
            if r.get("type") == "ECOSYSTEM"
        ]
        records.append(
            {
                "id": str(document["id"]),
                "aliases": [str(a) for a in document.get("aliases") or []],
                "summary": summary[0][:200] if summary else "",
                "link": _first_link(document),
                "package": canonical,
                "ranges": ranges,
                "versions": [str(v) for v in affected.get("versions") or []],
            }
        )
    return records, modified


def _records_from_files(paths: Iterable[str], only: str) -> list[dict]:
    records: list[dict] = []
    for path in paths:
        with open(path, "rb") as handle:
            records.extend(_document_records(path, handle.read(), only=only)[0])
    return records


def _parse_snapshot(path: Path) -> tuple[list[dict], str | None]:
    records: list[dict] = []
    newest: str | None = None
    for name, raw in _documents(path):
        found, modified = _document_records(name, raw)
        records.extend(found)
        if modified and (newest is None or modified > newest):
            newest = modified
    return records, newest


def parse_snapshot(path: Path) -> tuple[list[dict], str | None]:
    """Every record of a directory or archive of OSV documents, and their newest ``modified``."""
    return _parse_snapshot(path)


def _package_layout(path: Path) -> dict[str, list[str]] | None:
    """``<root>/<package>/<id>.yaml`` (the PyPA database layout), else None."""
    layout: dict[str, list[str]] = {}
    for entry in os.scandir(path):
        if entry.is_dir():
            files = sorted(
                f.path for f in os.scandir(entry.path) if f.is_file() and f.name.endswith(_SUFFIXES)
            )
            if files:
                layout.setdefault(canonicalize_name(entry.name), []).extend(files)
        elif entry.name.endswith(_SUFFIXES):
            return None  # documents at the top: not one directory per package
    return layout or None


def _layout_newest(layout: dict[str, list[str]], cache: Path | None) -> str | None:
    """The newest ``modified`` of a per-package tree, found by a scan (no parsing), kept in the cache."""
    marker = cache / "_newest_modified" if cache is not None else None
    if marker is not None and marker.is_file():
        return marker.read_text().strip() or None
    newest = ""
    for files in layout.values():
        for name in files:
            with open(name, "rb") as handle:
                found = _MODIFIED.search(handle.read())
            if found:
                newest = max(newest, found.group(1).decode().strip())
    if marker is not None:
        try:
            write_file_atomically(marker, newest)
        except OSError:
            pass  # a read-only cache only costs speed
    return newest or None


# Bundles are immutable once built: one open database per bundle file and version of it, shared by
# the analyses of a process (the records of a package are read from the archive once).
_BUNDLES: dict[tuple[str, str], AdvisoryDatabase] = {}


def _load_bundle(path: Path) -> AdvisoryDatabase:
    key = (str(Path(path).resolve()), snapshot_signature(path))
    database = _BUNDLES.get(key)
    if database is None:
        database = _BUNDLES[key] = _open_bundle(path, key[1])
        for old in [k for k in _BUNDLES if k[0] == key[0] and k != key]:
            del _BUNDLES[old]  # a replaced file (a refreshed download): the old copy is not used again
    return database


def _open_bundle(path: Path, signature: str) -> AdvisoryDatabase:
    from adviser.advisory_bundle import Bundle, BundleError

    try:
        bundle = Bundle(path)
    except BundleError as exc:
        raise AdvisoryDatabaseError(str(exc)) from None
    index = bundle.index
    return AdvisoryDatabase(
        source=str(index.get("source") or path),
        count=int(index.get("advisories") or 0),
        newest_modified=None,
        signature=signature,
        records={},
        loader=bundle.records,
        date=index.get("date"),
        packages=int(index.get("packages") or 0),
    )


def shipped_advisories() -> AdvisoryDatabase:
    """The snapshot shipped in the package (EMPTY when an installation left it out)."""
    from adviser.advisory_bundle import SHIPPED

    if not SHIPPED.is_file():
        return EMPTY
    return _load_bundle(SHIPPED)


def _downloaded(url: str, cache_dir: Path | None) -> AdvisoryDatabase:
    """The last good copy of an advisory URL (the server's refresher fetches it), else the shipped
    snapshot; a note says when the last refresh failed or no copy exists yet."""
    from dataclasses import replace

    from adviser.advisory_source import last_failure, local_copy, redact_url

    copy = local_copy(url, cache_dir) if cache_dir is not None else None
    failure = last_failure(copy) if copy is not None else None
    if copy is not None and copy.is_file():
        database = _load_bundle(copy)
        if failure:
            database = replace(database, note=f"The last refresh of {redact_url(url)} failed ({failure}); "
                                              f"the copy of {database.date or 'unknown date'} is used")
        return database
    reason = f"its last refresh failed: {failure}" if failure else "it has not been fetched yet"
    return replace(shipped_advisories(), note=f"No copy of the advisory source {redact_url(url)} ({reason}); "
                                              "the snapshot shipped with thamos is used")


def load_advisories(path: Path | str | None, cache_dir: Path | None) -> AdvisoryDatabase:
    """Load (from the parsed cache when the snapshot is unchanged) the advisory database.

    None: the shipped snapshot; ``none``: no advisory data."""
    from adviser.advisory_bundle import is_bundle

    if path is None:
        return shipped_advisories()
    if str(path).strip().lower() == NONE:
        return EMPTY
    if isinstance(path, str) and path.strip().lower().startswith(("http://", "https://")):
        return _downloaded(str(path), cache_dir)  # (advisory_source, with urllib, only imported then)
    path = Path(path)
    if not path.exists():
        raise AdvisoryDatabaseError(f"advisory database {path} does not exist")
    if path.is_file() and path.name.endswith(".zip") and is_bundle(path):
        return _load_bundle(path)
    if path.is_dir() and (path / "vulns").is_dir():
        path = path / "vulns"  # a checkout of the PyPA database: its documents are under vulns/
    signature = snapshot_signature(path)
    layout = _package_layout(path) if path.is_dir() else None
    if layout is not None:
        # Thousands of YAML files take seconds to parse; a resolution needs a few dozen packages.
        # The signature covers every file's size and mtime, so a changed snapshot gets a new place.
        cache = Path(cache_dir) / "advisories" / signature if cache_dir else None
        return AdvisoryDatabase(
            source=str(path),
            count=sum(len(files) for files in layout.values()),
            newest_modified=_layout_newest(layout, cache),
            signature=signature,
            records={},
            package_files=layout,
            package_cache=cache,
        )
    cache_file = Path(cache_dir) / "advisories" / f"{signature}.json" if cache_dir else None
    data = None
    if cache_file is not None and cache_file.is_file():
        try:
            data = json.loads(cache_file.read_text())
            if data.get("format") != CACHE_FORMAT:
                data = None
        except (OSError, ValueError):
            data = None  # a torn cache file is rebuilt
    if data is None:
        records, newest = _parse_snapshot(path)
        data = {"format": CACHE_FORMAT, "newest": newest, "records": records}
        if cache_file is not None:
            write_file_atomically(cache_file, json.dumps(data, separators=(",", ":")))
    records: dict[str, list[dict]] = {}
    ids = set()
    for record in data["records"]:
        ids.add(record["id"])
        records.setdefault(record["package"], []).append(record)
    return AdvisoryDatabase(
        source=str(path),
        count=len(ids),
        newest_modified=data["newest"],
        signature=signature,
        records=records,
    )


def snapshot_notes(database: AdvisoryDatabase, relies_on_advisories: bool) -> list[tuple[str, str]]:
    """(level, message) lines for stack_info: which snapshot is used, and a WARNING when a policy
    that avoids advisories has no advisory data or stale data."""
    description = database.describe()
    notes = [("INFO", description[:1].upper() + description[1:])]
    if database.note:
        notes.append(("WARNING", database.note))
    if not relies_on_advisories:
        return notes
    if database is EMPTY or not database.count:
        notes.append(("WARNING", "No advisory data: known vulnerabilities are NOT avoided by this recommendation "
                                 "(give the backend an advisory database, e.g. thamos serve --advisory-db)"))
        return notes
    age = database.age_days()
    if age is not None and age > STALE_DAYS:
        notes.append(("WARNING", f"The advisory data is {age} days old (snapshot of {database.date}): "
                                 "advisories published since are not avoided (refresh it: thamos serve --advisory-db)"))
    return notes
