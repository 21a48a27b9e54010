"""The resolvelib provider: which candidates a requirement has, in which order, and their dependencies.

It only answers the resolver; the work is done by the parts it assembles: ``offers`` (pages and
judging), ``selection`` (admissible versions in the policy's order, through ``units``),
``alternatives`` (other projects' candidates a pseudonym lets compete for a requirement),
``dependencies`` and ``prefetch``. The report and the explanations read the outcome through its
public read methods (``package``, ``dependencies_of``, ``all_dependencies``, ``judge``,
``judge_all``, ``admissible``, ``constraints_for``, ``took_prerelease_fallback``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from packaging.specifiers import SpecifierSet
from resolvelib.providers import AbstractProvider
from resolvelib.resolvers import Criterion, RequirementInformation, RequirementsConflicted

from adviser.environment import TargetEnvironment
from adviser.policies import Policy
from adviser.resolution.alternatives import Alternatives
from adviser.resolution.dependencies import Dependencies
from adviser.resolution.model import Candidate, PackageOffers, Requirement, VersionOffer, split_identifier
from adviser.resolution.offers import OfferBook
from adviser.resolution.prefetch import Prefetcher
from adviser.resolution.selection import Selection
from adviser.resolution.units import DecisionUnit, PolicyUnit, UnitChain

Log = Callable[[str], None]


class AdviserProvider(AbstractProvider):
    def __init__(
        self,
        client: Any,
        target: TargetEnvironment,
        policy: Policy,
        *,
        sources_for: Callable[[str], list],
        advisories: Any,
        allowed_advisories: set[str],
        prereleases_all: bool,
        prerelease_packages: Mapping[str, bool],
        constraints: Sequence[Any],
        locked: Mapping[str, str],
        log: Log | None = None,
        now: datetime | None = None,
        prefetch_workers: int = 16,
        units: Sequence[DecisionUnit] = (),
        own_sources: Sequence[Any] = (),
    ) -> None:
        """``policy`` is the first decision unit; ``units`` are further ones (see ``units``)."""
        self.target = target
        self.unit: DecisionUnit = UnitChain([PolicyUnit(policy), *units]) if units else PolicyUnit(policy)
        self.offers = OfferBook(
            client, target, self.unit, sources_for=sources_for, advisories=advisories,
            allowed_advisories=allowed_advisories, now=now or datetime.now(timezone.utc),
            own_sources=list(own_sources),
        )
        self.selection = Selection(
            self.offers, self.unit, prereleases_all=prereleases_all, prerelease_packages=prerelease_packages,
            constraints=[c for c in constraints if c.marker is None or c.marker.evaluate(target.markers)],
            locked=locked,
        )
        self.alternatives = Alternatives(self.offers, self.selection, self.unit)
        self.dependencies = Dependencies(self.offers, target, log or (lambda _message: None))
        self.prefetcher = Prefetcher(self.selection, self.dependencies, prefetch_workers)
        # The partial stack resolvelib works on (see reporter.AdviseReporter); set by ``follow``.
        self.pinned: Callable[[], Mapping[str, Candidate]] = dict

    def follow(self, reporter: Any) -> None:
        """Read the pins of the partial stack from ``reporter`` (decision units judge candidates against them)."""
        self.pinned = lambda: reporter.pinned

    def introducers(self, name: str) -> set[str]:
        """The pinned packages whose dependencies name ``name``."""
        found = set()
        for candidate in list(self.pinned().values()):
            dependencies = self.dependencies.known_for(candidate) or ()
            if any(r.name == name for r in dependencies):
                found.add(candidate.name)
        return found

    # ------------------------------------------------------------ resolvelib interface

    def identify(self, requirement_or_candidate: Requirement | Candidate) -> str:
        return requirement_or_candidate.identifier

    def get_preference(self, identifier, resolutions, candidates, information, backtrack_causes) -> Any:
        name, _extras = split_identifier(identifier)
        causes = {c.requirement.name for c in backtrack_causes}
        infos = list(information[identifier])
        direct = any(info.parent is None for info in infos)
        pinned = any(s.operator in ("==", "===") for info in infos for s in info.requirement.specifier)
        package = self.offers.known(name)
        count = len(package.offers) if package else 0
        return (name not in causes, not pinned, not direct, count, identifier)

    def find_matches(self, identifier, requirements, incompatibilities) -> Callable[[], Iterator[Candidate]]:
        name, extras = split_identifier(identifier)
        reqs = list(requirements[identifier])
        incompatible = list(incompatibilities[identifier])
        excluded = {(c.version, c.offer.index.url) for c in incompatible if c.replaces is None}
        base = list(requirements.get(name, ())) if extras else []

        def agrees_with_base(offer: VersionOffer) -> bool:
            # An extras candidate must agree with what the base package can be.
            return all(r.allows(offer.version) for r in base)

        def candidates() -> Iterator[Candidate]:
            if not extras and self.unit.has_alternatives(name):  # pseudonyms compete with the package
                return self.alternatives.candidates(name, reqs, incompatible, self.pinned())
            offers = self.selection.iter_admissible(name, reqs, excluded)
            if self.unit.ranks(name):  # scored versions: positive first, negative last (stable otherwise)
                pinned = self.pinned()
                offers = iter(sorted(offers, key=lambda o: -_sign(self.unit.score(o, pinned))))
            return self.selection.candidates((o for o in offers if agrees_with_base(o)), extras)

        return candidates

    def is_satisfied_by(self, requirement: Requirement, candidate: Candidate) -> bool:
        return requirement.allows(candidate.satisfies_version)

    def get_dependencies(self, candidate: Candidate) -> list[Requirement]:
        pinned = self.pinned()
        rejection = self.unit.reject_stack(candidate, pinned)
        if rejection:
            raise RequirementsConflicted(_rejected(candidate, rejection, pinned))
        if candidate.replaces is not None:
            # A stand-in pins its real project: that identifier brings the dependencies, and a
            # requirement on the project elsewhere must agree with the same version.
            pin = Requirement(candidate.name, frozenset(), SpecifierSet(f"=={candidate.version}"), parent=candidate,
                              text=f"{candidate.name}=={candidate.version}")
            self.prefetcher.prefetch([pin])
            return [pin]
        dependencies = [r for r in self.dependencies.of(candidate) if not self.unit.skip(r, candidate, pinned)]
        for package in self.unit.added(candidate, pinned):
            pin = package["locked_version"]
            dependencies.append(Requirement(package["name"], frozenset(), SpecifierSet(pin), parent=candidate,
                                            text=f"{package['name']}{pin}"))
        self.prefetcher.prefetch(dependencies)
        return dependencies

    # ------------------------------------------------------------ set-up and tear-down

    def add_direct(self, packages: Mapping[str, Any]) -> None:
        """Local path and git packages: the only candidate of their name (see ``OfferBook.add_direct``)."""
        self.offers.add_direct(packages)

    def prefetch(self, requirements: Sequence[Requirement]) -> None:
        """Warm the index client for ``requirements`` and what they lead to (see ``prefetch``)."""
        self.prefetcher.prefetch(requirements)

    def close(self) -> None:
        """Stop the prefetch threads (the provider's answers stay usable)."""
        self.prefetcher.close()

    # ------------------------------------------------------------ read API (report, explanations)

    def package(self, name: str) -> PackageOffers | None:
        """The offers of a package the resolution read, or None if it never asked for it."""
        return self.offers.known(name)

    def dependencies_of(self, candidate: Candidate) -> list[Requirement] | None:
        """A candidate's dependencies as computed during the resolution (None if never computed)."""
        return self.dependencies.known_for(candidate)

    def all_dependencies(self) -> Iterator[Requirement]:
        """Every dependency edge computed during the resolution, of any candidate looked at."""
        return self.dependencies.all_known()

    def judge(self, offer: VersionOffer) -> bool:
        """Whether a version can be installed on the target (judging it if it was not yet)."""
        return self.offers.judge(offer)

    def judge_all(self, name: str) -> PackageOffers:
        """The package's offers with every version judged (its ``rejected`` reasons complete)."""
        return self.offers.judge_all(name)

    def admissible(self, name: str, requirements: Sequence[Requirement]) -> list[VersionOffer]:
        """Every offer meeting the requirements and constraints, in the policy's order."""
        return self.selection.admissible(name, requirements)

    def constraints_for(self, name: str) -> list[Any]:
        """The constraints (holding on the target) that name the package."""
        return self.selection.constraints_for(name)

    def prereleases_allowed(self, name: str, requirements: Sequence[Any]) -> bool:
        """Whether pre-releases of the package are allowed by the options ([pipenv], requirements)."""
        return self.selection.prerelease_allowed(name, requirements)

    def took_prerelease_fallback(self, name: str) -> bool:
        """Whether pre-releases of the package were offered because no final release fits."""
        return name in self.selection.prerelease_fallback


def _sign(value: float) -> int:
    return (value > 0) - (value < 0)


def _rejected(candidate: Candidate, reason: str, pinned: Mapping[str, Candidate]) -> Criterion:
    """What resolvelib backtracks on when a unit rejects ``candidate``: one requirement of it per
    pinned package the reason blames (so the resolver goes back to those pins), saying why."""
    by_name = {c.name: c for c in pinned.values()}
    information = []
    for name in getattr(reason, "blames", ()) or (candidate.name,):
        other = by_name.get(name, candidate)
        text = f"{other.name}!={other.version} ({reason})"
        requirement = Requirement(other.name, frozenset(), SpecifierSet(f"!={other.version}"), parent=candidate,
                                  text=text)
        information.append(RequirementInformation(requirement, candidate))
    return Criterion(candidates=[], information=information, incompatibilities=[])
