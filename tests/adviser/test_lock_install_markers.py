"""Locks carry each package's full condition, and install as they are with pip and micropipenv.

A dependency of a package that is itself needed only under a marker is needed only under that
marker too: the lock's ``markers`` of the dependency must include the parent's condition, or an
installer on another environment installs it without the package that wanted it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.utils import canonicalize_name

from stackfiles.pipfile import pipfile_hash, render_pipfile
from stackfiles.requirements import render_requirements_txt
from tests.adviser.engine_support import pipfile, product, run
from tests.support.index_server import Dist

LINUX_311 = {
    "python_version": "3.11",
    "python_full_version": "3.11.9",
    "implementation_name": "cpython",
    "os_name": "posix",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "extra": "",
}
LINUX_312 = dict(LINUX_311, python_version="3.12", python_full_version="3.12.4")
WINDOWS_311 = dict(LINUX_311, os_name="nt", sys_platform="win32", platform_system="Windows")


def lock_of(document: dict) -> dict:
    return product(document)["project"]["requirements_locked"]


def installed_where(lock: dict, environment: dict[str, str]) -> set[str]:
    """The packages of the lock an installer puts into ``environment``."""
    return {
        name
        for name, entry in lock["default"].items()
        if not entry.get("markers") or Marker(entry["markers"]).evaluate(environment)
    }


def test_dependency_of_conditional_package_carries_its_condition(package_index, tmp_cache_dir):
    index = package_index(
        [
            Dist("app", "1.0", requires_dist=("mid; python_version < '3.12'", "shared")),
            Dist("mid", "1.0", requires_dist=("leaf; os_name == 'posix'", "shared")),
            Dist("leaf", "1.0"),
            Dist("shared", "1.0"),
        ]
    )
    lock = lock_of(run(pipfile([("main", index.url)], 'app = "*"'), tmp_cache_dir))

    assert lock["default"]["app"].get("markers") is None
    assert lock["default"]["shared"].get("markers") is None  # also needed unconditionally by app
    assert Marker(lock["default"]["mid"]["markers"]) == Marker('python_version < "3.12"')
    # leaf is reached only through mid, so it needs mid's condition and its own edge's.
    assert installed_where(lock, LINUX_311) == {"app", "mid", "leaf", "shared"}
    assert installed_where(lock, LINUX_312) == {"app", "shared"}
    assert installed_where(lock, WINDOWS_311) == {"app", "mid", "shared"}


def test_root_marker_and_requested_extra_reach_the_whole_branch(package_index, tmp_cache_dir):
    index = package_index(
        [
            Dist("tool", "1.0", requires_dist=("helper",)),
            Dist("helper", "1.0", requires_dist=("base-lib",)),
            Dist("base-lib", "1.0"),
            Dist("client", "1.0", extras={"socks": ["socks-lib; sys_platform == 'linux'"]}),
            Dist("socks-lib", "1.0", requires_dist=("socks-core",)),
            Dist("socks-core", "1.0"),
        ]
    )
    packages = 'tool = {version = "*", markers = "python_version < \'3.12\'"}\nclient = {version = "*", extras = ["socks"]}'
    lock = lock_of(run(pipfile([("main", index.url)], packages), tmp_cache_dir))

    for name in ("tool", "helper", "base-lib"):
        assert Marker(lock["default"][name]["markers"]) == Marker('python_version < "3.12"'), name
    assert lock["default"]["client"].get("markers") is None
    for name in ("socks-lib", "socks-core"):
        assert Marker(lock["default"][name]["markers"]) == Marker('sys_platform == "linux"'), name
    assert installed_where(lock, WINDOWS_311) == {"tool", "helper", "base-lib", "client"}
    assert installed_where(lock, LINUX_312) == {"client", "socks-lib", "socks-core"}


def test_cycle_through_a_conditional_edge_keeps_the_weaker_condition(package_index, tmp_cache_dir):
    index = package_index(
        [
            Dist("ring-a", "1.0", requires_dist=("ring-b",)),
            Dist("ring-b", "1.0", requires_dist=("ring-a; os_name == 'posix'",)),
        ]
    )
    packages = 'ring-a = {version = "*", markers = "python_version < \'3.12\'"}'
    lock = lock_of(run(pipfile([("main", index.url)], packages), tmp_cache_dir))

    for name in ("ring-a", "ring-b"):
        assert Marker(lock["default"][name]["markers"]) == Marker('python_version < "3.12"'), name


def test_package_on_unconditional_and_conditional_paths_is_unconditional(package_index, tmp_cache_dir):
    index = package_index(
        [
            Dist("top", "1.0", requires_dist=("optional-part; sys_platform == 'linux'", "common")),
            Dist("optional-part", "1.0", requires_dist=("common",)),
            Dist("common", "1.0"),
        ]
    )
    lock = lock_of(run(pipfile([("main", index.url)], 'top = "*"'), tmp_cache_dir))

    assert lock["default"]["common"].get("markers") is None
    assert Marker(lock["default"]["optional-part"]["markers"]) == Marker('sys_platform == "linux"')


def _isolated_pip_env(tmp_path: Path) -> dict[str, str]:
    """No pip configuration from the machine: the lock alone decides what is installed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "MICROPIPENV_"))}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_NO_CACHE_DIR="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    return env


