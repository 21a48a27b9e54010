"""What an index tells about a project: its files, and the core metadata of one file."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, NamedTuple, Protocol

from packaging.tags import Tag, parse_tag
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from adviser.index.sources import IndexSource

SDIST_SUFFIXES = (".tar.gz", ".zip")


class _ParsedFilename(NamedTuple):
    project: NormalizedName | None
    version: Version | None
    tag_text: str  # "py3-none-any" for wheels, "" otherwise


_UNPARSED = _ParsedFilename(None, None, "")


@lru_cache(maxsize=65536)
def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


@lru_cache(maxsize=65536)
def _version_text(version: Version) -> str:
    return str(version)  # str(Version) rebuilds the string each time: costly on big pages


@lru_cache(maxsize=16384)
def _canonical(name: str) -> NormalizedName:
    return canonicalize_name(name)


@lru_cache(maxsize=16384)
def _tags(tag_text: str) -> frozenset[Tag]:
    return frozenset(parse_tag(tag_text)) if tag_text else frozenset()


def parse_filename(filename: str) -> _ParsedFilename:
    """Project, version and (wheels only) tag triple of a distribution file; None where it cannot tell.

    Pages list thousands of files, so this splits names by hand (as the wheel and sdist filename
    specs define them) and parses each distinct version string once per process.
    """
    if filename.endswith(".whl"):
        parts = filename[:-4].split("-")
        if len(parts) not in (5, 6) or not parts[0]:
            return _UNPARSED
        version = _version(parts[1])
        if version is None:
            return _UNPARSED
        return _ParsedFilename(_canonical(parts[0]), version, "-".join(parts[-3:]))
    for suffix in SDIST_SUFFIXES:
        if filename.endswith(suffix):
            name, sep, version_text = filename[: -len(suffix)].rpartition("-")
            version = _version(version_text) if sep and name else None
            if version is None:
                return _UNPARSED
            return _ParsedFilename(_canonical(name), version, "")
    return _UNPARSED


@dataclass(frozen=True)
class FileLink:
    """One file of a project page, as the simple API (PEP 503/691) describes it.

    ``core_metadata`` is False, True, or the hashes of the PEP 658 ``.metadata`` file.
    """

    filename: str
    url: str
    hashes: dict[str, str] = field(hash=False)
    requires_python: str | None
    yanked: bool
    yanked_reason: str | None
    core_metadata: bool | dict[str, str] = field(hash=False)
    upload_time: str | None
    size: int | None
    index: IndexSource

    @property
    def _parsed(self) -> tuple[NormalizedName | None, Version | None, str]:
        # Memoized by hand: functools.cached_property takes a lock per access before Python 3.12.
        parsed = self.__dict__.get("_parsed_filename")
        if parsed is None:
            parsed = self.__dict__["_parsed_filename"] = parse_filename(self.filename)
        return parsed

    @property
    def is_wheel(self) -> bool:
        return self.filename.endswith(".whl") and self._parsed[1] is not None

    @property
    def is_sdist(self) -> bool:
        return self.filename.endswith(SDIST_SUFFIXES) and self._parsed[1] is not None

    @property
    def project_name(self) -> NormalizedName | None:
        return self._parsed[0]

    @property
    def version(self) -> Version | None:
        return self._parsed[1]

    @property
    def tags(self) -> frozenset[Tag]:
        return _tags(self._parsed[2])

    @property
    def sha256(self) -> str | None:
        return self.hashes.get("sha256")

    def to_row(self) -> list[Any]:
        """Compact form for the cache (the index is implied by the page's key).

        The parsed filename (project, version, tags) is stored too, so a warm run never parses
        the names of thousands of files again.
        """
        parsed = self._parsed
        return [
            self.filename,
            self.url,
            self.hashes,
            self.requires_python,
            self.yanked_reason if self.yanked and self.yanked_reason else self.yanked,
            self.core_metadata,
            self.upload_time,
            self.size,
            parsed.project,
            _version_text(parsed.version) if parsed.version is not None else None,
            parsed.tag_text,
        ]

    @classmethod
    def fast(
        cls,
        filename: str,
        url: str,
        hashes: dict[str, str],
        requires_python: str | None,
        yanked: bool,
        yanked_reason: str | None,
        core_metadata: bool | dict[str, str],
        upload_time: str | None,
        size: int | None,
        index: IndexSource,
    ) -> FileLink:
        """Same as the constructor, for pages of thousands of files.

        Filling ``__dict__`` directly skips the frozen dataclass's per-field ``object.__setattr__``
        calls; the object is identical.
        """
        link = object.__new__(cls)
        link.__dict__.update(
            filename=filename,
            url=url,
            hashes=hashes,
            requires_python=requires_python,
            yanked=yanked,
            yanked_reason=yanked_reason,
            core_metadata=core_metadata,
            upload_time=upload_time,
            size=size,
            index=index,
        )
        return link

    @classmethod
    def from_row(cls, row: list[Any], index: IndexSource) -> FileLink:
        (
            filename,
            url,
            hashes,
            requires_python,
            yanked,
            core_metadata,
            upload_time,
            size,
            project,
            version,
            tags,
        ) = row
        link = object.__new__(cls)
        # See ``fast``: the same object as the constructor makes, plus the parsed filename.
        object.__setattr__(
            link,
            "__dict__",
            {
                "filename": filename,
                "url": url,
                "hashes": hashes,
                "requires_python": requires_python,
                "yanked": bool(yanked),
                "yanked_reason": yanked if isinstance(yanked, str) else None,
                "core_metadata": core_metadata,
                "upload_time": upload_time,
                "size": size,
                "index": index,
                # A plain tuple (same fields as _ParsedFilename): ten times cheaper to build.
                "_parsed_filename": (project, _version(version), tags) if version else _UNPARSED,
            },
        )
        return link


def version_text(filename: str) -> str | None:
    """The version part of a wheel or sdist file name, as written (not parsed), or None.

    Cheap enough to run on every file of a page: files are grouped by this text, and only the
    versions a resolver looks at are decoded further.
    """
    if filename.endswith(".whl"):
        parts = filename.split("-")
        return parts[1] if len(parts) in (5, 6) else None
    for suffix in SDIST_SUFFIXES:
        if filename.endswith(suffix):
            stem = filename[: -len(suffix)]
            return stem.rpartition("-")[2] if "-" in stem else None
    return None


class PageFiles(Protocol):
    """Where a page's files come from: all at once, or only those of some versions."""

    def all_files(self) -> list[FileLink]: ...

    def version_texts(self) -> list[str]: ...

    def files_of(self, texts: Collection[str]) -> list[FileLink]: ...


class ListedFiles:
    """PageFiles over files already decoded (HTML pages, pages built by hand)."""

    def __init__(self, files: list[FileLink]) -> None:
        self._files = files

    def all_files(self) -> list[FileLink]:
        return self._files

    def version_texts(self) -> list[str]:
        texts = (version_text(link.filename) for link in self._files)
        return list(dict.fromkeys(text for text in texts if text is not None))

    def files_of(self, texts: Collection[str]) -> list[FileLink]:
        return [link for link in self._files if version_text(link.filename) in texts]


class ProjectPage:
    """The files one index lists for one project.

    ``files`` decodes every file; ``version_texts()`` and ``files_of()`` hand out the files of some versions on
    demand (``files_of``), which is all a resolver needs from pages listing thousands of files.
    """

    def __init__(
        self,
        name: str,
        index: IndexSource,
        files: list[FileLink] | None = None,
        *,
        source: PageFiles | None = None,
    ) -> None:
        self.name = name
        self.index = index
        self._source: PageFiles = source if source is not None else ListedFiles(list(files or []))
        self._files: list[FileLink] | None = list(files) if files is not None else None

    @property
    def files(self) -> list[FileLink]:
        if self._files is None:
            self._files = list(self._source.all_files())
        return self._files

    def version_texts(self) -> list[str]:
        """The versions the page's file names carry, as written (unparsed), without decoding files."""
        return self._source.version_texts()

    def files_of(self, texts: Collection[str]) -> list[FileLink]:
        """The files whose names carry one of the version ``texts``, in page order."""
        return self._source.files_of(texts)

    def on_index(self, index: IndexSource) -> ProjectPage:
        """The same files, listed for ``index`` (a source read through another, see adviser.aliases)."""
        return ProjectPage(self.name, index, self._files, source=self._source)

    def __repr__(self) -> str:
        return f"ProjectPage({self.name!r} on {self.index.name})"

    def versions(self) -> dict[Version, list[FileLink]]:
        """Files grouped by version; files whose name tells no version are left out."""
        grouped: dict[Version, list[FileLink]] = {}
        for link in self.files:
            if link.version is not None:
                grouped.setdefault(link.version, []).append(link)
        return grouped


@dataclass(frozen=True)
class BuildInfo:
    """How metadata prepared by building an sdist was made (for the report)."""

    interpreter: str  # sourcebuild.Interpreter.describe(), e.g. "CPython 3.11.7 (/usr/bin/python3.11)"
    interpreter_version: str
    matched: bool  # False: no interpreter of the target's Python version was found
    target_python: str  # the target's X.Y the build was made for
    via: str  # the PEP 517 hook that produced it
    from_cache: bool = False


@dataclass(frozen=True)
class CoreMetadata:
    """The parts of a file's core metadata (METADATA / PKG-INFO) the resolver needs.

    ``source`` says where it came from: "pep658", "wheel-range", "sdist", "build" or "cache";
    ``build`` how it was built when it came from a build (also when read back from the cache).
    """

    name: str
    version: str
    requires_dist: tuple[str, ...]
    requires_python: str | None
    provides_extra: tuple[str, ...]
    classifiers: tuple[str, ...]
    summary: str | None
    source: str
    build: BuildInfo | None = None

    @property
    def canonical_name(self) -> NormalizedName:
        return canonicalize_name(self.name)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "requires_dist": list(self.requires_dist),
            "requires_python": self.requires_python,
            "provides_extra": list(self.provides_extra),
            "classifiers": list(self.classifiers),
            "summary": self.summary,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], source: str) -> CoreMetadata:
        return cls(
            name=data["name"],
            version=data["version"],
            requires_dist=tuple(data.get("requires_dist") or ()),
            requires_python=data.get("requires_python"),
            provides_extra=tuple(data.get("provides_extra") or ()),
            classifiers=tuple(data.get("classifiers") or ()),
            summary=data.get("summary"),
            source=source,
        )
