"""Builds that give metadata: legacy setup.py, dynamic pyproject metadata, a custom backend from
the index (prepare_metadata_for_build_wheel, and build_wheel when that hook is missing), source
folders, and the target interpreter's version deciding the dependencies."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import sourcebuild
from tests.sourcebuild.conftest import leftovers
from tests.sourcebuild.projects import custom_backend_project, requires_dist, write_sdist

# install_requires computed from the Python running setup.py: only a build for the target tells.
COMPUTED_SETUP_PY = """
    import sys
    from setuptools import setup

    extra = ["tomli>=1.1"] if sys.version_info < (3, 11) else []
    setup(name="computed", version="1.0", py_modules=[], install_requires=["six>=1.16"] + extra)
"""


def _minor(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


@pytest.mark.parametrize("python", ["3.10", "3.12"])
def test_legacy_setup_py_computes_requirements_for_the_target_python(python, tmp_path, indexes, workdir):
    sdist = write_sdist(tmp_path, "computed", "1.0", {"setup.py": COMPUTED_SETUP_PY})
    interpreter = sourcebuild.find_interpreter(python)
    lines: list[str] = []

    built = sourcebuild.prepare_metadata(sdist, interpreter=interpreter, indexes=indexes, log=lines.append,
                                         workdir=workdir)

    # Whatever interpreter was found (or the fallback), the metadata is the one it computes.
    expected = ["six>=1.16"] + (["tomli>=1.1"] if _minor(interpreter.version) < (3, 11) else [])
    assert requires_dist(built.metadata) == expected
    assert interpreter.matched == interpreter.version.startswith(python + ".")
    assert built.interpreter == interpreter
    assert built.via == "prepare_metadata_for_build_wheel"
    assert lines[0].startswith(f"building metadata of computed-1.0.tar.gz with CPython {interpreter.version}")
    assert lines[-1].startswith("metadata of computed-1.0.tar.gz took ")
    assert lines[-1].endswith(" s via prepare_metadata_for_build_wheel")
    assert leftovers(workdir) == []


def test_pyproject_sdist_with_dynamic_requires_dist(tmp_path, indexes, workdir):
    sdist = write_sdist(tmp_path, "dynamic_deps", "0.3", {
        "PKG-INFO": "Metadata-Version: 2.2\nName: dynamic-deps\nVersion: 0.3\nDynamic: Requires-Dist\n",
        "pyproject.toml": """
            [build-system]
            requires = ["setuptools>=61"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "dynamic-deps"
            version = "0.3"
            dynamic = ["dependencies"]

            [tool.setuptools]
            py-modules = []

            [tool.setuptools.dynamic]
            dependencies = {file = ["requirements.in"]}
        """,
        "requirements.in": "requests>=2.31\nidna<4; python_version >= '3.8'\n",
    })

    built = sourcebuild.prepare_metadata(sdist, interpreter=sourcebuild.find_interpreter(None), indexes=indexes,
                                         workdir=workdir)

    assert requires_dist(built.metadata) == ["requests>=2.31", 'idna<4; python_version >= "3.8"']
    assert leftovers(workdir) == []


@pytest.mark.parametrize(
    ("backend", "via"),
    [("tiny_backend", "prepare_metadata_for_build_wheel"), ("tiny_backend.wheel_only", "build_wheel")],
)
def test_custom_backend_published_on_the_index(backend, via, tmp_path, indexes, source_index, workdir):
    sdist = write_sdist(tmp_path, "custom_project", "2.0", custom_backend_project(backend))
    source_index.clear_requests()

    built = sourcebuild.prepare_metadata(sdist, interpreter=sourcebuild.find_interpreter(None), indexes=indexes,
                                         workdir=workdir)

    running = f"{sys.version_info[0]}{sys.version_info[1]}"
    assert requires_dist(built.metadata) == ["attrs>=20", f"built-on-py{running}", "helped-by-tiny-helper"]
    assert built.via == via
    # Both the backend (build-system.requires) and its helper (get_requires_for_build_wheel)
    # came from this index.
    downloaded = {path for _, path, _ in source_index.requests if path.startswith("/files/")}
    assert any("tiny_backend-0.1" in path for path in downloaded)
    assert any("tiny_helper-1.4" in path for path in downloaded)


@pytest.mark.parametrize("python", ["3.8", "3.9"])
def test_older_target_python_runs_the_backend(python, tmp_path, indexes, workdir):
    """pip of the running interpreter does not support these: the target's bundled pip installs."""
    sdist = write_sdist(tmp_path, "custom_project", "2.0", custom_backend_project("tiny_backend"))
    interpreter = sourcebuild.find_interpreter(python)
    # The machine's pyenv has these; wherever one is missing the fallback must say so and be used.
    assert interpreter.matched == interpreter.version.startswith(python + ".")
    if interpreter.matched:
        assert interpreter.version.startswith(python)
    else:
        assert interpreter.path == str(Path(sys.executable).absolute())

    built = sourcebuild.prepare_metadata(sdist, interpreter=interpreter, indexes=indexes, workdir=workdir)

    major, minor = _minor(interpreter.version)
    assert f"built-on-py{major}{minor}" in requires_dist(built.metadata)
    assert built.interpreter.version == interpreter.version


def test_source_folder_is_copied_never_modified(tmp_path, indexes, workdir):
    project = tmp_path / "checkout"
    project.mkdir()
    (project / "setup.py").write_text(
        "from setuptools import setup\nsetup(name='local-thing', version='0.5', py_modules=[],"
        " install_requires=['attrs'])\n"
    )
    (project / ".venv").mkdir()  # a virtualenv or caches inside a checkout are not copied
    (project / ".venv" / "pyvenv.cfg").write_text("home = /nowhere\n")
    before = sorted(str(path.relative_to(project)) for path in project.rglob("*"))

    built = sourcebuild.prepare_metadata(project, interpreter=sourcebuild.find_interpreter(None), indexes=indexes,
                                         workdir=workdir)

    assert requires_dist(built.metadata) == ["attrs"]
    assert sorted(str(path.relative_to(project)) for path in project.rglob("*")) == before
    assert leftovers(workdir) == []
