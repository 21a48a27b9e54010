"""Marker helpers: dropping ``extra`` clauses from a dependency's marker for the lock file.

A dependency taken because an extra was requested is needed whenever the rest of its marker
holds, so the ``extra == "..."`` comparisons are treated as true and removed.
"""

from __future__ import annotations

from typing import Any

from packaging.markers import Marker

_ALWAYS = object()


def _is_extra_comparison(node: tuple) -> bool:
    return any(getattr(part, "value", None) == "extra" and type(part).__name__ == "Variable" for part in node)


def _simplify(node: Any) -> Any:
    if isinstance(node, tuple):
        return _ALWAYS if _is_extra_comparison(node) else node
    if isinstance(node, list):
        groups: list[list[Any]] = [[]]
        for item in node:
            if item == "or":
                groups.append([])
            elif item != "and":
                groups[-1].append(item)
        kept_groups = []
        for group in groups:
            terms = [t for t in (_simplify(term) for term in group) if t is not _ALWAYS]
            if not terms:
                return _ALWAYS  # one alternative always holds, so the whole disjunction does
            kept_groups.append(terms)
        rebuilt: list[Any] = []
        for position, terms in enumerate(kept_groups):
            if position:
                rebuilt.append("or")
            if len(terms) == 1:
                rebuilt.append(terms[0])
            else:
                conjunction: list[Any] = []
                for index, term in enumerate(terms):
                    if index:
                        conjunction.append("and")
                    conjunction.append(term)
                rebuilt.append(conjunction if len(kept_groups) > 1 else conjunction)
        if len(kept_groups) == 1 and len(kept_groups[0]) > 1:
            return rebuilt[0]
        return rebuilt
    return node


def strip_extra(marker: Marker | None) -> str | None:
    """The marker without its ``extra`` comparisons, or None when nothing else remains."""
    if marker is None:
        return None
    text = str(marker)
    if "extra" not in text:
        return text
    try:
        from packaging.markers import _format_marker  # private, stable across packaging releases

        simplified = _simplify(marker._markers)
        if simplified is _ALWAYS:
            return None
        result = _format_marker(simplified if isinstance(simplified, list) else [simplified])
        return str(Marker(result))
    except Exception:  # an unexpected marker structure: keep nothing rather than a wrong condition
        return None
