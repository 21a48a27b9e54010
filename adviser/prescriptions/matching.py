"""Matching packages and resolver states: the ``package_version`` matcher and ``state`` checks.

Index URLs are compared after normalisation (no trailing slash, lowercase scheme and host) and
through the server's index aliases, so a prescription naming the public index applies to the
mirror the server resolves against when the two are declared the same.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version


@lru_cache(maxsize=65536)
def specifier(text: str) -> SpecifierSet | None:
    """The parsed specifier, None for a text no version can match (warned about when compiled)."""
    try:
        return SpecifierSet(text)
    except InvalidSpecifier:
        return None


def _normalized(url: str) -> str:
    parts = urlsplit(url.strip())
    return urlunsplit(parts._replace(scheme=parts.scheme.lower(), netloc=parts.netloc.lower())).rstrip("/")


class IndexUrls:
    """Index URL comparison: normalised, and aliases (alias -> canonical) mapped to one URL."""

    def __init__(self, aliases: Mapping[str, str] | None = None) -> None:
        self.aliases = {_normalized(k): _normalized(v) for k, v in (aliases or {}).items()}
        self._memo: dict[str, str] = {}

    def canonical(self, url: str | None) -> str | None:
        if url is None:
            return None
        found = self._memo.get(url)
        if found is None:
            normal = _normalized(url)
            found = self._memo[url] = self.aliases.get(normal, normal)
        return found

    def same(self, wanted: str, actual: str | None) -> bool:
        return actual is not None and self.canonical(wanted) == self.canonical(actual)


Package = tuple[str, Version, "str | None"]  # (name, version, index URL)


def pv_matches(pv: dict, package: Package, urls: IndexUrls, *, develop: bool | None = None,
               prereleases: bool | None = None) -> bool:
    """Whether a package matches every field the matcher states (a missing field matches)."""
    name, version, index_url = package
    if "name" in pv and pv["name"] != name:
        return False
    if "version" in pv:
        parsed = specifier(pv["version"])
        if parsed is None or not parsed.contains(version, prereleases=prereleases):
            return False
    wanted = pv.get("index_url")
    if wanted is not None:
        if isinstance(wanted, dict):
            if urls.same(wanted["not"], index_url):
                return False
        elif not urls.same(wanted, index_url):
            return False
    return "develop" not in pv or develop is None or pv["develop"] == develop


Stack = Mapping[str, Package]  # resolved packages by name


def resolved_match(entries: list[dict], stack: Stack, urls: IndexUrls) -> list[str] | None:
    """The names the ``resolved_dependencies`` entries matched, or None when one does not match."""
    names = []
    for pv in entries:
        package = stack.get(pv["name"])
        if package is None or not pv_matches(pv, package, urls):
            return None
        names.append(pv["name"])
    return names


def state_match(state: dict, candidate: str, stack: Stack, urls: IndexUrls,
                introducers: Callable[[str], set[str]]) -> list[str] | None:
    """The resolved packages a step's ``state`` relies on, or None when it does not hold.

    ``package_version_from`` entries must be resolved, match and have introduced ``candidate``;
    then (and only then) no other resolved package may have introduced it, unless
    ``package_version_from_allow_other``."""
    names = resolved_match(state.get("resolved_dependencies", []), stack, urls)
    if names is None:
        return None
    sources = state.get("package_version_from") or []
    if sources:
        parents = introducers(candidate) & set(stack)
        found = resolved_match(sources, stack, urls)
        if found is None or not set(found) <= parents:
            return None
        if not state.get("package_version_from_allow_other") and parents - set(found):
            return None
        names.extend(found)
    return names


def stack_of(mapping: Mapping[str, Any]) -> dict[str, Package]:
    """Resolved candidates (resolvelib's mapping) as (name, version, index URL) by name."""
    stack = {}
    for candidate in mapping.values():
        offer = candidate.offer
        index = offer.index.url if offer.index is not None and offer.direct is None else None
        stack[candidate.name] = (candidate.name, candidate.version, index)
    return stack
