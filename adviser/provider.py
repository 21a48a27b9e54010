"""The resolvelib provider: which candidates a requirement has, in which order, with which reasons.

Recommendation policy lives here (through ``adviser.policies``), never in the resolution loop.
The provider reads indexes only through ``IndexClient`` and warms it ahead of the resolver: when
a candidate's dependencies become known, their pages are fetched in parallel, then the metadata of
the version each of them will most likely get, then their dependencies, each branch as soon as its
parent is known, so the wait follows the longest chain of the graph rather than its size.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
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
from adviser.index.core_metadata import parse_requirement
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
    metadata_demotion: str | None = None
    checked: bool = False
    direct: Any = None  # adviser.direct.DirectPackage for a local path or git package


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
    """All versions of one package (newest first), plus why some cannot be used on the target."""

    name: str
    offers: list[VersionOffer]
    rejected: dict[str, str]  # version -> reason it cannot be used on the target
    indexes_tried: list[str]
    found: bool
    tiers_relative: bool = False


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
        self.log = log or (lambda _message: None)
        self.now = now or datetime.now(timezone.utc)
        self._packages: dict[str, PackageOffers] = {}
        self._dependencies: dict[tuple[str, str, str], list[Requirement]] = {}
        self.prerelease_fallback: set[str] = set()
        self.prefetch_rounds = 0
        self.prefetch_workers = max(1, prefetch_workers)
        self._locks_lock = threading.Lock()
        self._name_locks: dict[str, threading.Lock] = {}
        self._speculated: set[str] = set()
        self._requires_python: dict[str, bool] = {}
        self._markers: dict[tuple[str, str], bool] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._target_version = Version(target.python_full_version)

    # ------------------------------------------------------------ package offers

    def add_direct(self, packages: Mapping[str, Any]) -> None:
        """Local path and git packages (adviser.direct): the only candidate of their name, exactly
        their version and dependencies, no index asked (a direct reference wins, as in pip)."""
        for name, package in packages.items():
            facts = VersionFacts(age=None, has_target_wheel=False, has_binary_wheel=False,
                                 blocking_advisories=[], yanked=False)
            offer = VersionOffer(name, package.version, choices=[], judged=True, installable=True,
                                 index=package.index, facts=facts, metadata=package.metadata, checked=True,
                                 direct=package)
            self._packages[name] = PackageOffers(name, [offer], {}, [package.origin], found=True, tiers_relative=True)

    def _pages(self, name: str) -> PackageOffers:
        known = self._packages.get(name)
        if known is not None:
            return known
        from adviser.index import PackageNotFound

        # Prefetch threads may ask for the same package: one builds it, the others wait for it.
        with self._locks_lock:
            lock = self._name_locks.setdefault(name, threading.Lock())
        with lock:
            known = self._packages.get(name)
            if known is not None:
                return known
            sources = self.sources_for(name)
            try:
                pages = self.client.project_pages(name, sources)
            except PackageNotFound:
                pages = []
            offers = self._build_offers(name, pages, sources)
            self._packages[name] = offers
            return offers

    def _build_offers(self, name: str, pages: list, sources: list) -> PackageOffers:
        """Group files by version (from their names alone); judging waits until a version is used."""
        order = {source.url: position for position, source in enumerate(sources)}
        by_version: dict[Version, list] = {}
        for page in sorted(pages, key=lambda p: order.get(p.index.url, len(order))):
            # Several spellings of one version ("1.0", "1.0.0") share a Version. Files are decoded
            # only when the version is judged (VersionFiles).
            grouped: dict[Version, list[str]] = {}
            for text in page.version_texts():
                version = _parsed_version(text)
                if version is not None:
                    grouped.setdefault(version, []).append(text)
            for version, texts in grouped.items():
                by_version.setdefault(version, []).append((page.index, VersionFiles(page, texts)))
        offers = [
            VersionOffer(name, version, by_version[version]) for version in sorted(by_version, reverse=True)
        ]
        return PackageOffers(
            name=name, offers=offers, rejected={}, indexes_tried=[s.name for s in sources], found=bool(pages)
        )

    def _python_ok(self, requires_python: str | None) -> bool:
        if not requires_python:
            return True
        known = self._requires_python.get(requires_python)
        if known is None:
            try:
                known = SpecifierSet(requires_python).contains(self._target_version, prereleases=True)
            except InvalidSpecifier:
                known = True  # unreadable here: the metadata check decides
            self._requires_python[requires_python] = known
        return known

    def _judge(self, offer: VersionOffer) -> bool:
        """Work out (once) which index and files a version would use, its facts and its tier."""
        if offer.judged:
            return offer.installable
        rank = self.target.tag_rank
        judged: list[tuple[int, Any, list, list, VersionFacts, list]] = []
        reasons: set[str] = set()
        for index, version_files in offer.choices:
            files = version_files.files()
            usable: list[tuple[int, Any]] = []
            for link in files:
                if not self._python_ok(link.requires_python):
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
                continue
            usable.sort(key=lambda pair: pair[0])
            not_yanked = [(r, link) for r, link in usable if not link.yanked]
            yanked = not not_yanked
            if not yanked:
                usable = not_yanked
            wheels = [link for _r, link in usable if link.is_wheel]
            binary = any(tag.platform != "any" for link in wheels for tag in link.tags)
            # ISO-8601 UTC stamps of one index share a format, so the earliest sorts first.
            stamps = [link.upload_time for link in files if link.upload_time]
            first = parse_upload_time(min(stamps)) if stamps else None
            advisories = self.advisories.lookup(offer.name, offer.version) if self.advisories else []
            blocking = [a for a in advisories if not (a.names() & self.allowed_advisories)]
            facts = VersionFacts(
                age=(self.now - first) if first is not None else None,
                has_target_wheel=bool(wheels),
                has_binary_wheel=binary,
                blocking_advisories=blocking,
                yanked=yanked,
            )
            tier, tier_reasons = self.policy.tier(facts)
            judged.append(
                (tier, index, files, [link for _r, link in usable], facts, advisories, tier_reasons)
            )
        if not judged:
            self._packages[offer.name].rejected.setdefault(
                str(offer.version), "; ".join(sorted(reasons)) or "no installable file"
            )
            offer.judged = True
            return False
        # Same version on several indexes: the source order decides, except that a better tier
        # (e.g. a binary wheel for the performance type) wins.
        judged.sort(key=lambda item: item[0])
        tier, index, files, usable_links, facts, advisories, tier_reasons = judged[0]
        offer.installable = True
        offer.index, offer.files, offer.usable, offer.facts = index, files, usable_links, facts
        offer.advisories, offer.tier, offer.tier_reasons = advisories, tier, tier_reasons
        offer.judged = True  # last: other threads read the fields above once this is set
        return True

    def judge_all(self, name: str) -> PackageOffers:
        """Judge every version of a package (explanations and relative tiers need them all)."""
        package = self._pages(name)
        for offer in package.offers:
            self._judge(offer)
        return package

    def _relative_tiers(self, package: PackageOffers) -> None:
        if package.tiers_relative:
            return
        with self._name_locks[package.name]:
            if package.tiers_relative:
                return
            self.judge_all(package.name)
            best = min((o.tier for o in package.offers if o.installable), default=0)
            for offer in package.offers:
                if offer.installable:
                    offer.tier -= best
                    if offer.tier == 0:
                        offer.tier_reasons = []
            package.tiers_relative = True

    def _prerelease_allowed(self, name: str, requirements: Sequence[Requirement]) -> bool:
        if self.prereleases_all or self.prerelease_packages.get(name):
            return True
        return any(r.specifier.prereleases for r in requirements if str(r.specifier))

    def _constraints_for(self, name: str) -> list[Any]:
        return [c for c in self.constraints if c.name == name]

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
        package = self._pages(name)
        if self.policy.relative_tiers:
            self._relative_tiers(package)
        constraints = self._constraints_for(name)
        exact = {r.exact_base for r in requirements if r.exact_base is not None}
        pinned = set()
        for r in requirements:
            for spec in r.specifier:
                if spec.operator in ("==", "===") and "*" not in spec.version and _valid(spec.version):
                    pinned.add(Version(spec.version))

        def fits_version(version: Version) -> bool:
            if exact and version not in exact:
                return False
            if not all(r.specifier.contains(version, prereleases=True) for r in requirements):
                return False
            return all(c.specifier.contains(version, prereleases=True) for c in constraints)

        def usable(offer: VersionOffer) -> bool:
            if not self._judge(offer):
                return False
            if offer.checked and offer.metadata is None:
                return False  # its metadata could not be read: recorded in package.rejected
            if (offer.version, offer.index.url) in excluded:
                return False
            return not offer.facts.yanked or offer.version in pinned

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
        if self._prerelease_allowed(name, requirements):
            yield from self._tier_order(fitting(None), locked, usable)
            return
        found = False
        for offer in self._tier_order(fitting(False), locked, usable):
            found = True
            yield offer
        if not found:
            # No final release fits: pre-releases are acceptable then (as pip does), with a warning.
            for offer in self._tier_order(fitting(True), locked, usable):
                self.prerelease_fallback.add(name)
                yield offer

    @staticmethod
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

    # ------------------------------------------------------------ metadata

    def _check(self, offer: VersionOffer, may_build: bool = True) -> bool:
        """Read core metadata of an offer once; False (with a recorded reason) when unusable.

        Results are published before ``checked`` is set, so a prefetch thread never sees a
        half-checked offer (two threads may both read it; the index client serves one request).
        A speculative look (``may_build`` False) never builds an sdist: when only a build can
        tell, the offer stays unchecked for the resolver's own look."""
        if offer.checked:
            return offer.metadata is not None
        from adviser.index import MetadataUnavailable
        from adviser.index.errors import NeedsBuild

        problems = []
        build_for = self.target.python_version if may_build else None
        for link in offer.usable:
            try:
                metadata = self.client.metadata(link, build_for=build_for)
            except NeedsBuild:
                if not may_build:
                    return False
                raise  # not expected: the client goes on to a build when build_for is given
            except MetadataUnavailable as exc:
                problems.append(f"{link.filename}: {exc.reason}")
                continue
            if canonicalize_name(metadata.name) != offer.name:
                problems.append(f"{link.filename}: metadata names another project ({metadata.name})")
                continue
            if metadata.requires_python and not self._python_ok(metadata.requires_python):
                problems.append(f"requires Python {metadata.requires_python}")
                break
            offer.metadata_demotion = self.policy.metadata_rule(metadata.classifiers)
            offer.metadata = metadata
            offer.checked = True
            return True
        offer.metadata_problem = "; ".join(problems) or "no usable file"
        self._packages[offer.name].rejected[str(offer.version)] = offer.metadata_problem
        offer.checked = True
        return False

    def _ordered_candidates(
        self, offers: Iterable[VersionOffer], extras: frozenset[str]
    ) -> Iterator[Candidate]:
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
        base = list(requirements.get(name, ())) if extras else []

        def agrees_with_base(offer: VersionOffer) -> bool:
            # An extras candidate must agree with what the base package can be.
            return all(
                r.specifier.contains(offer.version, prereleases=True)
                and (r.exact_base is None or r.exact_base == offer.version)
                for r in base
            )

        def candidates() -> Iterator[Candidate]:
            offers = self.iter_admissible(name, reqs, excluded)
            return self._ordered_candidates((o for o in offers if agrees_with_base(o)), extras)

        return candidates

    def is_satisfied_by(self, requirement: Requirement, candidate: Candidate) -> bool:
        if requirement.exact_base is not None and candidate.version != requirement.exact_base:
            return False
        return requirement.specifier.contains(candidate.version, prereleases=True)

    def get_dependencies(self, candidate: Candidate) -> list[Requirement]:
        dependencies = self._compute_dependencies(candidate)
        self.prefetch(dependencies)
        return dependencies

    def _compute_dependencies(self, candidate: Candidate, may_build: bool = True) -> list[Requirement]:
        key = (candidate.name, str(candidate.version), candidate.identifier)
        if key in self._dependencies:
            return self._dependencies[key]
        if not self._check(candidate.offer, may_build) and not candidate.offer.checked:
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
            try:
                parsed = parse_requirement(line)
            except InvalidRequirement:
                self.log(f"{candidate.name} {candidate.version}: ignoring unreadable dependency {line!r}")
                continue
            marker = parsed.marker
            if marker is not None:
                in_base = self._marker_holds(line, marker, "")
                if candidate.extras:
                    wanted = not in_base and any(
                        self._marker_holds(line, marker, e) for e in candidate.extras
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
        return self._dependencies.setdefault(key, dependencies)

    def _marker_holds(self, line: str, marker: Marker, extra: str) -> bool:
        """Whether a dependency's marker holds on the target with ``extra``; memoized per line."""
        key = (line, extra)
        holds = self._markers.get(key)
        if holds is None:
            holds = self._markers[key] = marker.evaluate(dict(self.target.markers, extra=extra))
        return holds

    # ------------------------------------------------------------ warming the index client

    def prefetch(self, requirements: Iterable[Requirement]) -> None:
        """Warm the client ahead of the resolver, pipelined: for each requirement, a thread reads the
        package's page, picks the version it will most likely get, reads that version's metadata
        and queues its dependencies the same way. Reads thus overlap along every branch of the
        graph, and the wait is about the longest chain, not the sum of the levels. A guess that the
        resolver later overrides costs one wasted read, while a right one saves a round."""
        lock = threading.Lock()
        futures: list[Future] = []
        pool = self._prefetch_pool()

        def visit(requirement: Requirement) -> None:
            try:
                offer = next(self.iter_admissible(requirement.name, [requirement]), None)
                if offer is None:
                    return
                dependencies = self._compute_dependencies(
                    Candidate(offer, requirement.extras), may_build=False
                )
            except Exception:  # unknown package, unreachable index...: reported when the resolver gets there
                return
            for dependency in dependencies:
                submit(dependency)

        def submit(requirement: Requirement) -> None:
            with lock:
                if requirement.identifier in self._speculated:
                    return
                self._speculated.add(requirement.identifier)
                futures.append(pool.submit(visit, requirement))

        def wait_for_all() -> None:
            done = 0
            while True:  # visits add futures while they run: wait until none is left
                with lock:
                    if done == len(futures):
                        return
                    future = futures[done]
                wait([future])
                done += 1

        try:
            for requirement in requirements:
                submit(requirement)
        finally:
            wait_for_all()
            # visit and submit refer to each other (and to self): without this the whole
            # provider would stay in a reference cycle, left for the garbage collector.
            visit = submit = None  # type: ignore[assignment]  # noqa: F841
        self.prefetch_rounds += 1

    def _prefetch_pool(self) -> ThreadPoolExecutor:
        # One pool for every prefetch of this provider (it runs after each resolver step).
        with self._locks_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.prefetch_workers, thread_name_prefix="adviser-prefetch")
            return self._pool

    def close(self) -> None:
        """Stop the prefetch threads (the provider's answers stay usable)."""
        with self._locks_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)


class VersionFiles:
    """The files of one version on one index, decoded from the page on first use (in page order)."""

    __slots__ = ("_page", "_texts", "_files")

    def __init__(self, page: Any, texts: list[str]) -> None:
        self._page = page
        self._texts = texts
        self._files: list | None = None

    def files(self) -> list:
        if self._files is None:
            self._files = self._page.files_of(self._texts)  # two threads may both decode: same result
        return self._files


_VERSIONS: dict[str, Version | None] = {}


def _parsed_version(text: str) -> Version | None:
    """``Version(text)``, or None when invalid; memoized (the same strings recur across pages)."""
    if text not in _VERSIONS:
        if len(_VERSIONS) > 200_000:  # a long-running server: keep the memo bounded
            _VERSIONS.clear()
        try:
            _VERSIONS[text] = Version(text)
        except ValueError:
            _VERSIONS[text] = None
    return _VERSIONS[text]


def _valid(version: str) -> bool:
    try:
        Version(version)
    except ValueError:
        return False
    return True


def _requirement_text(parsed: PackagingRequirement) -> str:
    extras = f"[{','.join(sorted(parsed.extras))}]" if parsed.extras else ""
    return f"{parsed.name}{extras}{parsed.specifier}"
