"""Fixtures shared by every test area: local package indexes and cache directories.

* ``package_index``: a factory ``make(dists, **options) -> IndexServer``; every index it starts
  is stopped when the test ends. Options are those of ``tests.support.index_server.build_index``
  (name, json_api, html_api, delay, fail_status, range_requests, absolute_urls).
* ``sample_index``: one index for the whole session serving ``SAMPLE_DISTS`` (the graph is
  documented in ``tests/support/sample_index.py``). Treat it as read-only: do not change its
  delay or failure status, use ``package_index`` for that.
* ``tmp_cache_dir``: an empty directory for a cache (adviser cache, HTTP cache, ...).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest

from tests.support.index_server import SAMPLE_DISTS, Dist, IndexServer, build_index

# postgres_server, postgres_url, private_cluster: a real PostgreSQL for the store and queue tests.
pytest_plugins = ["tests.support.postgres"]


@pytest.fixture
def package_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., IndexServer]]:
    root = tmp_path_factory.mktemp("indexes")
    started: list[IndexServer] = []

    def make(dists: Iterable[Dist], **options: object) -> IndexServer:
        options.setdefault("name", f"index{len(started)}" if started else "main")
        server = build_index(dists, root=root, **options)  # type: ignore[arg-type]
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndexServer]:
    server = build_index(SAMPLE_DISTS, name="sample", root=tmp_path_factory.mktemp("sample-index"))
    yield server
    server.stop()


@pytest.fixture
def tmp_cache_dir(tmp_path: Path) -> Path:
    cache = tmp_path / "cache"
    cache.mkdir()
    return cache
