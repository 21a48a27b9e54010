"""What the resolver handles: identifiers, requirements (edges), version offers and candidates."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from packaging.requirements import Requirement as PackagingRequirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from adviser.policies import VersionFacts


def identifier_for(name: str, extras: frozenset[str]) -> str:
    return f"{name}[{','.join(sorted(extras))}]" if extras else name


def split_identifier(identifier: str) -> tuple[str, frozenset[str]]:
    if "[" in identifier:
        name, rest = identifier.split("[", 1)
        return name, frozenset(e for e in rest.rstrip("]").split(",") if e)
    return identifier, frozenset()


@dataclass(eq=False)
class Requirement:
    """One edge of the graph: ``parent`` (None for the application) needs ``name[extras] specifier``."""

    name: str
    extras: frozenset[str]
    specifier: SpecifierSet
    parent: Candidate | None = None
    marker: str | None = None  # the condition under which the edge exists (extras stripped)
    text: str = ""
    exact_base: Version | None = None  # extras candidates pin their base to the same version
    # Answers of allows(): resolvelib asks again about the same pins in every round.
    _allowed: dict[Version, bool] = field(default_factory=dict, repr=False)

    @property
    def identifier(self) -> str:
        return identifier_for(self.name, self.extras)

    def allows(self, version: Version) -> bool:
        """Whether ``version`` satisfies this edge (pre-releases included: the policy decides those)."""
        known = self._allowed.get(version)
        if known is None:
            known = self._allowed[version] = (self.exact_base is None or version == self.exact_base) and (
                self.specifier.contains(version, prereleases=True)
            )
        return known

    def who(self) -> str:
        return "the application" if self.parent is None else self.parent.describe()

    def __repr__(self) -> str:
        return f"Requirement({self.text or self.identifier}, from {self.who()})"


def requirement_text(parsed: PackagingRequirement) -> str:
    """How a dependency is named in explanations: ``name[extras]specifier`` (markers aside)."""
    extras = f"[{','.join(sorted(parsed.extras))}]" if parsed.extras else ""
    return f"{parsed.name}{extras}{parsed.specifier}"


@dataclass(eq=False)
class VersionOffer:
    """One version of a package, judged on first use: on which index, which files, which facts.

    ``choices`` lists (index, files) per index carrying the version, in source order. Judging
    (tags, Requires-Python, upload times, advisories, tier) is done only for versions the resolver
    actually looks at, newest first, since big projects list thousands of files.
    """

    name: str
    version: Version
    choices: list  # [(IndexSource, VersionFiles), ...]
    judged: bool = False
    installable: bool = False
    index: Any = None  # the chosen IndexSource
    files: list = field(default_factory=list)  # every file of the version on that index (lock hashes)
    usable: list = field(default_factory=list)  # files the target can install, best first
    facts: VersionFacts | None = None
    advisories: list = field(default_factory=list)  # all advisories affecting it (allowed ones too)
    tier: int = 0
    tier_reasons: list[str] = field(default_factory=list)
    metadata: Any = None  # CoreMetadata once read
    metadata_problem: str | None = None
    # The wheel of another platform whose metadata stood in for an sdist the target could not build.
    metadata_borrowed_from: str | None = None
    metadata_demotion: str | None = None
    checked: bool = False
    direct: Any = None  # adviser.direct.DirectPackage for a local path or git package


@dataclass(frozen=True)
class Substitution:
    """Why a candidate of another project stands in for a requirement's package (a pseudonym)."""

    name: str  # the requirement's package
    version: Version  # the version of it the pseudonym matched: requirements are checked against it
    unit: str  # the unit that offered the swap


@dataclass(eq=False)
class Candidate:
    """A version offered for an identifier. With ``replaces``, the offer is of another project
    (its real name is ``name``) standing in for the requirement's package (``identifier``)."""

    offer: VersionOffer
    extras: frozenset[str] = frozenset()
    replaces: Substitution | None = None

    @property
    def name(self) -> str:
        return self.offer.name

    @property
    def version(self) -> Version:
        return self.offer.version

    @property
    def satisfies_version(self) -> Version:
        """The version requirements on the identifier are checked against."""
        return self.replaces.version if self.replaces is not None else self.offer.version

    @property
    def identifier(self) -> str:
        return identifier_for(self.replaces.name if self.replaces is not None else self.name, self.extras)

    def describe(self) -> str:
        if self.replaces is None:
            return f"{self.name} {self.version}"
        return f"{self.name} {self.version} (standing in for {self.replaces.name} {self.replaces.version})"

    def __repr__(self) -> str:
        return f"Candidate({self.identifier} {self.describe()} on {self.offer.index.name})"


@dataclass
class PackageOffers:
    """All versions of one package (newest first), plus why some cannot be used on the target."""

    name: str
    offers: list[VersionOffer]
    rejected: dict[str, str]  # version -> reason it cannot be used on the target
    indexes_tried: list[str]
    found: bool
    tiers_relative: bool = False
