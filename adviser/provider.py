"""The resolvelib provider: which candidates a requirement has, in which order, with which reasons.

Recommendation policy lives here (through ``adviser.policies``), never in the resolution loop.
The provider reads indexes only through ``IndexClient`` and warms it ahead of the resolver: when
a candidate's dependencies become known, their pages are fetched in parallel, then the metadata of
the version each of them will most likely get, so network rounds follow the depth of the graph
rather than its size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from packaging.markers import Marker
from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as PackagingRequirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version
from resolvelib.providers import AbstractProvider

from adviser.environment import TargetEnvironment
from adviser.markers import strip_extra
from adviser.policies import Policy, VersionFacts, parse_upload_time

Log = Callable[[str], None]
METADATA_LOOKAHEAD = 2


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

    @property
    def identifier(self) -> str:
        return identifier_for(self.name, self.extras)

    def who(self) -> str:
        return "the application" if self.parent is None else f"{self.parent.name} {self.parent.version}"

    def __repr__(self) -> str:
        return f"Requirement({self.text or self.identifier}, from {self.who()})"


@dataclass(eq=False)
class VersionOffer:
    """One version of a package on one index, with the facts the policy judges."""

    name: str
    version: Version
    index: Any  # IndexSource
    files: list  # every file of the version on that index (for the lock's hashes)
    usable: list  # files the target can install, best first (wheels by tag rank, then sdist)
    facts: VersionFacts
    advisories: list = field(default_factory=list)  # all advisories affecting it (allowed ones too)
    tier: int = 0
    tier_reasons: list[str] = field(default_factory=list)
    metadata: Any = None  # CoreMetadata once read
    metadata_problem: str | None = None
    metadata_demotion: str | None = None
    checked: bool = False


@dataclass(eq=False)
class Candidate:
    offer: VersionOffer
    extras: frozenset[str] = frozenset()

    @property
    def name(self) -> str:
        return self.offer.name

    @property
    def version(self) -> Version:
        return self.offer.version

    @property
    def identifier(self) -> str:
        return identifier_for(self.name, self.extras)

    def __repr__(self) -> str:
        return f"Candidate({self.identifier} {self.version} on {self.offer.index.name})"


@dataclass
class PackageOffers:
    """All versions of one package the target could use, plus why the others were rejected."""

    name: str
    offers: list[VersionOffer]  # newest first, one per (version, index) choice
    rejected: dict[str, str]  # version -> reason it cannot be used on the target
    indexes_tried: list[str]
    found: bool


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
        direct_names: set[str],
        log: Log | None = None,
        now: datetime | None = None,
    ) -> None:
        self.client = client
        self.target = target
        self.policy = policy
        self.sources_for = sources_for
        self.advisories = advisories
        self.allowed_advisories = allowed_advisories
        self.prereleases_all = prereleases_all
        self.prerelease_packages = prerelease_packages
        self.constraints = [c for c in constraints if c.marker is None or c.marker.evaluate(target.markers)]
        self.locked = locked
        self.direct_names = direct_names
        self.log = log or (lambda _message: None)
        self.now = now or datetime.now(timezone.utc)
        self._packages: dict[str, PackageOffers] = {}
        self._dependencies: dict[tuple[str, str, str], list[Requirement]] = {}
        self.prerelease_fallback: set[str] = set()
        self.yanked_used: set[tuple[str, str]] = set()
        self.metadata_rounds = 0
        self._speculated: set[str] = set()

    # ------------------------------------------------------------ package offers

    def _pages(self, name: str) -> PackageOffers:
        known = self._packages.get(name)
        if known is not None:
            return known
        from adviser.index import PackageNotFound

        sources = self.sources_for(name)
        try:
            pages = self.client.project_pages(name, sources)
        except PackageNotFound:
            pages = []
        offers = self._build_offers(name, pages, sources)
        self._packages[name] = offers
        return offers

    def _build_offers(self, name: str, pages: list, sources: list) -> PackageOffers:
        from packaging.specifiers import SpecifierSet as _Spec

        target_version = Version(self.target.python_full_version)
        rank = self.target.tag_rank
        by_version: dict[Version, list[VersionOffer]] = {}
        rejected: dict[str, str] = {}
        rp_cache: dict[str, bool] = {}

        def python_ok(requires_python: str | None) -> bool:
            if not requires_python:
                return True
            if requires_python not in rp_cache:
                try:
                    rp_cache[requires_python] = _Spec(requires_python).contains(
                        target_version, prereleases=True
                    )
                except InvalidSpecifier:
                    rp_cache[requires_python] = True  # unreadable: the metadata check decides
            return rp_cache[requires_python]

        order = {source.url: position for position, source in enumerate(sources)}
        for page in sorted(pages, key=lambda p: order.get(p.index.url, len(order))):
            for version, files in page.versions().items():
                usable: list[tuple[int, Any]] = []
                reasons = set()
                for link in files:
                    if not python_ok(link.requires_python):
                        reasons.add(f"requires Python {link.requires_python}")
                        continue
                    if link.is_wheel:
                        try:
                            tags = link.tags
                        except ValueError:  # a wheel name with tags packaging refuses: not installable
                            reasons.add("unreadable wheel tags")
                            continue
                        best = min((rank[t] for t in tags if t in rank), default=None)
                        if best is None:
                            reasons.add("no wheel for the target platform")
                            continue
                        usable.append((best, link))
                    elif link.is_sdist:
                        usable.append((len(rank) + 1, link))
                if not usable:
                    rejected.setdefault(str(version), "; ".join(sorted(reasons)) or "no installable file")
                    continue
                usable.sort(key=lambda pair: pair[0])
                installable = [link for _rank, link in usable]
                not_yanked = [link for link in installable if not link.yanked]
                yanked = not not_yanked
                if not yanked:
                    installable = not_yanked
                wheels = [(r, link) for r, link in usable if link.is_wheel and (yanked or not link.yanked)]
                binary = any(tag.platform != "any" for _r, link in wheels for tag in link.tags)
                # ISO-8601 UTC stamps of one index share a format, so the earliest sorts first.
                stamps = [link.upload_time for link in files if link.upload_time]
                first = parse_upload_time(min(stamps)) if stamps else None
                age = (self.now - first) if first is not None else None
                advisories = self.advisories.lookup(name, version) if self.advisories else []
                blocking = [a for a in advisories if not (a.names() & self.allowed_advisories)]
                facts = VersionFacts(
                    age=age,
                    has_target_wheel=bool(wheels),
                    has_binary_wheel=binary,
                    blocking_advisories=blocking,
                    yanked=yanked,
                )
                offer = VersionOffer(name, version, page.index, files, installable, facts, advisories)
                offer.tier, offer.tier_reasons = self.policy.tier(facts)
                by_version.setdefault(version, []).append(offer)
        if self.policy.relative_tiers and by_version:
            best = min(o.tier for choices in by_version.values() for o in choices)
            for choices in by_version.values():
                for offer in choices:
                    offer.tier -= best
                    if offer.tier == 0:
                        offer.tier_reasons = []
        offers: list[VersionOffer] = []
        for version in sorted(by_version, reverse=True):
            choices = by_version[version]
            # Same version on several indexes: the source order decides, except that a better tier
            # (e.g. a binary wheel for the performance type) wins.
            choices.sort(key=lambda o: o.tier)
            offers.append(choices[0])
        return PackageOffers(
            name=name,
            offers=offers,
            rejected=rejected,
            indexes_tried=[s.name for s in sources],
            found=bool(pages),
        )

    def _prerelease_allowed(self, name: str, requirements: Sequence[Requirement]) -> bool:
        if self.prereleases_all or self.prerelease_packages.get(name):
            return True
        return any(r.specifier.prereleases for r in requirements if str(r.specifier))

    def _constraints_for(self, name: str) -> list[Any]:
        return [c for c in self.constraints if c.name == name]

    def admissible(self, name: str, requirements: Sequence[Requirement]) -> list[VersionOffer]:
        """Offers meeting every requirement and constraint, in the policy's order (before metadata)."""
        package = self._pages(name)
        constraints = self._constraints_for(name)
        exact = {r.exact_base for r in requirements if r.exact_base is not None}
        pinned = set()
        for r in requirements:
            for spec in r.specifier:
                if spec.operator in ("==", "===") and "*" not in spec.version:
                    pinned.add(spec.version)

        def fits(offer: VersionOffer) -> bool:
            if offer.checked and offer.metadata is None:
                return False  # its metadata could not be read: recorded in package.rejected
            if exact and offer.version not in exact:
                return False
            for r in requirements:
                if not r.specifier.contains(offer.version, prereleases=True):
                    return False
            for c in constraints:
                if not c.specifier.contains(offer.version, prereleases=True):
                    return False
            if offer.facts.yanked and not any(Version(p) == offer.version for p in pinned if _valid(p)):
                return False
            return True

        matching = [o for o in package.offers if fits(o)]
        if not self._prerelease_allowed(name, requirements):
            finals = [o for o in matching if not o.version.is_prerelease]
            if finals or not matching:
                matching = finals
            else:
                self.prerelease_fallback.add(name)
        locked = self.locked.get(name)
        best_tier = min((o.tier for o in matching), default=0)

        def order(item: tuple[int, VersionOffer]) -> tuple:
            newest_rank, offer = item  # offers arrive newest first
            is_locked = locked is not None and str(offer.version) == locked and offer.tier == best_tier
            return (offer.tier, not is_locked, newest_rank)

        return [offer for _rank, offer in sorted(enumerate(matching), key=order)]

    # ------------------------------------------------------------ metadata

    def _check(self, offer: VersionOffer) -> bool:
        """Read core metadata of an offer once; False (with a recorded reason) when unusable."""
        if offer.checked:
            return offer.metadata is not None
        from adviser.index import MetadataUnavailable

        offer.checked = True
        problems = []
        for link in offer.usable:
            try:
                metadata = self.client.metadata(link)
            except MetadataUnavailable as exc:
                problems.append(f"{link.filename}: {exc.reason}")
                continue
            if canonicalize_name(metadata.name) != offer.name:
                problems.append(f"{link.filename}: metadata names another project ({metadata.name})")
                continue
            if metadata.requires_python:
                try:
                    ok = SpecifierSet(metadata.requires_python).contains(
                        Version(self.target.python_full_version), prereleases=True
                    )
                except InvalidSpecifier:
                    ok = True
                if not ok:
                    problems.append(f"requires Python {metadata.requires_python}")
                    break
            offer.metadata = metadata
            offer.metadata_demotion = self.policy.metadata_rule(metadata.classifiers)
            return True
        offer.metadata_problem = "; ".join(problems) or "no usable file"
        self._packages[offer.name].rejected[str(offer.version)] = offer.metadata_problem
        return False

    def _ordered_candidates(self, offers: list[VersionOffer], extras: frozenset[str]) -> Iterator[Candidate]:
        # A version the policy's metadata rule demotes waits behind at most METADATA_LOOKAHEAD
        # older versions of its tier (reading every version's metadata would cost a request each).
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
            if not self._check(offer):
                continue
            if offer.metadata_demotion and budget > 0:
                deferred.append(offer)
                budget -= 1
                continue
            yield Candidate(offer, extras)
        for late in deferred:
            yield Candidate(late, extras)

    # ------------------------------------------------------------ resolvelib interface

    def identify(self, requirement_or_candidate: Requirement | Candidate) -> str:
        return requirement_or_candidate.identifier

    def get_preference(self, identifier, resolutions, candidates, information, backtrack_causes) -> Any:
        name, _extras = split_identifier(identifier)
        causes = {c.requirement.name for c in backtrack_causes}
        infos = list(information[identifier])
        direct = any(info.parent is None for info in infos)
        pinned = any(s.operator in ("==", "===") for info in infos for s in info.requirement.specifier)
        package = self._packages.get(name)
        count = len(package.offers) if package else 0
        return (name not in causes, not pinned, not direct, count, identifier)

    def find_matches(self, identifier, requirements, incompatibilities) -> Callable[[], Iterator[Candidate]]:
        name, extras = split_identifier(identifier)
        reqs = list(requirements[identifier])
        excluded = {(c.version, c.offer.index.url) for c in incompatibilities[identifier]}
        offers = [o for o in self.admissible(name, reqs) if (o.version, o.index.url) not in excluded]
        if extras:
            # An extras candidate must agree with what the base package can be.
            base = list(requirements.get(name, ())) if hasattr(requirements, "get") else []
            if base:
                allowed = {o.version for o in self.admissible(name, base)}
                offers = [o for o in offers if o.version in allowed]
        return lambda: self._ordered_candidates(offers, extras)

    def is_satisfied_by(self, requirement: Requirement, candidate: Candidate) -> bool:
        if requirement.exact_base is not None and candidate.version != requirement.exact_base:
            return False
        return requirement.specifier.contains(candidate.version, prereleases=True)

    def get_dependencies(self, candidate: Candidate) -> list[Requirement]:
        dependencies = self._compute_dependencies(candidate)
        self.prefetch(dependencies)
        return dependencies

    def _compute_dependencies(self, candidate: Candidate) -> list[Requirement]:
        key = (candidate.name, str(candidate.version), candidate.identifier)
        if key in self._dependencies:
            return self._dependencies[key]
        self._check(candidate.offer)
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
        base_env = dict(self.target.markers, extra="")
        for line in metadata.requires_dist if metadata is not None else ():
            try:
                parsed = PackagingRequirement(line)
            except InvalidRequirement:
                self.log(f"{candidate.name} {candidate.version}: ignoring unreadable dependency {line!r}")
                continue
            marker = parsed.marker
            if marker is not None:
                in_base = marker.evaluate(base_env)
                if candidate.extras:
                    wanted = not in_base and any(
                        marker.evaluate(dict(self.target.markers, extra=e)) for e in candidate.extras
                    )
                else:
                    wanted = in_base
                if not wanted:
                    continue
            elif candidate.extras:
                continue  # already a dependency of the base candidate
            dependencies.append(
                Requirement(
                    canonicalize_name(parsed.name),
                    frozenset(canonicalize_name(e) for e in parsed.extras),
                    parsed.specifier,
                    parent=candidate,
                    marker=strip_extra(marker) if marker is not None else None,
                    text=_requirement_text(parsed),
                )
            )
        self._dependencies[key] = dependencies
        return dependencies

    # ------------------------------------------------------------ warming the index client

    def prefetch(self, requirements: Iterable[Requirement]) -> None:
        """Warm the client breadth first: pages of unseen packages, then the metadata of the version
        each will most likely get, then the same for their dependencies, level by level. A guess
        that the resolver later overrides costs one wasted read, while a right one saves a round."""
        frontier = [r for r in requirements if r.identifier not in self._speculated]
        while frontier:
            for requirement in frontier:
                self._speculated.add(requirement.identifier)
            unseen = sorted({r.name for r in frontier if r.name not in self._packages})
            by_sources: dict[tuple, list[str]] = {}
            for name in unseen:
                by_sources.setdefault(tuple(self.sources_for(name)), []).append(name)
            for sources, names in by_sources.items():
                if len(names) > 1:
                    self.client.prefetch_pages(names, list(sources))
            likely: list[tuple[Requirement, VersionOffer]] = []
            for requirement in frontier:
                try:
                    offers = self.admissible(requirement.name, [requirement])
                except Exception:  # unknown package or unreachable index: reported when resolved
                    continue
                if offers:
                    likely.append((requirement, offers[0]))
            links = [offer.usable[0] for _r, offer in likely if not offer.checked]
            if len(links) > 1:
                self.metadata_rounds += 1
                self.client.prefetch_metadata(links)
            next_frontier: list[Requirement] = []
            for requirement, offer in likely:
                try:
                    dependencies = self._compute_dependencies(Candidate(offer, requirement.extras))
                except Exception:  # surfaces again, with context, when the resolver gets there
                    continue
                next_frontier.extend(d for d in dependencies if d.identifier not in self._speculated)
            frontier = list({d.identifier: d for d in next_frontier}.values())


def _valid(version: str) -> bool:
    try:
        Version(version)
    except ValueError:
        return False
    return True


def _requirement_text(parsed: PackagingRequirement) -> str:
    extras = f"[{','.join(sorted(parsed.extras))}]" if parsed.extras else ""
    return f"{parsed.name}{extras}{parsed.specifier}"


def marker_or_none(text: str | None) -> Marker | None:
    return Marker(text) if text else None
