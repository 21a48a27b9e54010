"""The build environment: a fresh venv of the target Python, filled from the configured indexes only.

The venv is made by the target itself (``-m venv --without-pip``: fast, nothing from outside).
Build requirements are installed by pip, never with the machine's or user's pip configuration
(``PIP_CONFIG_FILE`` is the null device; index, extra indexes and CA bundle are passed
explicitly). The pip of the running interpreter drives the target with ``--python`` when its
Requires-Python admits the target; for older targets (pip 26 needs 3.10) it downloads wheels for
the target's version, which the pip wheel bundled with the target's ensurepip installs offline
(see :class:`Installer`). Index credentials and proxy settings are in this step's environment
and arguments only.
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from importlib import metadata as importlib_metadata
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from sourcebuild.confine import run_captured
from sourcebuild.model import BuildFailed
from sourcebuild.reasons import error_detail, network_trouble, ran_out_of_memory

ENV_STAGE = "creating the build environment"
# pip's own words for "the index has no such release": the same answer tomorrow.
_PERMANENT_PIP_ERRORS = ("No matching distribution found", "ResolutionImpossible", "conflicting dependencies",
                         "require a different Python",
                         "requires a different Python")


def step_failure(stage: str, output: str, *, returncode: int | None, memory_mb: int,
                 permanent: bool = True) -> BuildFailed:
    """A BuildFailed for a step whose output is ``output``: ``<stage> failed: <detail>``."""
    if ran_out_of_memory(output, returncode):
        detail = f"ran out of memory (the limit is {memory_mb} MB)"
    else:
        detail = error_detail(output) or f"exit status {returncode}"
    return BuildFailed(f"{stage} failed: {detail}", permanent=permanent, stage=stage, output=output)


def create_environment(python: str, folder: Path, *, env: Mapping[str, str], keep_bytes: int,
                       memory_mb: int) -> str:
    """A new venv of ``python`` in ``folder``; the path of its interpreter."""
    returncode, output = run_captured(
        [python, "-m", "venv", "--without-pip", str(folder)], env=env, cwd=str(folder.parent), keep_bytes=keep_bytes
    )
    if returncode != 0:
        raise step_failure(ENV_STAGE, output, returncode=returncode, memory_mb=memory_mb, permanent=False)
    return str(folder / "bin" / "python")


def checked_requirements(requirements: Iterable[str]) -> list[str]:
    """Valid PEP 508 requirements naming index packages, sorted; anything else is a BuildFailed.

    Checked because they become pip arguments: "--index-url=..." must never pass as a requirement.
    """
    checked = []
    for text in sorted(set(requirements)):
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            raise BuildFailed(f"the build requirement {text!r} is not a valid requirement",
                              stage="reading the build requirements") from None
        if requirement.url:
            raise BuildFailed(f"the build requirement {requirement.name} points at a URL; build requirements "
                              "come from the configured indexes only", stage="reading the build requirements")
        checked.append(str(requirement))
    return checked


class Installer:
    """Installs requirements into one build venv.

    Targets the running pip supports: that pip, ``--python <venv>``, straight from the indexes.
    Older targets: the running pip downloads the wheels for the target's version (so only it
    talks to the indexes: old pips mis-read some PEP 691 pages), then the pip wheel bundled with
    the target's ensurepip installs them offline. Without a running pip, the bundled one does all.
    """

    def __init__(self, venv_python: str, target_version: str, *, indexes: Mapping[str, object],
                 proxies: Mapping[str, str], env: Mapping[str, str], keep_bytes: int, memory_mb: int) -> None:
        self.venv_python = venv_python
        self.target_version = target_version
        self.keep_bytes = keep_bytes
        self.memory_mb = memory_mb
        self.env = {**env, **proxies, "PIP_CONFIG_FILE": os.devnull, "PIP_NO_INPUT": "1"}
        self.index_arguments = _index_arguments(indexes)
        self.running_pip = [sys.executable, "-I", "-m", "pip"]
        self.mode = "direct" if _running_pip_supports(target_version) else "fetch"
        self.bundled_pip: list[str] = []
        if self.mode == "fetch":
            wheel = self._bundled_pip_wheel()
            if wheel is None:
                raise BuildFailed(
                    f"no pip can install into Python {target_version}: the running pip does not support it "
                    "and the interpreter bundles no ensurepip wheel", stage=ENV_STAGE,
                )
            self.bundled_pip = [venv_python, os.path.join(wheel, "pip")]
            if not _running_pip_supports(None):
                self.mode = "bundled"

    def _bundled_pip_wheel(self) -> str | None:
        try:
            completed = subprocess.run(
                [self.venv_python, "-c", "import ensurepip, os; print(os.path.dirname(ensurepip.__file__))"],
                capture_output=True, text=True, env=self.env, timeout=60, stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        folder = completed.stdout.strip()
        wheels = glob.glob(os.path.join(folder, "_bundled", "pip-*.whl")) if completed.returncode == 0 else []
        return max(wheels, key=_wheel_version, default=None)

    def install(self, requirements: Sequence[str], cwd: str) -> None:
        if not requirements:
            return
        quiet = ["--disable-pip-version-check", "--no-cache-dir", "--progress-bar", "off"]
        network = ["--retries", "1", "--timeout", "30", *self.index_arguments]
        stage = f"installing the build requirements ({', '.join(requirements)})"
        if not self.index_arguments:
            raise BuildFailed(f"{stage} failed: no package index is configured", stage=stage)
        if self.mode == "direct":
            self._pip([*self.running_pip, "--python", self.venv_python, "install", *quiet,
                       "--no-warn-script-location", *network, *requirements], stage, cwd)
        elif self.mode == "bundled":
            self._pip([*self.bundled_pip, "install", *quiet, "--no-warn-script-location", *network,
                       *requirements], stage, cwd)
        else:
            wheels = tempfile.mkdtemp(prefix="wheels-", dir=cwd)
            self._pip([*self.running_pip, "download", *quiet, "--dest", wheels, "--only-binary", ":all:",
                       "--python-version", self.target_version, *network, *requirements], stage, cwd)
            self._pip([*self.bundled_pip, "install", *quiet, "--no-warn-script-location", "--no-index",
                       "--find-links", wheels, *requirements], stage, cwd)

    def _pip(self, command: list[str], stage: str, cwd: str) -> None:
        returncode, output = run_captured(command, env=self.env, cwd=cwd, keep_bytes=self.keep_bytes)
        if returncode == 0:
            return
        trouble = network_trouble(output)
        if trouble:
            raise BuildFailed(f"{stage} failed: an index could not be reached ({trouble})", permanent=False,
                              stage=stage, output=output)
        permanent = any(marker in output for marker in _PERMANENT_PIP_ERRORS)
        raise step_failure(stage, output, returncode=returncode, memory_mb=self.memory_mb, permanent=permanent)


def _index_arguments(indexes: Mapping[str, object]) -> list[str]:
    """pip's index options; none at all when no index is configured (nothing can be installed)."""
    urls = [str(url) for url in (indexes.get("index_url"), *(indexes.get("extra_index_urls") or ())) if url]
    if not urls:
        return []
    arguments = ["--index-url", urls[0]]
    for url in urls[1:]:
        arguments += ["--extra-index-url", url]
    if indexes.get("ca_bundle"):
        arguments += ["--cert", str(indexes["ca_bundle"])]
    return arguments


def _running_pip_supports(target_version: str | None) -> bool:
    """Whether the running interpreter has a pip that can serve ``target_version`` (None: any)."""
    try:
        requires_python = importlib_metadata.metadata("pip").get("Requires-Python") or ""
        return target_version is None or Version(target_version) in SpecifierSet(requires_python)
    except (importlib_metadata.PackageNotFoundError, InvalidVersion, ValueError):
        return False


def _wheel_version(path: str) -> Version:
    try:
        return Version(os.path.basename(path).split("-")[1])
    except (IndexError, InvalidVersion):
        return Version("0")
