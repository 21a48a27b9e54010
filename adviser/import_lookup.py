"""Which package provides a module no resolution on this backend has read (``whatprovides``,
``discover``): the projects named like the module are looked up on the backend's indexes, and the
top-level names in their newest wheel (its zip directory, the names RECORD lists, read with range
requests as metadata is) tell whether they install it. What is learnt is kept in the cache with the
rest, so the next question is answered from it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from adviser.index import IndexClient, IndexSource, PackageNotFound, default_index_source
from adviser.index.errors import IndexAccessError, MetadataUnavailable

LOOKUP_TIMEOUT = 10.0  # seconds per request: the client waits for the answer


def candidate_projects(module: str) -> list[str]:
    """Project names a module is commonly published under (``yaml`` is not ``PyYAML``: such names
    are only known once a resolution read the project)."""
    top = module.strip().split(".", 1)[0]
    names = [top, f"python-{top}", f"py{top}", f"{top}-python"]
    return list(dict.fromkeys(canonicalize_name(name) for name in names if name))


def look_up_import(settings: Any, module: str) -> list[tuple[str, str, str]]:
    """(project, version, index URL) of the newest wheels, among the candidate projects on the
    backend's indexes, that install ``module`` at top level; [] when none does."""
    top = module.strip().split(".", 1)[0]
    default = getattr(settings, "default_index", None) or default_index_source()
    sources: list[IndexSource] = [default, *(getattr(settings, "known_indexes", None) or [])]
    client = IndexClient(sources, Path(settings.cache_dir), timeout=LOOKUP_TIMEOUT, max_workers=4)
    found: list[tuple[str, str, str]] = []
    try:
        for name in candidate_projects(top):
            try:
                pages = client.project_pages(name)
            except (PackageNotFound, IndexAccessError):
                continue
            for page in pages:
                wheel = _newest_wheel(page)
                if wheel is None:
                    continue
                try:
                    names = client.wheel_import_names(wheel)
                except (MetadataUnavailable, IndexAccessError):
                    continue
                if top in names:
                    found.append((str(wheel.project_name or name), str(wheel.version), page.index.url))
    finally:
        client.close()
    return found


def _newest_wheel(page: Any) -> Any:
    """A wheel of the newest release that has one (a pure-Python one when there is)."""
    versions = page.versions()
    for version in sorted(versions, reverse=True):
        wheels = [link for link in versions[version] if link.is_wheel and not link.yanked]
        if wheels:
            return next((link for link in wheels if link.filename.endswith("-none-any.whl")), wheels[0])
    return None
