"""Index URLs written with ``${VAR}`` placeholders, and the expansions a client sends for them.

The Pipfile (and the lock) keep a private index as ``https://${USER}:${TOKEN}@host/simple``; the
client expands it from its own environment and sends the result in the request's
``expanded_sources``. The source keeps its written URL as identity and gets the expanded one as
``fetch_url``, used only to reach the index (adviser.index.sources.IndexSource).
"""

from __future__ import annotations

import re
from typing import Any

from adviser.index.sources import IndexSource
from adviser.project import ProjectError, Source

_VARIABLE = re.compile(r"\$(\w+|\{[^}]*\})", re.ASCII)


def expansions(sent: Any) -> dict[str, str]:
    """Written URL -> expanded URL from a request's ``expanded_sources``."""
    if sent is None:
        return {}
    if not isinstance(sent, list):
        raise ProjectError("expanded_sources must be a list of {url, expanded_url}")
    found = {}
    for item in sent:
        if isinstance(item, dict) and isinstance(item.get("url"), str) and isinstance(item.get("expanded_url"), str):
            found[item["url"]] = item["expanded_url"]
    return found


def index_sources(sources: list[Source], sent: Any) -> list[IndexSource]:
    """The project's sources for the index client; a URL with placeholders needs its expansion."""
    expanded = expansions(sent)
    result = []
    for source in sources:
        fetch_url = expanded.get(source.url)
        variable = _VARIABLE.search(source.url)
        if variable and fetch_url is None:
            raise ProjectError(
                f"[[source]] {source.name}: its URL uses the environment variable {variable.group(1).strip('{}')}, "
                "which only the client can expand, and the request carries no expansion for it "
                "(thamos sends one; other clients must expand the URL themselves)"
            )
        result.append(IndexSource(source.name, source.url, source.verify_ssl, fetch_url=fetch_url))
    return result
