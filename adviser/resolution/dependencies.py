"""The dependencies of a candidate: its core metadata's Requires-Dist as requirements on the target."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from packaging.markers import Marker
from packaging.requirements import InvalidRequirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from adviser.environment import TargetEnvironment
from adviser.index.core_metadata import parse_requirement
from adviser.markers import strip_extra
from adviser.resolution.model import Candidate, Requirement, requirement_text
from adviser.resolution.offers import OfferBook


class Dependencies:
    """The edges of each candidate met in one resolution, computed once (markers evaluated on the target)."""

    def __init__(self, book: OfferBook, target: TargetEnvironment, log: Callable[[str], None]) -> None:
        self.book = book
        self.target = target
        self.log = log
        self._known: dict[tuple[str, str, str], list[Requirement]] = {}
        self._markers: dict[tuple[str, str], bool] = {}

    def known_for(self, candidate: Candidate) -> list[Requirement] | None:
        """The candidate's dependencies if they were computed (never reads an index)."""
        return self._known.get(_key(candidate))

    def all_known(self) -> Iterator[Requirement]:
        """Every edge computed so far, for any candidate looked at (chosen or not)."""
        for requirements in list(self._known.values()):
            yield from requirements

    def of(self, candidate: Candidate, may_build: bool = True) -> list[Requirement]:
        key = _key(candidate)
        if key in self._known:
            return self._known[key]
        if not self.book.check(candidate.offer, may_build) and not candidate.offer.checked:
            return []  # a speculative look that needs a build: left to the resolver, nothing kept
        metadata = candidate.offer.metadata
        dependencies: list[Requirement] = []
        if candidate.extras:
            dependencies.append(
                Requirement(
                    candidate.name,
                    frozenset(),
                    SpecifierSet(f"=={candidate.version}"),
                    parent=candidate,
                    text=f"{candidate.name}=={candidate.version}",
                    exact_base=candidate.version,
                )
            )
        for line in metadata.requires_dist if metadata is not None else ():
            requirement = self._edge(candidate, line)
            if requirement is not None:
                dependencies.append(requirement)
        return self._known.setdefault(key, dependencies)

    def _edge(self, candidate: Candidate, line: str) -> Requirement | None:
        """One Requires-Dist line as a requirement, or None when it does not apply to this candidate."""
        try:
            parsed = parse_requirement(line)
        except InvalidRequirement:
            self.log(f"{candidate.name} {candidate.version}: ignoring unreadable dependency {line!r}")
            return None
        marker = parsed.marker
        if marker is not None:
            in_base = self._marker_holds(line, marker, "")
            if candidate.extras:
                wanted = not in_base and any(self._marker_holds(line, marker, e) for e in candidate.extras)
            else:
                wanted = in_base
            if not wanted:
                return None
        elif candidate.extras:
            return None  # already a dependency of the base candidate
        return Requirement(
            canonicalize_name(parsed.name),
            frozenset(canonicalize_name(e) for e in parsed.extras),
            parsed.specifier,
            parent=candidate,
            marker=strip_extra(marker) if marker is not None else None,
            text=requirement_text(parsed),
        )

    def _marker_holds(self, line: str, marker: Marker, extra: str) -> bool:
        """Whether a dependency's marker holds on the target with ``extra``; memoized per line."""
        key = (line, extra)
        holds = self._markers.get(key)
        if holds is None:
            holds = self._markers[key] = marker.evaluate(dict(self.target.markers, extra=extra))
        return holds


def _key(candidate: Candidate) -> tuple[str, str, str]:
    return (candidate.name, str(candidate.version), candidate.identifier)
