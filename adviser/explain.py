"""Plain-words explanations of a failed resolution, as chains of reasons.

resolvelib reports the requirements that could not be satisfied together; this module names who
asked for what, which constraints applied, and why versions that exist could not be used on the
target (Python version, wheel tags, yanked, pre-release, broken or dynamic metadata).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from packaging.version import Version


class ConflictHistory:
    """Every requirement the resolver met in a conflict, per package, and one log line for each new one.

    resolvelib's final causes only hold the requirements of its last attempt; the ones that ruled
    out the other versions were met in earlier conflicts. They are kept here (once each) so an
    explanation can name every requirement that collides.
    """

    def __init__(self, log: Callable[[str], None] | None = None) -> None:
        self.log = log or (lambda _message: None)
        self.by_name: dict[str, dict[tuple[str, str], Any]] = {}

    def record(self, causes: Iterable[Any]) -> None:
        fresh: dict[str, list[Any]] = {}
        for cause in causes:
            requirement = cause.requirement
            known = self.by_name.setdefault(requirement.name, {})
            key = (requirement.who(), requirement.text or requirement.identifier)
            if key not in known:
                known[key] = requirement
                fresh.setdefault(requirement.name, []).append(requirement)
        for name, requirements in fresh.items():
            self.log(f"resolver: conflict on {name}: " + "; ".join(_who(r) for r in requirements))

    def requirements_on(self, name: str) -> list[Any]:
        return list(self.by_name.get(name, {}).values())


def _who(requirement: Any) -> str:
    if requirement.parent is None:
        return f"the application requires {requirement.text or requirement.identifier}"
    return f"{requirement.parent.describe()} depends on {requirement.text or requirement.identifier}"


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _versions_text(items: list[str], limit: int = 4) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _unusable_reasons(provider: Any, name: str, requirements: list[Any]) -> str | None:
    """Why the versions matching the requirements could not be used, grouped by reason."""
    package = provider.package(name)
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


def _unique(requirements: Iterable[Any]) -> list[Any]:
    unique: dict[tuple, Any] = {}
    for requirement in requirements:
        unique.setdefault((requirement.who(), requirement.text or requirement.identifier), requirement)
    return list(unique.values())


def _alternative(requirement: Any, chosen: list[Any]) -> bool:
    """Whether ``requirement`` comes from another version of a parent already in ``chosen``: two
    versions of one package are never in a stack together, so their requirements do not collide."""
    parent = requirement.parent
    return parent is not None and any(
        other.parent is not None
        and other.parent.name == parent.name
        and other.parent.version != parent.version
        for other in chosen
    )


def _colliding(
    provider: Any, name: str, requirements: list[Any], history: ConflictHistory | None
) -> list[Any]:
    """``requirements`` on ``name`` plus, from earlier conflicts, the requirements that rule out the
    versions they alone would allow, until none is left (each added one removes some)."""
    chosen = list(requirements)
    left = {o.version for o in provider.admissible(name, chosen)}
    for requirement in history.requirements_on(name) if history is not None else []:
        if not left:
            break
        if requirement in chosen or _alternative(requirement, chosen):
            continue
        remaining = {v for v in left if requirement.specifier.contains(v, prereleases=True)}
        if remaining != left:
            chosen.append(requirement)
            left = remaining
    return _unique(chosen)


def _earlier_collisions(provider: Any, history: ConflictHistory, skip: set[str], limit: int = 3) -> list[str]:
    """Sentences for requirements met in earlier conflicts that really leave no version."""
    sentences = []
    for name in list(history.by_name):
        if name in skip or len(sentences) >= limit or provider.package(name) is None:
            continue
        colliding = _colliding(provider, name, [], history)
        if colliding and not provider.admissible(name, colliding):
            sentences.append(_package_sentence(provider, name, colliding, None)[0])
    return sentences


def _single_version_sentence(
    provider: Any, name: str, requirements: list[Any], constraints: list[Any]
) -> str:
    parts = [_who(r) for r in requirements]
    if constraints:
        parts.append("the constraints say " + ", ".join(c.text for c in constraints))
    fitting = [str(o.version) for o in provider.admissible(name, requirements)]
    if fitting:
        # The specifiers leave versions: what failed was combining them with the rest of the stack.
        return (
            f"{name} could not be placed: {'; '.join(parts)}; {_versions_text(fitting)} fits these, "
            "but not together with the rest of the stack."
        )
    return f"No single version of {name} fits every package: {'; '.join(parts)}."


def _package_sentence(
    provider: Any, name: str, requirements: list[Any], history: ConflictHistory | None
) -> tuple[str, bool]:
    """The explanation for one package, and whether it names requirements that really collide."""
    package = provider.package(name)
    reasons = [_who(r) for r in requirements]
    constraints = provider.constraints_for(name)
    if package is not None and not package.found:
        indexes = ", ".join(package.indexes_tried) or "no index"
        return (
            f"Because {_join(reasons)} and {name} was not found on {indexes}, the stack cannot be resolved.",
            True,
        )
    if package is not None and provider.admissible(name, requirements):
        # The final causes leave versions: the requirements that ruled them out come from
        # earlier conflicts of the resolution.
        colliding = _colliding(provider, name, requirements, history)
        collide = not provider.admissible(name, colliding)
        return _single_version_sentence(provider, name, colliding, constraints), collide
    if constraints:
        reasons.append("the constraints say " + ", ".join(c.text for c in constraints))
    if len(reasons) == 1:
        sentence = f"Because {reasons[0]} and no version of {name} that matches can be used on the target"
    else:
        sentence = f"Because {_join(reasons)}, no version of {name} satisfies all of them"
    unusable = _unusable_reasons(provider, name, requirements)
    if unusable:
        sentence += f" ({unusable})"
    elif package is not None and not any(o.installable for o in package.offers):
        sentence += " (no version of it can be installed there)"
    return sentence + (
        ", so the stack cannot be resolved." if len(reasons) > 1 else ", the stack cannot be resolved."
    ), True


def explain_conflict(provider: Any, causes: Iterable[Any], history: ConflictHistory | None = None) -> str:
    """One sentence per package that could not be satisfied, naming who requires what.

    A package whose requirements still leave a version is only mentioned when no other package
    of the causes shows a real collision (it is then not the reason the stack fails).
    """
    grouped: dict[str, list[Any]] = {}
    for cause in causes:
        grouped.setdefault(cause.requirement.name, []).append(cause.requirement)
    explained = [_package_sentence(provider, name, _unique(reqs), history) for name, reqs in grouped.items()]
    real = [sentence for sentence, collide in explained if collide]
    if real:
        return " ".join(real)
    sentences = [sentence for sentence, _collide in explained]
    if history is not None:
        # The last attempt failed for lack of a combination: name what ruled the others out.
        sentences += _earlier_collisions(provider, history, set(grouped))
    return " ".join(sentences) or "The requirements cannot be satisfied together."
