"""Alternatives: candidates of another project competing for a requirement (pseudonyms).

When a decision unit offers an alternative for a version of a package (``units.DecisionUnit.
alternatives``), the alternative's versions join the package's own candidates for the same
requirement. Each stands in for the version it was matched on: requirements on the package are
checked against that version (``model.Candidate.satisfies_version``). The order is the units':
a positive score first, a negative one last, then the better tier, and on a tie the package's
own candidates before the alternatives.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from adviser.resolution.model import Candidate, Requirement, Substitution, VersionOffer
from adviser.resolution.offers import OfferBook
from adviser.resolution.selection import Selection
from adviser.resolution.units import Alternative, DecisionUnit


class Alternatives:
    def __init__(self, book: OfferBook, selection: Selection, unit: DecisionUnit) -> None:
        self.book = book
        self.selection = selection
        self.unit = unit
        self._restricted: dict[tuple, VersionOffer] = {}  # an offer kept to the indexes a unit names

    def candidates(self, name: str, requirements: Sequence[Requirement], incompatible: Sequence[Candidate],
                   pinned: Mapping[str, Any]) -> Iterator[Candidate]:
        """The package's own candidates and its alternatives' for ``requirements``, in the units' order."""
        own_excluded = {(c.version, c.offer.index.url) for c in incompatible if c.replaces is None}
        excluded = {(c.name, c.version, c.offer.index.url) for c in incompatible if c.replaces is not None}
        entries: list[tuple[VersionOffer, Substitution | None]] = [
            (offer, None) for offer in self.selection.iter_admissible(name, requirements, own_excluded)
        ]
        entries.extend(self._substitutes(name, requirements, excluded))

        def order(entry: tuple[VersionOffer, Substitution | None]) -> tuple[int, int, bool]:
            offer, swap = entry
            score = self.unit.score(offer, pinned) if self.unit.ranks(offer.name) else 0.0
            return (-((score > 0) - (score < 0)), offer.tier, swap is not None)

        entries.sort(key=order)  # stable: each project's own order is kept within a rank
        for offer, swap in entries:
            if self.book.check(offer):
                yield Candidate(offer, frozenset(), replaces=swap)

    def _substitutes(self, name: str, requirements: Sequence[Requirement],
                     excluded: set[tuple]) -> list[tuple[VersionOffer, Substitution]]:
        """Alternative offers for the versions of ``name`` the requirements allow, each once (for
        the newest version it stands in for)."""
        package = self.book.pages(name)
        fits = self.selection._fits(requirements, self.selection.constraints_for(name))
        prereleases = self.selection.prerelease_allowed(name, requirements)
        seen: set[tuple] = set()
        found: list[tuple[VersionOffer, Substitution]] = []
        for offer in package.offers:  # newest first; dropped versions count too (a sieve may drop them)
            if not fits(offer.version) or (offer.version.is_prerelease and not prereleases):
                continue
            for alternative in self.unit.alternatives(name, offer.version, _index_url(self.book, offer)):
                for alt in self._offers_of(alternative, excluded):
                    key = (alt.name, alt.version, alt.index.url)
                    if key not in seen:
                        seen.add(key)
                        found.append((alt, Substitution(name, offer.version, alternative.unit)))
        return found

    def _offers_of(self, alternative: Alternative, excluded: set[tuple]) -> Iterator[VersionOffer]:
        """The usable offers of an alternative's versions, on the indexes it accepts."""
        package = self.book.pages(alternative.name)
        if not package.found:
            return
        if self.unit.relative_tiers:
            self.book.make_tiers_relative(package)
        fits = self.selection._fits([], self.selection.constraints_for(alternative.name))
        prereleases = alternative.versions is not None or self.selection.prerelease_allowed(alternative.name, [])
        usable = self.selection._usable(
            package, set(), {(v, url) for n, v, url in excluded if n == alternative.name})
        for offer in package.offers:
            if alternative.versions is not None and not alternative.versions.contains(offer.version, prereleases=True):
                continue
            if (offer.version.is_prerelease and not prereleases) or not fits(offer.version):
                continue
            offer = self._on_accepted_index(offer, alternative)
            if offer is not None and usable(offer):
                yield offer

    def _on_accepted_index(self, offer: VersionOffer, alternative: Alternative) -> VersionOffer | None:
        """The offer itself when its chosen index is accepted, else one kept to the accepted indexes."""
        if self.book.judge(offer) and alternative.accepts_index(offer.index.url):
            return offer
        choices = [choice for choice in offer.choices if alternative.accepts_index(choice[0].url)]
        if not choices:
            return None
        key = (offer.name, offer.version, tuple(choice[0].url for choice in choices))
        restricted = self._restricted.get(key)
        if restricted is None:
            restricted = self._restricted[key] = VersionOffer(offer.name, offer.version, choices)
        return restricted


def _index_url(book: OfferBook, offer: VersionOffer) -> str | None:
    """The index a version would come from (the first carrying it when it cannot be installed)."""
    if offer.direct is not None:
        return None
    if book.judge(offer):
        return offer.index.url
    return offer.choices[0][0].url if offer.choices else None
