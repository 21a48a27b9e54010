"""Sdists whose dependencies only a build tells: built (sandboxed, by sourcebuild) when the resolver
looks at them, cached for good per sdist and target Python, and explained in the report.

Every index here also serves setuptools (virtualenv's embedded wheels), so the builds install
their build requirements from the same local index as the resolution, as on a real server.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

import sourcebuild
from adviser import AdviserSettings, advise
from adviser.environment import build_target
from adviser.index import IndexClient, IndexSource
from adviser.index.builds import BuildOptions
from adviser.index.errors import NeedsBuild
from adviser.policies import policy_for
from adviser.resolution.model import Requirement
from adviser.resolution.provider import AdviserProvider
from tests.adviser.engine_support import locked_versions, messages, pipfile, product
from tests.support.index_server import Dist
from tests.support.source_projects import setuptools_wheels

# setup.py computes its dependencies from the Python running it: only a build for the target's
# interpreter tells which ones the target gets.
COMPUTED_SETUP_PY = """\
import sys
from setuptools import setup

extra = "modern-helper" if sys.version_info >= (3, 10) else "legacy-helper"
setup(name="computed", version="1.0", packages=["computed"], install_requires=["signals>=1.0", extra])
"""
FAILING_SETUP_PY = """\
import sys
sys.exit("Error: pg_config executable not found.")
"""


@pytest.fixture
def build_index(package_index):
    def make(dists):
        server = package_index(dists)
        server.add_wheel_files(setuptools_wheels())
        return server

    return make


def resolve(
    index, packages: str, cache_dir: Path, *, python: str = "3.11", **settings
) -> tuple[dict, list[str]]:
    """Advise ``packages`` from ``index`` for Linux and Python ``python``; (document, log lines)."""
    lines: list[str] = []
    request = {
        "application_stack": {"requirements": pipfile([("main", index.url)], packages)},
        "runtime_environment": {"platform": "linux-x86_64", "python_version": python},
        "recommendation_type": "latest",
    }
    document = advise(request, AdviserSettings(cache_dir=cache_dir, **settings), log=lines.append)
    return document, lines


def builds_in(lines: list[str]) -> list[str]:
    """The "<name> <version>" of every build the log reports as started."""
    prefix = "building metadata of "
    return [
        line[len(prefix) :].split(" (sdist) with ")[0]
        for line in lines
        if line.startswith(prefix) and " (sdist) with " in line
    ]


def test_dynamic_sdist_is_resolved_with_its_built_dependencies_and_built_once(build_index, tmp_cache_dir):
    index = build_index(
        [
            Dist("dyn", "1.0", requires_dist=("signals>=1.0",), wheel=False, dynamic_deps=True),
            Dist("signals", "1.0"),
            Dist("signals", "1.1"),
        ]
    )
    document, lines = resolve(index, 'dyn = "*"', tmp_cache_dir)
    assert locked_versions(document) == {"dyn": "1.0", "signals": "1.1"}
    assert builds_in(lines) == ["dyn 1.0"]
    assert any(line.startswith("built metadata of dyn 1.0 in ") for line in lines)
    built = [m for m in messages(document, "INFO") if "dependencies read by building" in m]
    assert built == [
        m for m in built if m.startswith("dyn 1.0: dependencies read by building its sdist's metadata")
    ]
    assert len(built) == 1 and "CPython 3.11." in built[0] and "kept from an earlier build" not in built[0]
    # The lock still names the sdist by its hash, as pip --require-hashes needs it.
    entry = product(document)["project"]["requirements_locked"]["default"]["dyn"]
    assert entry["hashes"] == [f"sha256:{index.files['dyn-1.0.tar.gz'].sha256}"]

    again, lines = resolve(index, 'dyn = "*"', tmp_cache_dir)
    assert locked_versions(again) == {"dyn": "1.0", "signals": "1.1"}
    assert builds_in(lines) == []
    assert any("0 built from sdists (1 builds from cache" in line for line in lines)
    assert any(
        m.startswith("dyn 1.0: dependencies read by building") and "kept from an earlier build" in m
        for m in messages(again, "INFO")
    )


def test_dependencies_computed_by_setup_py_follow_the_target_python(build_index, tmp_cache_dir):
    index = build_index(
        [
            Dist("computed", "1.0", wheel=False, setup_py=COMPUTED_SETUP_PY),
            Dist("signals", "1.0"),
            Dist("modern-helper", "1.0"),
            Dist("legacy-helper", "1.0"),
        ]
    )
    document, lines = resolve(index, 'computed = "*"', tmp_cache_dir, python="3.11")
    assert locked_versions(document) == {"computed": "1.0", "signals": "1.0", "modern-helper": "1.0"}
    assert [line for line in lines if line.startswith("building metadata of computed 1.0")][0].count(
        "CPython 3.11."
    )

    # Another target Python is another build (another cache entry), made by that Python when found.
    older = sourcebuild.find_interpreter("3.9")
    document, lines = resolve(index, 'computed = "*"', tmp_cache_dir, python="3.9")
    assert builds_in(lines) == ["computed 1.0"]
    warnings = [m for m in messages(document, "WARNING") if "interpreter was available" in m]
    if older.matched:
        assert locked_versions(document)["legacy-helper"] == "1.0" and warnings == []
    else:  # a machine without Python 3.9: the fallback is said to differ from the target
        assert warnings and "no Python 3.9 interpreter" in warnings[0]


def test_a_failing_build_makes_the_resolver_take_an_older_version_and_says_why(build_index, tmp_cache_dir):
    index = build_index(
        [
            Dist("pgish", "2.0", wheel=False, setup_py=FAILING_SETUP_PY),
            Dist("pgish", "1.0", requires_dist=("signals",)),
            Dist("signals", "1.0"),
        ]
    )
    document, lines = resolve(index, 'pgish = "*"', tmp_cache_dir)
    assert locked_versions(document) == {"pgish": "1.0", "signals": "1.0"}
    assert builds_in(lines) == ["pgish 2.0"]
    assert any("building metadata of pgish 2.0 failed after" in line for line in lines)
    [warning] = [m for m in messages(document, "WARNING") if m.startswith("pgish 2.0 was not used: ")]
    # The reason names the step that failed (sourcebuild's words), then the line to act on.
    assert warning.startswith("pgish 2.0 was not used: pgish-2.0.tar.gz: building its metadata failed: ")
    assert warning.endswith("failed: pg_config executable not found")
    # A permanent failure is kept: the next resolution does not build it again.
    again, lines = resolve(index, 'pgish = "*"', tmp_cache_dir)
    assert locked_versions(again) == {"pgish": "1.0", "signals": "1.0"} and builds_in(lines) == []
    assert any("pg_config executable not found" in m for m in messages(again, "WARNING"))


def test_only_failures_left_is_an_error_document_naming_the_failure(build_index, tmp_cache_dir):
    index = build_index([Dist("pgish", "2.0", wheel=False, setup_py=FAILING_SETUP_PY)])
    document, _lines = resolve(index, 'pgish = "*"', tmp_cache_dir)
    assert document["error"] is True
    assert "pgish" in document["error_msg"] and "pg_config executable not found" in document["error_msg"]
    assert "Traceback" not in document["error_msg"]


def test_after_three_failed_builds_older_versions_of_that_package_are_not_built(build_index, tmp_cache_dir):
    versions = ["1.6", "1.5", "1.4", "1.3", "1.2"]
    index = build_index(
        [Dist("oldgrpc", v, wheel=False, setup_py=FAILING_SETUP_PY) for v in versions]
        + [Dist("oldgrpc", "1.0", requires_dist=("signals",)), Dist("signals", "1.0")]
    )
    document, lines = resolve(index, 'oldgrpc = "*"', tmp_cache_dir)
    # Three builds fail; the other sdist-only versions are given up without a build, and the
    # resolver still reaches the version that has a wheel.
    assert builds_in(lines) == ["oldgrpc 1.6", "oldgrpc 1.5", "oldgrpc 1.4"]
    assert locked_versions(document) == {"oldgrpc": "1.0", "signals": "1.0"}
    skipped = [m for m in messages(document, "WARNING") if m.startswith("oldgrpc 1.3 was not used: ")]
    assert skipped and "the builds of 3 newer versions of oldgrpc failed" in skipped[0]


def test_an_unbuildable_sdist_borrows_the_dependencies_of_another_platforms_wheel(build_index, tmp_cache_dir):
    index = build_index(
        [
            Dist("oldnative", "1.27", setup_py=FAILING_SETUP_PY, requires_dist=("signals",),
                 wheel_tags=["cp38-cp38-manylinux_2_17_x86_64"]),
            Dist("oldnative", "1.26", requires_dist=("signals",)),
            Dist("signals", "1.0"),
        ]
    )
    document, lines = resolve(index, 'oldnative = "<1.28"', tmp_cache_dir)
    assert builds_in(lines) == ["oldnative 1.27"]
    assert locked_versions(document) == {"oldnative": "1.27", "signals": "1.0"}
    [warning] = [m for m in messages(document, "WARNING") if m.startswith("oldnative 1.27: no file for the target")]
    assert "oldnative-1.27-cp38-cp38-manylinux_2_17_x86_64.whl" in warning
    assert "pg_config executable not found" in warning and "installing it on the target builds its sdist" in warning


@pytest.mark.parametrize(
    "builds,reason",
    [("never", "builds are turned off"), (("other-package",), "builds are allowed only for other-package")],
)
def test_builds_turned_off_or_not_allowed_give_the_static_reason(build_index, tmp_cache_dir, builds, reason):
    index = build_index(
        [
            Dist("dyn", "1.0", requires_dist=("signals",), wheel=False, dynamic_deps=True),
            Dist("signals", "1.0"),
        ]
    )
    document, lines = resolve(index, 'dyn = "*"', tmp_cache_dir, builds=builds)
    assert document["error"] is True and builds_in(lines) == []
    assert (
        "declares its dependencies dynamically; they cannot be known without building it"
        in document["error_msg"]
    )
    assert reason in document["error_msg"]
    # The "needs a build" mark is no permanent unavailability: once allowed, it is built.
    document, lines = resolve(index, 'dyn = "*"', tmp_cache_dir, builds=("dyn",))
    assert builds_in(lines) == ["dyn 1.0"] and document["error"] is False


def test_only_the_chosen_versions_of_a_graph_of_sdists_are_built(build_index, tmp_cache_dir):
    index = build_index(
        [
            Dist("app", "1.0", requires_dist=("left", "right<3")),
            *[
                Dist("left", v, requires_dist=("leaf",), wheel=False, dynamic_deps=True)
                for v in ("1.0", "2.0")
            ],
            *[Dist("right", v, wheel=False, dynamic_deps=True) for v in ("1.0", "2.0", "3.0")],
            *[Dist("leaf", v, wheel=False, dynamic_deps=True) for v in ("0.1", "0.2")],
        ]
    )
    document, lines = resolve(index, 'app = "*"', tmp_cache_dir)
    assert locked_versions(document) == {"app": "1.0", "left": "2.0", "right": "2.0", "leaf": "0.2"}
    assert sorted(builds_in(lines)) == ["leaf 0.2", "left 2.0", "right 2.0"]


def test_prefetch_never_builds(build_index, tmp_cache_dir):
    index = build_index(
        [
            Dist("top", "1.0", requires_dist=("mid",)),
            Dist("mid", "2.0", requires_dist=("signals",), wheel=False, dynamic_deps=True),
            Dist("signals", "1.0"),
        ]
    )
    source = IndexSource("main", index.url)
    lines: list[str] = []
    settings = AdviserSettings(cache_dir=tmp_cache_dir)
    with IndexClient(
        [source], tmp_cache_dir, log=lines.append, builds=BuildOptions.from_settings(settings, [index.url])
    ) as client:
        target = build_target({"platform": "linux-x86_64", "python_version": "3.11"})
        provider = AdviserProvider(
            client,
            target,
            policy_for("latest"),
            sources_for=lambda _name: [source],
            advisories=None,
            allowed_advisories=set(),
            prereleases_all=False,
            prerelease_packages={},
            constraints=[],
            locked={},
            log=lines.append,
        )
        try:
            provider.prefetch([Requirement("top", frozenset(), SpecifierSet())])
            mid = provider.package("mid").offers[0]  # speculated on: its page and its sdist were read
            assert not mid.checked and client.stats().get("metadata_built", 0) == 0
            with pytest.raises(NeedsBuild):  # a quick look at it still says a build is needed
                client.metadata(mid.usable[0])
            assert provider.offers.check(mid) is True  # the resolver's own look builds it
            assert mid.metadata.requires_dist == ("signals",)
            assert client.stats()["metadata_built"] == 1
        finally:
            provider.close()
    assert builds_in(lines) == ["mid 2.0"]


def test_an_sdist_over_20_mb_resolves(build_index, tmp_cache_dir):
    megabytes = 21
    index = build_index(
        [
            Dist("big", "1.0", requires_dist=("signals",), wheel=False, sdist_payload_bytes=megabytes << 20),
            Dist(
                "bigdyn",
                "1.0",
                requires_dist=("signals",),
                wheel=False,
                dynamic_deps=True,
                sdist_payload_bytes=megabytes << 20,
            ),
            Dist("signals", "1.0"),
        ]
    )
    assert index.files["big-1.0.tar.gz"].size > 20 << 20
    document, lines = resolve(index, 'big = "*"\nbigdyn = "*"', tmp_cache_dir)
    assert locked_versions(document) == {"big": "1.0", "bigdyn": "1.0", "signals": "1.0"}
    assert builds_in(lines) == ["bigdyn 1.0"]  # the static one is read from its PKG-INFO, not built
    # The ceiling is a setting, and the message states it.
    document, _lines = resolve(index, 'big = "*"', tmp_cache_dir / "other", build_max_source_mb=10)
    assert document["error"] is True
    assert "larger than 10 MB, the ceiling for sdists built for their metadata" in document["error_msg"]


def test_build_settings_are_checked(tmp_cache_dir):
    from adviser.settings import BuildSettingError

    assert AdviserSettings(cache_dir=tmp_cache_dir, builds="Psycopg2, cssmin").builds == (
        "cssmin",
        "psycopg2",
    )
    assert AdviserSettings(cache_dir=tmp_cache_dir, builds=" NEVER ").builds == "never"
    for bad, message in [
        ("", "builds is empty"),
        ("psycopg2,never", "'never' is not a package name"),
        ("bad name!", "'bad name!' is not a package name"),
        (3, "builds must be 'always', 'never' or a list of package names"),
    ]:
        with pytest.raises(BuildSettingError, match=message):
            AdviserSettings(cache_dir=tmp_cache_dir, builds=bad)
    with pytest.raises(BuildSettingError, match="build_timeout must be a positive number"):
        AdviserSettings(cache_dir=tmp_cache_dir, build_timeout=0)


SLEEPY_SETUP_PY = """\
import time
from setuptools import setup

