"""Index aliases: one package index reached under several URLs.

An index may answer under an old or secondary host name that redirects to its main one. Reading
such a source as a separate index costs a redirect per page (or a failure where the alias host
cannot be reached at all) and doubles the pages when the main index is consulted too. Two ways
tell that two URLs are the same index, without any host name written here:

* the operator declares it: ``THAMOS_INDEX_ALIASES="alias_url=canonical_url,..."`` (server
  setting ``index_aliases``, ``AdviserSettings.index_aliases``);
* a source's page answers with a redirect into an index the backend knows (the default index or
  one of the known indexes).

Either way the source keeps its name and URL (in the lock, in messages) while its pages are read
from the known index, once for both, and stack_info says so.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

Log = Callable[[str], None]


class IndexAliasError(ValueError):
    """An alias declaration cannot be understood; the message names the item."""


def _root(url: str) -> str:
    """An index URL in the form used to compare: one trailing slash."""
    return url.strip().rstrip("/") + "/"


def parse_index_aliases(value: Any) -> dict[str, str]:
    """``{alias root: canonical URL}`` from "alias_url=canonical_url,...", a mapping or a list of pairs."""
    if value in (None, ""):
        return {}
    if isinstance(value, Mapping):
        pairs = [(str(alias), str(canonical)) for alias, canonical in value.items()]
    elif isinstance(value, str):
        pairs = []
        for item in (piece.strip() for piece in value.split(",")):
            alias, sep, canonical = item.partition("=")
            if item and not sep:
                raise IndexAliasError(f"index alias {item!r} is not of the form alias_url=canonical_url")
            if item:
                pairs.append((alias, canonical))
    elif isinstance(value, (list, tuple)) and all(isinstance(p, (list, tuple)) and len(p) == 2 for p in value):
        pairs = [(str(alias), str(canonical)) for alias, canonical in value]
    else:
        raise IndexAliasError(f"index aliases must be 'alias_url=canonical_url,...' or a mapping, got {value!r}")
    aliases = {}
    for alias, canonical in pairs:
        for url in (alias, canonical):
            if not url.strip().startswith(("http://", "https://")):
                raise IndexAliasError(f"index alias {alias}={canonical}: {url.strip()!r} is not an http(s) URL")
        if _root(alias) == _root(canonical):
            raise IndexAliasError(f"index alias {alias}={canonical} names the same URL twice")
        aliases[_root(alias)] = canonical.strip()
    return aliases


class IndexAliases:
    """Which source is read through which index; shared by the threads of one index client."""

    def __init__(self, declared: Any = None, known: Iterable[Any] = (), log: Log | None = None) -> None:
        self._declared = parse_index_aliases(declared)
        self._known = {_root(source.url): source for source in known}
        self._found: dict[str, Any] = {}  # alias root -> known IndexSource, learnt from redirects
        self._lock = threading.Lock()
        self._log = log or (lambda _message: None)

    def declared_root(self, url: str) -> str:
        """The root of the index ``url`` is declared an alias of, else its own root."""
        return _root(self._declared.get(_root(url), url))

    def reading_source(self, source: Any) -> Any:
        """The IndexSource whose pages ``source`` is read from: itself unless it is an alias."""
        root = _root(source.url)
        known = self._found.get(root)
        if known is not None:
            return known
        canonical = self._declared.get(root)
        if canonical is None:
            return source
        known = self._known.get(_root(canonical))
        if known is not None:
            return known
        from adviser.index.sources import IndexSource

        return IndexSource(source.name, canonical, source.verify_ssl)

    def noticed(self, source: Any, final_url: str) -> None:
        """A page of ``source`` came from ``final_url``: a redirect into a known index makes an alias."""
        root = _root(source.url)
        if final_url.startswith(root) or root in self._declared or root in self._found:
            return
        for known_root, known in self._known.items():
            if known_root != root and final_url.startswith(known_root):
                with self._lock:
                    self._found.setdefault(root, known)
                self._log(f"index: {source.url} redirects to {known.url}; treated as the same index")
                return

    def notes(self, sources: Iterable[Any]) -> list[str]:
        """One sentence per source read through another index (for stack_info)."""
        notes = []
        for source in sources:
            root = _root(source.url)
            if root in self._declared:
                notes.append(
                    f"Index {source.name} ({source.url}) is declared an alias of {self._declared[root]}: "
                    "treated as the same index"
                )
            elif root in self._found:
                notes.append(
                    f"Index {source.name} ({source.url}) redirects to {self._found[root].url}: "
                    "treated as the same index"
                )
        return notes
