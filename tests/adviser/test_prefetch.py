"""The prefetcher: threads for what must come from the index, the calling thread for what the cache has."""

from __future__ import annotations

import threading

from packaging.specifiers import SpecifierSet

from adviser.environment import build_target
from adviser.index import IndexClient, IndexSource
from adviser.policies import policy_for
from adviser.resolution.model import Requirement
from adviser.resolution.provider import AdviserProvider
from tests.support.index_server import Dist

DISTS = [
    Dist("top", "1.0", requires_dist=("left", "right")),
    Dist("left", "1.0", requires_dist=("leaf",)),
    Dist("right", "2.0", requires_dist=("leaf>=0.2",)),
    Dist("leaf", "0.2"),
]


def _prefetch_top(client: IndexClient, source: IndexSource) -> tuple[set[str], dict[str, str]]:
    """Prefetch from ``top``: the names of the threads that read dependencies, and what was read."""
    provider = AdviserProvider(
        client, build_target({"platform": "linux-x86_64", "python_version": "3.11"}), policy_for("latest"),
        sources_for=lambda _name: [source], advisories=None, allowed_advisories=set(), prereleases_all=False,
        prerelease_packages={}, constraints=[], locked={},
    )
    readers: set[str] = set()
    read_dependencies = provider.dependencies.of

    def spied(candidate, **options):
        readers.add(threading.current_thread().name)
        return read_dependencies(candidate, **options)

    provider.dependencies.of = spied
    try:
        provider.prefetch([Requirement("top", frozenset(), SpecifierSet())])
        known = {name: str(provider.package(name).offers[0].version) for name in ("top", "left", "right", "leaf")}
    finally:
        provider.close()
    return readers, known


def test_cold_reads_go_to_threads_and_cached_ones_stay_in_the_calling_thread(package_index, tmp_cache_dir):
    index = package_index(DISTS)
    source = IndexSource("main", index.url)
    expected = {"top": "1.0", "left": "1.0", "right": "2.0", "leaf": "0.2"}
    with IndexClient([source], tmp_cache_dir) as client:
        readers, known = _prefetch_top(client, source)
    assert known == expected
    assert readers and all(name.startswith("adviser-prefetch") for name in readers)
    index.clear_requests()
    with IndexClient([source], tmp_cache_dir) as client:  # the next analysis: every page fresh in the cache
        readers, known = _prefetch_top(client, source)
    assert known == expected and index.requests == []
    assert readers == {threading.current_thread().name}
    with IndexClient([source], tmp_cache_dir, force_refresh=True) as client:  # a refresh reads the index again
        readers, known = _prefetch_top(client, source)
    assert known == expected
    assert readers and all(name.startswith("adviser-prefetch") for name in readers)
