"""Read-only answers from the index cache for the server's package information endpoints.

Everything here comes from what earlier resolutions cached (pages, metadata, wheel import names);
nothing is fetched. A package never resolved on this backend is simply unknown.
"""

from __future__ import annotations

import json
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from adviser.index.cache import CACHE_FILENAME, CachedPage, IndexCache
from adviser.index.models import parse_filename
from adviser.index.simple_api import PageFormatError, cached_page_files
from adviser.index.sources import IndexSource


def _open(cache_dir: Path) -> IndexCache | None:
    if not (Path(cache_dir) / CACHE_FILENAME).is_file():
        return None
    return IndexCache(Path(cache_dir))


def _filenames(index_url: str, page: CachedPage) -> list[str]:
    """Names of the files a cached page lists (none for a cached 404 or a page that no longer parses)."""
    if page.status != 200:
        return []
    try:
        files = cached_page_files(page, IndexSource("cache", index_url)).all_files()
    except PageFormatError:
        return []
    return [link.filename for link in files]


def _version_key(text: str) -> tuple[int, Version | str]:
    try:
        return (1, Version(text))
    except InvalidVersion:
        return (0, text)


def package_versions(cache_dir: Path, name: str) -> list[tuple[str, str, str]]:
    """(project name, version, index URL) of every version the cached pages list, oldest first."""
    cache = _open(cache_dir)
    if cache is None:
        return []
    try:
        found: set[tuple[str, str, str]] = set()
        for index_url, project, page in cache.iter_pages(canonicalize_name(name)):
            for filename in _filenames(index_url, page):
                parsed = parse_filename(filename)
                if parsed.version is not None:
                    found.add((project, str(parsed.version), index_url))
        return sorted(found, key=lambda item: (_version_key(item[1]), item[2]))
    finally:
        cache.close()


def package_dependencies(
    cache_dir: Path, name: str, version: str, index_url: str | None = None
) -> list[dict[str, str | None]]:
    """Requirements of ``name==version`` from cached metadata: ``{"requirement", "index_url"}`` dicts.

    Files of one release normally agree; requirements are listed once per index they were read from.
    """
    cache = _open(cache_dir)
    if cache is None:
        return []
    try:
        wanted = _version_key(version)
        result: list[dict[str, str | None]] = []
        seen: set[tuple[str, str]] = set()
        for row_version, _filename, row_index, _key, available, content in cache.metadata_rows(
            canonicalize_name(name)
        ):
            if not available or _version_key(row_version) != wanted:
                continue
            if index_url is not None and row_index.rstrip("/") != index_url.rstrip("/"):
                continue
            for requirement in json.loads(content).get("requires_dist") or []:
                if (requirement, row_index) not in seen:
                    seen.add((requirement, row_index))
                    result.append({"requirement": requirement, "index_url": row_index})
        return result
    finally:
        cache.close()


def package_platforms(cache_dir: Path) -> list[str]:
    """Wheel platform tags (``manylinux_2_17_x86_64``, ``win_amd64``, ``any``, ...) seen on cached pages."""
    cache = _open(cache_dir)
    if cache is None:
        return []
    try:
        platforms: set[str] = set()
        for index_url, _project, page in cache.iter_pages():
            for filename in _filenames(index_url, page):
                parsed = parse_filename(filename)
                if parsed.tag_text:
                    platforms.update(parsed.tag_text.rsplit("-", 1)[-1].split("."))
        return sorted(platforms)
    finally:
        cache.close()


def packages_providing_import(cache_dir: Path, import_name: str) -> list[tuple[str, str, str]]:
    """(project, version, index URL) of wheels whose top-level modules include ``import_name``.

    ``import_name`` may be dotted (``a.b``): its first component is what a wheel installs at top level.
    """
    cache = _open(cache_dir)
    if cache is None:
        return []
    try:
        top_level = import_name.strip().split(".", 1)[0]
        rows = cache.providers_of_import(top_level)
        return sorted(set(rows), key=lambda item: (item[0], _version_key(item[1]), item[2]))
    finally:
        cache.close()
