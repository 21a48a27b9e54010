"""Pipfile packages from a local path (metadata sent by the client) and from git (built here).

The git repositories are real (``git init`` in the test's directory) and hold small setuptools
projects whose build requirement (setuptools) and dependencies come from the local test index.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from adviser import AdviserSettings, advise
from tests.adviser.engine_support import LINUX_311, messages, pipfile, product
from tests.support.index_server import SAMPLE_DISTS
from tests.support.source_projects import commit_version, git, git_repository, setuptools_wheels

MYLIB_METADATA = (
    "Metadata-Version: 2.1\nName: mylib\nVersion: 0.3.0\nRequires-Dist: signals>=1.1\n"
    'Requires-Dist: translations; extra == "i18n"\n\n'
)


@pytest.fixture
def index(package_index):
    server = package_index(SAMPLE_DISTS)
    server.add_wheel_files(setuptools_wheels())
    return server


@pytest.fixture
def local_git(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THAMOS_GIT_ALLOW_LOCAL", "1")


def _advise(index, packages: str, cache: Path, lines: list[str] | None = None, **request) -> dict:
    body = {
        "application_stack": {"requirements": pipfile([("main", index.url)], packages)},
        "runtime_environment": LINUX_311,
        "recommendation_type": "latest",
        **request,
    }
    log = lines.append if lines is not None else None
    return advise(body, AdviserSettings(cache_dir=cache), log=log)


def _local(metadata: str = MYLIB_METADATA, path: str = "./mylib", name: str = "mylib") -> list[dict]:
    return [{"name": name, "version": "0.3.0", "path": path, "editable": True, "metadata": metadata}]


def _lock(document: dict) -> dict:
    return product(document)["project"]["requirements_locked"]


# ---------------------------------------------------------------- local path packages


def test_local_path_package_is_locked_by_path_with_its_dependencies(index, tmp_cache_dir) -> None:
    packages = 'mylib = {path = "./mylib", editable = true, extras = ["i18n"]}'
    document = _advise(index, packages, tmp_cache_dir, local_packages=_local())
    lock = _lock(document)
    assert lock["default"]["mylib"] == {"editable": True, "extras": ["i18n"], "path": "./mylib"}
    assert lock["default"]["signals"]["version"] == "==1.1"  # 1.2 is yanked
    assert "translations" in lock["default"]
    assert not any("/simple/mylib" in request.path for request in index.requests)  # no index asked
    assert any("from local path ./mylib" in m for m in messages(document, "INFO"))


def test_local_path_package_needs_the_metadata_from_the_client(index, tmp_cache_dir) -> None:
    packages = 'mylib = {path = "./mylib", editable = true}'
    document = _advise(index, packages, tmp_cache_dir)
    assert document["error"] and "carries no metadata prepared from it" in document["error_msg"]
    other = _advise(index, packages, tmp_cache_dir, local_packages=_local(MYLIB_METADATA.replace("mylib", "otherlib")))
    assert other["error"] and "is the project 'otherlib', not 'mylib'" in other["error_msg"]
    moved = _advise(index, packages, tmp_cache_dir, local_packages=_local(path="../elsewhere"))
    assert moved["error"] and "'../elsewhere'" in moved["error_msg"]
    broken = _advise(index, packages, tmp_cache_dir, local_packages=_local("Name: mylib\n\n"))
    assert broken["error"] and "[packages] mylib" in broken["error_msg"]
    surrogate = _advise(index, packages, tmp_cache_dir, local_packages=_local(MYLIB_METADATA + "\ud800"))
    assert surrogate["error"] and "is not UTF-8 text" in surrogate["error_msg"]
    assert "Internal" not in surrogate["error_msg"]


def test_local_path_version_conflict_is_explained(index, tmp_cache_dir) -> None:
    metadata = MYLIB_METADATA.replace("signals>=1.1", "signals>=5")
    document = _advise(index, 'mylib = {path = "./mylib"}', tmp_cache_dir, local_packages=_local(metadata))
    assert document["error"] and "signals" in document["error_msg"]


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ('mylib = {editable = true, version = "*"}', "editable = true needs a path or a git repository"),
        ('mylib = {path = "./a", git = "https://host/a.git"}', "either path or git"),
        ('mylib = {path = ""}', "path must be a non-empty string"),
        ('mylib = {git = "https://host/a.git", ref = 3}', "ref must be a branch, tag or commit name"),
        ('mylib = {file = "https://host/mylib.zip"}', "'file' dependencies are not supported"),
    ],
)
def test_bad_direct_reference_entries_are_named(index, tmp_cache_dir, entry: str, expected: str) -> None:
    document = _advise(index, entry, tmp_cache_dir)
    assert document["error"] and expected in document["error_msg"] and "[packages] mylib" in document["error_msg"]


# ---------------------------------------------------------------- git


def test_git_branch_is_locked_at_its_commit_and_built_once(index, tmp_path, tmp_cache_dir, local_git) -> None:
    repository, commit = git_repository(tmp_path / "gitlib", "gitlib", "1.0", ["templating>=2"])
    packages = f'gitlib = {{git = "file://{repository}", ref = "main", editable = true}}'
    lines: list[str] = []
    lock = _lock(_advise(index, packages, tmp_cache_dir, lines))
    assert lock["default"]["gitlib"] == {"editable": True, "git": f"file://{repository}", "ref": commit}
    assert {"templating", "markup-escape"} <= set(lock["default"])
    assert any("building metadata of " + commit in line for line in lines)
    # The commit is never built again: the cache keeps it for good.
    lines.clear()
    again = _lock(_advise(index, packages, tmp_cache_dir, lines))
    assert again["default"]["gitlib"]["ref"] == commit
    assert not any("building metadata" in line for line in lines)
    assert any("from the cache" in line for line in lines)


def test_git_tags_commits_and_a_moved_branch(index, tmp_path, tmp_cache_dir, local_git) -> None:
    repository, first = git_repository(tmp_path / "gitlib", "gitlib", "1.0", ["signals>=1.0"])
    git(repository, "tag", "-a", "v1.0", "-m", "release 1.0")
    second = commit_version(repository, "gitlib", "2.0", ["templating>=2"])
    url = f"file://{repository}"
    tagged = _lock(_advise(index, f'gitlib = {{git = "{url}", ref = "v1.0"}}', tmp_cache_dir))
    assert tagged["default"]["gitlib"]["ref"] == first and "signals" in tagged["default"]
    pinned = _lock(_advise(index, f'gitlib = {{git = "{url}", ref = "{first}"}}', tmp_cache_dir))
    assert pinned["default"]["gitlib"]["ref"] == first
    head = _lock(_advise(index, f'gitlib = {{git = "{url}"}}', tmp_cache_dir))
    assert head["default"]["gitlib"]["ref"] == second and "templating" in head["default"]
    wrong = _advise(index, f'gitlib = {{git = "{url}", ref = "main", version = "<2"}}', tmp_cache_dir)
    assert wrong["error"] and "has version 2.0, which does not match <2" in wrong["error_msg"]


def test_git_bad_inputs_are_clear_errors(index, tmp_path, tmp_cache_dir, local_git, monkeypatch) -> None:
    repository, _ = git_repository(tmp_path / "gitlib", "gitlib", "1.0", [])
    unknown = _advise(index, f'gitlib = {{git = "file://{repository}", ref = "nope"}}', tmp_cache_dir)
    assert unknown["error"]
    assert unknown["error_msg"] == f"[packages] gitlib: ref 'nope' is not a branch or tag of git repository file://{repository}"
    short = _advise(index, f'gitlib = {{git = "file://{repository}", ref = "abc1234"}}', tmp_cache_dir)
    assert short["error"] and "full 40 hex digits" in short["error_msg"]
    missing = _advise(index, f'gitlib = {{git = "file://{tmp_path}/missing", ref = "main"}}', tmp_cache_dir)
    assert missing["error"] and "cannot read git repository" in missing["error_msg"]
    assert "does not appear to be a git repository" in missing["error_msg"]
    named = _advise(index, f'othername = {{git = "file://{repository}", ref = "main"}}', tmp_cache_dir)
    assert named["error"] and "is the project 'gitlib', not 'othername'" in named["error_msg"]
    monkeypatch.setenv("PATH", str(tmp_path / "no-git-here"))
    no_git = _advise(index, f'gitlib = {{git = "file://{repository}", ref = "main"}}', tmp_cache_dir)
    assert no_git["error"] and "git is not installed on the server" in no_git["error_msg"]


def test_a_server_does_not_read_its_own_repositories_unless_allowed(index, tmp_path, tmp_cache_dir,
                                                                     monkeypatch) -> None:
    monkeypatch.delenv("THAMOS_GIT_ALLOW_LOCAL", raising=False)
    repository, _ = git_repository(tmp_path / "gitlib", "gitlib", "1.0", [])
    for url in (f"file://{repository}", str(repository)):
        document = _advise(index, f'gitlib = {{git = "{url}", ref = "main"}}', tmp_cache_dir)
        assert document["error"] and "THAMOS_GIT_ALLOW_LOCAL=1" in document["error_msg"]
    monkeypatch.setenv("THAMOS_GIT_ALLOW_LOCAL", "perhaps")
    document = _advise(index, f'gitlib = {{git = "file://{repository}", ref = "main"}}', tmp_cache_dir)
    assert document["error"] and "THAMOS_GIT_ALLOW_LOCAL must be one of" in document["error_msg"]


def test_git_build_failure_names_the_commit(index, tmp_path, tmp_cache_dir, local_git) -> None:
    repository, _ = git_repository(tmp_path / "gitlib", "gitlib", "1.0", [])
    # A [project] table without name: setuptools refuses to prepare any metadata.
    (repository / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nversion = "1.0"\n'
    )
    git(repository, "commit", "-qam", "broken")
    head = git(repository, "rev-parse", "HEAD")
    document = _advise(index, f'gitlib = {{git = "file://{repository}"}}', tmp_cache_dir)
    assert document["error"] and f"building the metadata of commit {head} failed" in document["error_msg"]
