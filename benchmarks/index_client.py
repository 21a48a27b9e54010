"""Time the index client alone: the floor any resolver pays against the configured index.

    python benchmarks/index_client.py flask requests [--cache-dir DIR] [--python 3.11]

Crawls the dependency graph of the given projects breadth first, taking the latest final release
of each and reading one page and one file's metadata per project (in as many parallel rounds as
the graph is deep). It runs twice: cold (fresh cache directory unless one is given) and warm (same
cache), and prints wall time, packages, rounds and the client's traffic summary.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from adviser.index.client import IndexClient
from adviser.index.errors import IndexAccessError
from adviser.index.models import FileLink, ProjectPage
from adviser.index.sources import IndexSource, default_index_source


def best_file(page: ProjectPage) -> FileLink | None:
    """A file of the newest final release: a pure-Python wheel, else any wheel, else the sdist."""
    versions = {v: files for v, files in page.versions().items() if not v.is_prerelease}
    if not versions:
        return None
    files = [f for f in versions[max(versions)] if not f.yanked]
    for usable in (
        lambda f: f.is_wheel and f.filename.endswith("-none-any.whl"),
        lambda f: f.is_wheel,
        lambda f: f.is_sdist,
    ):
        chosen = [f for f in files if usable(f)]
        if chosen:
            return chosen[0]
    return None


def crawl(client: IndexClient, source: IndexSource, roots: list[str], python: str) -> tuple[int, int]:
    """(projects read, rounds) of a breadth-first crawl from ``roots``."""
    environment = {
        **default_environment(),
        "python_version": python,
        "python_full_version": f"{python}.0",
        "extra": "",
    }
    seen = {canonicalize_name(name) for name in roots}
    frontier, rounds = sorted(seen), 0
    while frontier:
        rounds += 1
        client.prefetch_pages(frontier, [source])
        links = []
        for name in frontier:
            try:
                link = best_file(client.project_page(source, name))
            except IndexAccessError:
                continue
            if link is not None:
                links.append(link)
        client.prefetch_metadata(links)
        following: set[str] = set()
        for link in links:
            try:
                requirements = client.metadata(link).requires_dist
            except IndexAccessError:
                continue
            for text in requirements:
                requirement = Requirement(text)
                if requirement.marker is None or requirement.marker.evaluate(environment):
                    following.add(canonicalize_name(requirement.name))
        frontier = sorted(following - seen)
        seen |= following
    return len(seen), rounds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("projects", nargs="+")
    parser.add_argument("--cache-dir", type=Path, help="cache directory (default: a fresh temporary one)")
    parser.add_argument("--python", default="3.11", help="python_version for markers (default 3.11)")
    parser.add_argument("--max-workers", type=int, default=16)
    args = parser.parse_args(argv)
    source = default_index_source()
    cache_dir = args.cache_dir or Path(tempfile.mkdtemp(prefix="index-bench-"))
    print(f"index {source.url}, cache {cache_dir}")
    for label in ("cold", "warm"):
        started = time.perf_counter()
        with IndexClient([source], cache_dir, max_workers=args.max_workers) as client:
            packages, rounds = crawl(client, source, args.projects, args.python)
            elapsed = time.perf_counter() - started
            print(f"{label}: {elapsed * 1000:.0f} ms for {packages} projects in {rounds} rounds")
            print(f"  {client.summary()}")


if __name__ == "__main__":
    main()
