"""Plain-words explanations of a failed resolution, as chains of reasons.

resolvelib reports the requirements that could not be satisfied together; this module names who
asked for what, which constraints applied, and why versions that exist could not be used on the
target (Python version, wheel tags, yanked, pre-release, broken or dynamic metadata).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from packaging.version import Version


def _who(requirement: Any) -> str:
    if requirement.parent is None:
        return f"the application requires {requirement.text or requirement.identifier}"
    return f"{requirement.parent.name} {requirement.parent.version} depends on {requirement.text or requirement.identifier}"


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _versions_text(items: list[str], limit: int = 4) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _unusable_reasons(provider: Any, name: str, requirements: list[Any]) -> str | None:
    """Why the versions matching the requirements could not be used, grouped by reason."""
    package = provider._packages.get(name)
    if package is None:
        return None
    provider.judge_all(name)
    by_reason: dict[str, list[str]] = {}
    for version, reason in package.rejected.items():
        try:
            parsed = Version(version)
        except ValueError:
            continue
        if all(r.specifier.contains(parsed, prereleases=True) for r in requirements):
            by_reason.setdefault(reason, []).append(version)
    matching = [
        o
        for o in package.offers
        if o.installable and all(r.specifier.contains(o.version, prereleases=True) for r in requirements)
    ]
    yanked = [str(o.version) for o in matching if o.facts.yanked]
    if yanked:
        by_reason.setdefault("yanked (pin it with == to accept it)", []).extend(yanked)
    pre = [str(o.version) for o in matching if o.version.is_prerelease and not o.facts.yanked]
    if pre and not any(not o.version.is_prerelease for o in matching):
        by_reason.setdefault(
            "pre-release (enable it in [thoth.allow_prereleases] or [pipenv] allow_prereleases)", []
        ).extend(pre)
    if not by_reason:
        return None
    parts = []
    for reason, versions in by_reason.items():
        versions = sorted(versions, key=Version, reverse=True)
        parts.append(f"{_versions_text(versions)}: {reason}")
    return "; ".join(parts)


def explain_conflict(provider: Any, causes: Iterable[Any]) -> str:
    """One paragraph per package that could not be satisfied."""
    grouped: dict[str, list[Any]] = {}
    for cause in causes:
        grouped.setdefault(cause.requirement.name, []).append(cause.requirement)
    sentences = []
    for name, requirements in grouped.items():
        unique: dict[tuple, Any] = {}
        for requirement in requirements:
            key = (requirement.text, id(requirement.parent))
            unique.setdefault(key, requirement)
        requirements = list(unique.values())
        package = provider._packages.get(name)
        reasons = [_who(r) for r in requirements]
        constraints = provider._constraints_for(name)
        if package is not None and not package.found:
            indexes = ", ".join(package.indexes_tried) or "no index"
            sentences.append(
                f"Because {_join(reasons)} and {name} was not found on {indexes}, the stack cannot be resolved."
            )
            continue
        if constraints:
            reasons.append("the constraints say " + ", ".join(c.text for c in constraints))
        matching_all = provider.admissible(name, requirements) if package is not None else []
        unusable = _unusable_reasons(provider, name, requirements)
        if matching_all:
            # Versions exist for this package but the combination with pinned packages failed.
            sentences.append(
                f"Because {_join(reasons)}, no single version of {name} fits every package that needs it."
            )
            continue
        if len(reasons) == 1:
            sentence = f"Because {reasons[0]} and no version of {name} that matches can be used on the target"
        else:
            sentence = f"Because {_join(reasons)}, no version of {name} satisfies all of them"
        if unusable:
            sentence += f" ({unusable})"
        elif package is not None and not any(o.installable for o in package.offers):
            sentence += " (no version of it can be installed there)"
        sentences.append(
            sentence
            + (
                ", so the stack cannot be resolved."
                if len(reasons) > 1
                else ", the stack cannot be resolved."
            )
        )
    return " ".join(sentences) or "The requirements cannot be satisfied together."


def explain_no_version(provider: Any, name: str, requirement: Any) -> str:
    package = provider._packages.get(name)
    base = f"{_who(requirement)}"
    if package is not None and not package.found:
        return f"{name} was not found on {', '.join(package.indexes_tried)} ({base})"
    unusable = _unusable_reasons(provider, name, [requirement])
    return f"No version of {name} can be used ({base})" + (f": {unusable}" if unusable else "")
