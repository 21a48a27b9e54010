"""Index URLs with ``${VAR}`` placeholders, expanded from the environment the way pipenv does.

A Pipfile ``[[source]]`` (or a requirements file's ``--index-url`` / ``--extra-index-url``) may
write credentials as environment variables: ``https://${USER}:${TOKEN}@host/simple``. The files
and the lock keep that form (the Pipfile hash is the one of the file as written); only the request
to the backend carries the expanded URL, in ``expanded_sources``, next to the URL as written.

``$VAR`` and ``${VAR}`` are expanded as ``os.path.expandvars`` does, except that a variable that is
not set is an error naming it, never left in place.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

from .exceptions import BadInputError

# The same placeholders os.path.expandvars (POSIX) recognizes.
_VARIABLE = re.compile(r"\$(\w+|\{[^}]*\})", re.ASCII)
_INDEX_OPTION = re.compile(r"^\s*(?:-i|--index-url|--extra-index-url)(?:\s*=\s*|\s+)(\S+)")


def has_variables(url: str) -> bool:
    return bool(_VARIABLE.search(url))


def expand_url(url: str, where: str, environ: Mapping[str, str] | None = None) -> str:
    """``url`` with its variables replaced; BadInputError naming the first one that is unset."""
    environ = os.environ if environ is None else environ

    def value(match: re.Match[str]) -> str:
        name = match.group(1).strip("{}")
        if name not in environ:
            raise BadInputError(
                f"{where}: environment variable {name} is not set (the index URL {url} uses it); "
                "export it before running thamos"
            )
        return environ[name]

    return _VARIABLE.sub(value, url)


def expanded_sources(urls: Iterable[tuple[str, str]], environ: Mapping[str, str] | None = None) -> list[dict]:
    """``[{url, expanded_url}]`` for every (where, url) holding variables, in order, once each."""
    expanded: list[dict[str, str]] = []
    seen: set[str] = set()
    for where, url in urls:
        if url in seen or not has_variables(url):
            continue
        seen.add(url)
        expanded.append({"url": url, "expanded_url": expand_url(url, where, environ)})
    return expanded


def pipfile_source_urls(pipfile: dict[str, Any], name: str = "Pipfile") -> list[tuple[str, str]]:
    """(where, url) of the Pipfile's ``[[source]]`` tables."""
    found = []
    for position, source in enumerate(pipfile.get("source") or [], start=1):
        if isinstance(source, dict) and isinstance(source.get("url"), str):
            label = source.get("name") or f"number {position}"
            found.append((f"{name} [[source]] {label}", source["url"]))
    return found


def requirements_source_urls(text: str, name: str) -> list[tuple[str, str]]:
    """(where, url) of a requirements file's ``--index-url`` / ``--extra-index-url`` options."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = _INDEX_OPTION.match(line)
        if match:
            found.append((f"{name} line {number}", match.group(1)))
    return found


def lock_source_urls(lock: dict[str, Any], name: str = "Pipfile.lock") -> dict[str, str]:
    """Source name -> expanded URL for the ``_meta.sources`` of a lock (for installing it)."""
    urls = {}
    for source in ((lock.get("_meta") or {}).get("sources")) or []:
        if isinstance(source, dict) and isinstance(source.get("url"), str):
            where = f"{name} source {source.get('name') or source['url']}"
            urls[str(source.get("name"))] = expand_url(source["url"], where)
    return urls