time.sleep({seconds})
setup(name="{name}", version="1.0", packages=["{name}"], install_requires=["signals"])
"""


def test_a_build_over_its_time_limit_is_not_kept(build_index, tmp_cache_dir):
    index = build_index(
        [
            Dist("sleepy", "1.0", wheel=False, setup_py=SLEEPY_SETUP_PY.format(seconds=60, name="sleepy")),
            Dist("signals", "1.0"),
        ]
    )
    for _attempt in range(2):  # a time-out may not happen next time: it is tried again, not remembered
        document, lines = resolve(index, 'sleepy = "*"', tmp_cache_dir, build_timeout=3)
        assert builds_in(lines) == ["sleepy 1.0"]
        assert document["error"] is True and "did not finish within 3 s" in document["error_msg"]


# Run by two processes at once on one cache: what each built, and the sources of its metadata.
TWO_WORKERS = """\
import json, sys
from pathlib import Path
from adviser import AdviserSettings, advise

lines = []
request = {
    "application_stack": {"requirements": sys.argv[1]},
    "runtime_environment": {"platform": "linux-x86_64", "python_version": "3.11"},
    "recommendation_type": "latest",
}
document = advise(request, AdviserSettings(cache_dir=Path(sys.argv[2])), log=lines.append)
print(json.dumps({"error": document["error_msg"], "lines": lines}))
"""


def test_two_processes_needing_one_sdist_build_it_once(build_index, tmp_cache_dir):
    import json
    import subprocess
    import sys

    index = build_index(
        [
            Dist("shared", "1.0", wheel=False, setup_py=SLEEPY_SETUP_PY.format(seconds=3, name="shared")),
            Dist("signals", "1.0"),
        ]
    )
    requirements = pipfile([("main", index.url)], 'shared = "*"')
    root = Path(__file__).resolve().parents[2]
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", TWO_WORKERS, requirements, str(tmp_cache_dir)],
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outcomes = []
    for worker in workers:
        out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err
        outcomes.append(json.loads(out))
    assert [outcome["error"] for outcome in outcomes] == [None, None]
    assert sorted(len(builds_in(outcome["lines"])) for outcome in outcomes) == [0, 1]


def test_a_cache_of_the_previous_layout_keeps_its_data_and_forgets_its_refusals(tmp_cache_dir):
    import sqlite3

    from adviser.index.cache import CACHE_FILENAME, FileRecord, IndexCache

    # A version 4 cache: "needs a build" and "over 20 MB" were stored as permanent refusals.
    cache = IndexCache(tmp_cache_dir)
    rows = {
        "sha256:aa": (
            "sdist dyn-1.0.tar.gz declares its dependencies dynamically; they cannot be known without building it"
        ),
        "sha256:bb": "sdist big-1.0.tar.gz is larger than 20 MB; its metadata is not read",
        "sha256:cc": "the metadata of kappa-1.0.whl is broken: invalid version 'x'",
    }
    for key, reason in rows.items():
        cache.put_metadata(
            FileRecord(key, "p", "1.0", f"{key}.tar.gz", "http://127.0.0.1/simple/"), None, reason=reason
        )
    cache.put_metadata(
        FileRecord("sha256:dd", "p", "2.0", "p-2.0.whl", "http://127.0.0.1/simple/"), {"name": "p"}
    )
    cache.close()
    with sqlite3.connect(tmp_cache_dir / CACHE_FILENAME) as conn:
        conn.execute("DROP TABLE built_metadata")
        conn.execute("PRAGMA user_version = 4")
    upgraded = IndexCache(tmp_cache_dir)
    try:
        needs = upgraded.get_metadata("sha256:aa")
        assert needs is not None and needs.needs_build and not needs.available
        assert upgraded.get_metadata("sha256:bb") is None  # read again: no longer refused for its size
        broken = upgraded.get_metadata("sha256:cc")
        assert broken is not None and not broken.needs_build and broken.reason == rows["sha256:cc"]
        assert upgraded.get_metadata("sha256:dd").data == {"name": "p"}
        assert upgraded.get_built("sha256:aa", "3.11") is None  # the new table exists
    finally:
        upgraded.close()


def test_a_build_made_by_a_fallback_interpreter_is_made_again_once_the_target_python_is_there(
    build_index, tmp_cache_dir
):
    import sqlite3

    from adviser.index.cache import CACHE_FILENAME

    index = build_index(
        [
            Dist("dyn", "1.0", requires_dist=("signals",), wheel=False, dynamic_deps=True),
            Dist("signals", "1.0"),
        ]
    )
    _document, lines = resolve(index, 'dyn = "*"', tmp_cache_dir)
    assert builds_in(lines) == ["dyn 1.0"]
    # As if no Python 3.11 had been there for that build.
    with sqlite3.connect(tmp_cache_dir / CACHE_FILENAME) as conn:
        assert conn.execute("UPDATE built_metadata SET matched = 0").rowcount == 1
    document, lines = resolve(index, 'dyn = "*"', tmp_cache_dir)
    assert "building dyn-1.0.tar.gz again: an interpreter of Python 3.11 is now available" in lines
    assert builds_in(lines) == ["dyn 1.0"] and document["error"] is False
    with sqlite3.connect(tmp_cache_dir / CACHE_FILENAME) as conn:
        assert conn.execute("SELECT matched, python FROM built_metadata").fetchall() == [(1, "3.11")]
