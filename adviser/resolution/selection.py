"""Selection: which offers of a package meet the requirements and constraints, in the policy's order.

Recommendation policy acts here, through the decision units (``units``): their tiers order the
versions, their ``admit`` drops some, their metadata demotion defers some. The resolution loop
itself never branches on a policy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from packaging.version import Version

from adviser.resolution.model import Candidate, Requirement, VersionOffer
from adviser.resolution.offers import OfferBook
from adviser.resolution.units import DecisionUnit

METADATA_LOOKAHEAD = 2


class Selection:
    """Admissible offers and candidates of a package, for the provider, the prefetch and explanations."""

    def __init__(
        self,
        book: OfferBook,
        unit: DecisionUnit,
        *,
        prereleases_all: bool,
        prerelease_packages: Mapping[str, bool],
        constraints: Sequence[Any],
        locked: Mapping[str, str],
    ) -> None:
        self.book = book
        self.unit = unit
        self.prereleases_all = prereleases_all
        self.prerelease_packages = prerelease_packages
        self.constraints = constraints
        self.locked = locked
        self.prerelease_fallback: set[str] = set()  # packages that got a pre-release for lack of a final one

    def constraints_for(self, name: str) -> list[Any]:
        return [c for c in self.constraints if c.name == name]

    def prerelease_allowed(self, name: str, requirements: Sequence[Requirement]) -> bool:
        if self.prereleases_all or self.prerelease_packages.get(name):
            return True
        return any(r.specifier.prereleases for r in requirements if str(r.specifier))

    def admissible(self, name: str, requirements: Sequence[Requirement]) -> list[VersionOffer]:
        """Every offer meeting the requirements and constraints, in the policy's order."""
        return list(self.iter_admissible(name, requirements))

    def iter_admissible(
        self, name: str, requirements: Sequence[Requirement], excluded: frozenset | set = frozenset()
    ) -> Iterator[VersionOffer]:
        """Offers meeting every requirement and constraint, in the policy's order (before metadata).

        Versions are judged lazily, newest first: tier-0 versions are yielded as soon as they are
        found, the others after all versions were seen, ordered by tier.
        """
        package = self.book.pages(name)
        if self.unit.relative_tiers:
            self.book.make_tiers_relative(package)
        fits_version = self._fits(requirements, self.constraints_for(name))
        usable = self._usable(package, _pinned(requirements), excluded)

        def fitting(prerelease: bool | None) -> Callable[[], Iterator[VersionOffer]]:
            # Lazy, newest first: the resolver mostly takes the first offer, and packages list
            # hundreds of versions whose specifier checks would otherwise all run on every call.
            def offers() -> Iterator[VersionOffer]:
                for offer in package.offers:
                    if prerelease is not None and offer.version.is_prerelease != prerelease:
                        continue
                    if fits_version(offer.version):
                        yield offer

            return offers

        locked = self.locked.get(name)
        if self.prerelease_allowed(name, requirements):
            yield from _tier_order(fitting(None), locked, usable)
            return
        found = False
        for offer in _tier_order(fitting(False), locked, usable):
            found = True
            yield offer
        if not found:
            # No final release fits: pre-releases are acceptable then (as pip does), with a warning.
            for offer in _tier_order(fitting(True), locked, usable):
                self.prerelease_fallback.add(name)
                yield offer

    @staticmethod
    def _fits(requirements: Sequence[Requirement], constraints: list[Any]) -> Callable[[Version], bool]:
        exact = {r.exact_base for r in requirements if r.exact_base is not None}

        def fits_version(version: Version) -> bool:
            if exact and version not in exact:
                return False
            if not all(r.specifier.contains(version, prereleases=True) for r in requirements):
                return False
            return all(c.specifier.contains(version, prereleases=True) for c in constraints)

        return fits_version

    def _usable(self, package: Any, pinned: set[Version], excluded: frozenset | set) -> Callable[[VersionOffer], bool]:
        def usable(offer: VersionOffer) -> bool:
            if not self.book.judge(offer):
                return False
            if offer.checked and offer.metadata is None:
                return False  # its metadata could not be read: recorded in package.rejected
            if (offer.version, offer.index.url) in excluded:
                return False
            if offer.facts.yanked and offer.version not in pinned:
                return False
            dropped = self.unit.admit(offer)
            if dropped:
                package.rejected.setdefault(str(offer.version), dropped)
                return False
            return True

        return usable

    def candidates(self, offers: Iterable[VersionOffer], extras: frozenset[str]) -> Iterator[Candidate]:
        """Candidates of the offers whose metadata can be used, in order.

        A version a unit demotes from its metadata waits behind at most METADATA_LOOKAHEAD older
        versions of its tier (reading every version's metadata would cost a request each)."""
        deferred: list[VersionOffer] = []
        current_tier = None
        budget = METADATA_LOOKAHEAD
        for offer in offers:
            if deferred and (offer.tier != current_tier or budget <= 0):
                for late in deferred:
                    yield Candidate(late, extras)
                deferred = []
            if offer.tier != current_tier:
                budget = METADATA_LOOKAHEAD
            current_tier = offer.tier
            if not self.book.check(offer):
                continue
            if offer.metadata_demotion and budget > 0:
                deferred.append(offer)
                budget -= 1
                continue
            yield Candidate(offer, extras)
        for late in deferred:
            yield Candidate(late, extras)


def _pinned(requirements: Sequence[Requirement]) -> set[Version]:
    """Versions pinned exactly with == or === (a yanked version is used only when pinned so)."""
    pinned = set()
    for r in requirements:
        for spec in r.specifier:
            if spec.operator in ("==", "===") and "*" not in spec.version and _valid(spec.version):
                pinned.add(Version(spec.version))
    return pinned


def _valid(version: str) -> bool:
    try:
        Version(version)
    except ValueError:
        return False
    return True


def _tier_order(
    offers: Callable[[], Iterator[VersionOffer]],
    locked: str | None,
    usable: Callable[[VersionOffer], bool],
) -> Iterator[VersionOffer]:
    first = None
    if locked is not None:
        candidate = next((o for o in offers() if str(o.version) == locked), None)
        if candidate is not None and usable(candidate) and candidate.tier == 0:
            first = candidate
            yield candidate  # minimal change: a still-valid locked version comes first
    later = []
    for position, offer in enumerate(offers()):  # newest first
        if offer is first or not usable(offer):
            continue
        if offer.tier == 0:
            yield offer
        else:
            later.append((offer.tier, str(offer.version) != locked, position, offer))
    later.sort(key=lambda item: item[:3])
    for *_key, offer in later:
        yield offer
