"""Offers: the versions of a package read from its index pages, and judging them for the target.

Pages are grouped by version from the file names alone; a version is judged (which files the
target can install, its facts, its tier) and checked (its core metadata) only when the resolver
or the prefetch looks at it, since big projects list thousands of files.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from adviser.environment import TargetEnvironment
from adviser.policies import VersionFacts, parse_upload_time
from adviser.resolution.model import PackageOffers, VersionOffer
from adviser.resolution.units import DecisionUnit


class OfferBook:
    """Every package's offers met in one resolution, built once (thread-safe) and judged lazily."""

    def __init__(
        self,
        client: Any,
        target: TargetEnvironment,
        unit: DecisionUnit,
        *,
        sources_for: Callable[[str], list],
        advisories: Any,
        allowed_advisories: set[str],
        now: datetime,
        own_sources: list | None = None,
    ) -> None:
        self.client = client
        # The project's own indexes: a package one of them has is never taken from another index.
        self.own_urls = {source.url.rstrip("/") for source in own_sources or ()}
        self.target = target
        self.unit = unit
        self.sources_for = sources_for
        self.advisories = advisories
        self.allowed_advisories = allowed_advisories
        self.now = now
        self._packages: dict[str, PackageOffers] = {}
        self._locks_lock = threading.Lock()
        self._name_locks: dict[str, threading.Lock] = {}
        self._requires_python: dict[str, bool] = {}
        self._target_version = Version(target.python_full_version)

    def known(self, name: str) -> PackageOffers | None:
        """The package's offers if it was read already (never reads an index)."""
        return self._packages.get(name)

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

    def pages(self, name: str) -> PackageOffers:
        """The package's offers, reading its pages on first use."""
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
            own = [page for page in pages if page.index.url.rstrip("/") in self.own_urls]
            if own:  # dependency confusion: other indexes only supply what the project's do not have
                pages = own
            offers = _build_offers(name, pages, sources)
            self._packages[name] = offers
            return offers

    def cached(self, name: str) -> bool:
        """Whether the package's offers can be had without a request (read already, or fresh pages)."""
        return name in self._packages or self.client.pages_are_cached(name, self.sources_for(name))

    def python_ok(self, requires_python: str | None) -> bool:
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

    def judge(self, offer: VersionOffer) -> bool:
        """Work out (once) which index and files a version would use, its facts and its tier."""
        if offer.judged:
            return offer.installable
        judged: list[tuple[int, Any, list, list, VersionFacts, list, list[str]]] = []
        reasons: set[str] = set()
        for index, version_files in offer.choices:
            files = version_files.files()
            usable = self._usable_files(files, reasons)
            if not usable:
                continue
            facts, advisories = self._facts(offer, files, usable)
            tier, tier_reasons = self.unit.tier(facts)
            judged.append((tier, index, files, usable, facts, advisories, tier_reasons))
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

    def _usable_files(self, files: list, reasons: set[str]) -> list:
        """The files of one version on one index the target can install, best first (not yanked
        ones when there are any); why the others cannot be used goes to ``reasons``."""
        rank = self.target.tag_rank
        usable: list[tuple[int, Any]] = []
        for link in files:
            if not self.python_ok(link.requires_python):
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
        usable.sort(key=lambda pair: pair[0])
        not_yanked = [(r, link) for r, link in usable if not link.yanked]
        return [link for _r, link in (not_yanked or usable)]

    def _facts(self, offer: VersionOffer, files: list, usable: list) -> tuple[VersionFacts, list]:
        """What public data says about the version on one index, and every advisory affecting it."""
        wheels = [link for link in usable if link.is_wheel]
        binary = any(tag.platform != "any" for link in wheels for tag in link.tags)
        # ISO-8601 UTC stamps of one index share a format, so the earliest sorts first.
        stamps = [link.upload_time for link in files if link.upload_time]
        first = parse_upload_time(min(stamps)) if stamps else None
        advisories = self.advisories.lookup(offer.name, offer.version) if self.advisories else []
        facts = VersionFacts(
            age=(self.now - first) if first is not None else None,
            has_target_wheel=bool(wheels),
            has_binary_wheel=binary,
            blocking_advisories=[a for a in advisories if not (a.names() & self.allowed_advisories)],
            yanked=all(link.yanked for link in usable),
        )
        return facts, advisories

    def judge_all(self, name: str) -> PackageOffers:
        """Judge every version of a package (explanations and relative tiers need them all)."""
        package = self.pages(name)
        for offer in package.offers:
            self.judge(offer)
        return package

    def make_tiers_relative(self, package: PackageOffers) -> None:
        """Count the package's tiers from the best one it offers (once)."""
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

    def check(self, offer: VersionOffer, may_build: bool = True) -> bool:
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
            if metadata.requires_python and not self.python_ok(metadata.requires_python):
                problems.append(f"requires Python {metadata.requires_python}")
                break
            offer.metadata_demotion = self.unit.demote(metadata)
            offer.metadata = metadata
            offer.checked = True
            return True
        if may_build and problems and self._borrow_wheel_metadata(offer, "; ".join(problems)):
            offer.checked = True
            return True
        offer.metadata_problem = "; ".join(problems) or "no usable file"
        self._packages[offer.name].rejected[str(offer.version)] = offer.metadata_problem
        offer.checked = True
        return False

    def _borrow_wheel_metadata(self, offer: VersionOffer, problem: str) -> bool:
        """Use the metadata of another platform's wheel of the same version when the target's only
        file is an sdist whose metadata could not be built (as uv does when it resolves for another
        platform): the files of one release normally declare the same dependencies. The report
        warns that installing it on the target still needs that build."""
        from adviser.index import MetadataUnavailable

        if any(link.is_wheel for link in offer.usable) or not _build_problem(problem):
            return False
        others = [link for link in offer.files if link.is_wheel and self.python_ok(link.requires_python)]
        others.sort(key=_closeness)
        for link in others[:3]:
            try:
                metadata = self.client.metadata(link)
            except MetadataUnavailable:
                continue
            if canonicalize_name(metadata.name) != offer.name:
                continue
            offer.metadata_demotion = self.unit.demote(metadata)
            offer.metadata, offer.metadata_borrowed_from = metadata, f"{link.filename} ({problem})"
            return True
        return False


def _build_problem(problem: str) -> bool:
    """True when the sdist's metadata failed only for want of a (working) build."""
    return "building its metadata failed" in problem or "without building it" in problem


def _closeness(link: Any) -> tuple[bool, int]:
    """Sort key: wheels that do not depend on one interpreter (none, abi3) first, then the newest Python."""
    try:
        tags = list(link.tags)
    except ValueError:
        return (True, 0)
    generic = any(tag.abi in ("none", "abi3") for tag in tags)
    newest = max((int(tag.interpreter[2:]) for tag in tags if tag.interpreter[2:].isdigit()), default=0)
    return (not generic, -newest)


def _build_offers(name: str, pages: list, sources: list) -> PackageOffers:
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
    offers = [VersionOffer(name, version, by_version[version]) for version in sorted(by_version, reverse=True)]
    return PackageOffers(
        name=name, offers=offers, rejected={}, indexes_tried=[s.name for s in sources], found=bool(pages)
    )


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
