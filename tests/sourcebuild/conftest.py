"""Fixtures for sourcebuild: one local index on 127.0.0.1 (behind basic authentication, like a
private index) serving setuptools, a tiny PEP 517 backend published as a wheel, and a helper
package that backend asks for; and an empty folder for each build's temporary directory.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import sourcebuild
from tests.sourcebuild.projects import BACKEND_MODULES, embedded_setuptools_wheels, write_wheel
from tests.support.index_server import Dist, IndexServer, build_index

INDEX_USER = "builder"
INDEX_PASSWORD = "ix-Pass99secret"


@pytest.fixture(scope="session")
def source_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndexServer]:
    root = tmp_path_factory.mktemp("sourcebuild-index")
    server = build_index([Dist("tiny-helper", "1.4")], name="builds", root=root,
                         basic_auth=(INDEX_USER, INDEX_PASSWORD))
    backend = write_wheel(root / "prebuilt", "tiny_backend", "0.1", BACKEND_MODULES)
    server.add_wheel_files([*embedded_setuptools_wheels(), backend])
    yield server
    server.stop()


@pytest.fixture(scope="session")
def indexes(source_index: IndexServer) -> sourcebuild.IndexConfig:
    """The index with its credentials in the URL, as a user configures a private index."""
    url = source_index.url.replace("http://", f"http://{INDEX_USER}:{INDEX_PASSWORD}@")
    return sourcebuild.IndexConfig(index_url=url)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """Where a build makes its temporary folder; tests check it is empty afterwards."""
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


def leftovers(workdir: Path) -> list[str]:
    return sorted(path.name for path in workdir.iterdir())