def _installed(target: Path) -> dict[str, str]:
    found = {}
    for info in target.glob("*.dist-info"):
        name, version = info.name[: -len(".dist-info")].rsplit("-", 1)
        found[canonicalize_name(name)] = version
    return found


@pytest.fixture
def conditional_project(package_index, tmp_cache_dir, tmp_path):
    index = package_index(
        [
            Dist("app", "1.0", requires_dist=("mid; python_version < '3.99'", "skipped; os_name == 'nt'")),
            Dist("mid", "1.0", requires_dist=("leaf",)),
            Dist("leaf", "2.0"),
            Dist("skipped", "1.0"),
        ]
    )
    document = run(pipfile([("main", index.url)], 'app = "*"'), tmp_cache_dir)
    project = tmp_path / "project"
    project.mkdir()
    requirements = product(document)["project"]["requirements"]
    lock = lock_of(document)
    (project / "Pipfile").write_text(render_pipfile(requirements, None), encoding="utf-8")
    (project / "Pipfile.lock").write_text(json.dumps(lock, indent=4), encoding="utf-8")
    (project / "requirements.txt").write_text(render_requirements_txt(lock, dev=False), encoding="utf-8")
    return project, lock


def test_lock_installs_with_pip_require_hashes(conditional_project, tmp_path):
    project, lock = conditional_project
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--require-hashes", "--no-deps", "--target", str(target)]
        + ["-r", str(project / "requirements.txt")],
        env=_isolated_pip_env(tmp_path),
        check=True,
        capture_output=True,
    )
    assert _installed(target) == {"app": "1.0", "mid": "1.0", "leaf": "2.0"}
    assert "skipped" not in lock["default"]  # its marker is false on the target


def test_lock_installs_with_micropipenv_deploy(conditional_project, tmp_path):
    micropipenv = shutil.which("micropipenv", path=str(Path(sys.executable).parent))
    assert micropipenv, "micropipenv is a dev requirement of the project"
    project, lock = conditional_project
    # The Pipfile written from the product is the one the lock's hash was computed for.
    from stackfiles.toml import load_toml

    written = load_toml((project / "Pipfile").read_text(encoding="utf-8"), "Pipfile")
    assert pipfile_hash(written) == lock["_meta"]["hash"]["sha256"]
    target = tmp_path / "site"
    env = dict(_isolated_pip_env(tmp_path), MICROPIPENV_NO_LOCKFILE_PRINT="1")
    env["MICROPIPENV_PIP_BIN"] = str(Path(sys.executable).parent / "pip")
    subprocess.run(
        [micropipenv, "install", "--deploy", "--", "--target", str(target)],
        cwd=project,
        env=env,
        check=True,
        capture_output=True,
    )
    assert _installed(target) == {"app": "1.0", "mid": "1.0", "leaf": "2.0"}
