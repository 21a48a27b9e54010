"""Small source projects for tests of local path and git dependencies.

``setuptools_project`` writes a pyproject.toml project built by setuptools (its build requirement
comes from the test index: serve ``setuptools_wheels()`` there); ``git_repository`` commits such a
project into a fresh git repository on branch ``main``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

GIT_IDENTITY = ["-c", "user.name=thamos tests", "-c", "user.email=tests@thamos.invalid"]


def setuptools_wheels() -> list[Path]:
    """setuptools wheels to serve on a test index (the ones virtualenv embeds)."""
    import virtualenv

    embed = Path(virtualenv.__file__).parent / "seed" / "wheels" / "embed"
    wheels = sorted(embed.glob("setuptools-*.whl"))
    assert wheels, f"virtualenv embeds no setuptools wheel in {embed}"
    return wheels


def setuptools_project(directory: Path, name: str, version: str, dependencies: list[str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    listed = ", ".join(f'"{d}"' for d in dependencies)
    (directory / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n\n'
        f'[project]\nname = "{name}"\nversion = "{version}"\ndependencies = [{listed}]\n\n'
        f'[tool.setuptools]\npy-modules = ["{name.replace("-", "_")}"]\n'
    )
    (directory / f"{name.replace('-', '_')}.py").write_text(f'VERSION = "{version}"\n')
    return directory


def git(repository: Path, *args: str) -> str:
    completed = subprocess.run(["git", *GIT_IDENTITY, "-C", str(repository), *args], check=True,
                               capture_output=True, text=True)
    return completed.stdout.strip()


def git_repository(directory: Path, name: str, version: str, dependencies: list[str]) -> tuple[Path, str]:
    """A repository holding the project on branch main; (its path, the commit)."""
    setuptools_project(directory, name, version, dependencies)
    git(directory, "init", "-q", "-b", "main")
    git(directory, "add", ".")
    git(directory, "commit", "-q", "-m", f"{name} {version}")
    return directory, git(directory, "rev-parse", "HEAD")


def commit_version(repository: Path, name: str, version: str, dependencies: list[str]) -> str:
    """Commit a new version of the project on the current branch; the new commit."""
    setuptools_project(repository, name, version, dependencies)
    git(repository, "commit", "-q", "-am", f"{name} {version}")
    return git(repository, "rev-parse", "HEAD")
