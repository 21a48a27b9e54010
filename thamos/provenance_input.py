"""A hashed requirements.txt (pip, pip-tools) as the Pipfile and Pipfile.lock a provenance check reads.

Every requirement must be pinned (``==``) and carry its ``--hash`` options, as ``pip-compile
--generate-hashes`` and ``thamos advise`` write them; ``--index-url`` and ``--extra-index-url`` lines
become the sources (pip's configured index when there is none), and every package is looked for on
all of them (pip does not tie a package to one index).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from stackfiles.errors import StackFileError
from stackfiles.pipfile import render_pipfile
from stackfiles.pipfile_lock import build_pipfile_lock, package_entry, render_pipfile_lock
from stackfiles.requirements import read_requirements

from .exceptions import BadInputError
from .project_files import Stack
from .redact import redact_url_credentials

_INDEX_OPTIONS = {"-i": "primary", "--index-url": "primary", "--extra-index-url": "extra"}


def _sources(urls: list[str]) -> list[dict[str, Any]]:
    sources, names = [], set()
    for url in urls:
        base = (urlsplit(url).hostname or "index").replace(".", "-")
        name = base if base not in names else f"{base}-{len(names) + 1}"
        names.add(name)
        sources.append({"url": url, "verify_ssl": url.startswith("https://"), "name": name})
    return sources


def _index_urls(lines: list[Any]) -> list[str]:
    primary: list[str] = []
    extra: list[str] = []
    for line in lines:
        if line.is_option:
            flag, value = line.option
            kind = _INDEX_OPTIONS.get(flag)
            if kind and value:
                (primary if kind == "primary" else extra).append(value.strip())
    if not primary:
        from .local_packages import default_index_url  # zipfile and email.parser: only needed here

        primary = [default_index_url()]
    return [primary[-1], *[url for url in extra if url != primary[-1]]]


def provenance_stack(text: str, source: str, constraints: str | None = None) -> Stack:
    """The Pipfile and lock of a hashed requirements.txt; BadInputError naming a line that cannot be
    checked (not pinned, no hash, a direct URL)."""
    try:
        lines = read_requirements(text, source)
    except StackFileError as exc:
        raise BadInputError(exc.message) from None
    sources = _sources(_index_urls(lines))
    packages: dict[str, Any] = {}
    locked: dict[str, dict] = {}
    for line in lines:
        if line.is_option:
            continue
        requirement = line.requirement
        version = line.pinned_version
        where = f"{source} line {line.number}"
        if requirement.url or version is None:
            raise BadInputError(f"{where}: {requirement} is not pinned with ==; provenance-check needs a "
                                "requirements.txt of pins with hashes (pip-compile --generate-hashes)")
        if not line.hashes:
            raise BadInputError(f"{where}: {requirement.name} has no --hash; provenance-check needs the hashes")
        hashes = [item.split(":", 1)[1] for item in line.hashes if item.startswith("sha256:")]
        if not hashes:
            raise BadInputError(f"{where}: {requirement.name} has no sha256 --hash")
        markers = str(requirement.marker) if requirement.marker else None
        entry: dict[str, Any] = {"version": f"=={version}"}
        if markers:
            entry["markers"] = markers
        if requirement.extras:
            entry["extras"] = sorted(requirement.extras)
        packages[requirement.name] = entry
        locked[requirement.name.lower()] = package_entry(version, hashes, sources[0]["name"], markers,
                                                         sorted(requirement.extras))
    if not packages:
        raise BadInputError(f"{source} lists no requirements to check")
    pipfile = {"source": sources, "packages": packages, "dev-packages": {}}
    try:
        lock = build_pipfile_lock(pipfile, locked, {})
    except ValueError as exc:
        raise BadInputError(f"{source}: {redact_url_credentials(str(exc))}") from None
    return Stack(render_pipfile(pipfile, None), render_pipfile_lock(lock), "pipenv", constraints)
