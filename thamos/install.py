"""Installing a lock, managed virtual environments, running commands and checking installations.

With ``virtualenv: true`` in ``.thoth.yaml`` every runtime environment gets its own virtual
environment at ``<project root>/.venv/<runtime environment name>``. Otherwise thamos installs into
the active virtual environment (``VIRTUAL_ENV``) or, without one, into the interpreter running it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from dotenv import dotenv_values
from packaging.markers import InvalidMarker, Marker
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from .exceptions import BadInputError, LockMismatchError, ThamosError
from .project_files import (
    ProjectFiles,
    lock_hash,
    parse_requirements_file,
    pipfile_hash,
    read_user_file,
    render_requirements_txt,
)
from .redact import redact_url_credentials
from .source_urls import expand_url, lock_source_urls, requirements_source_urls

_LOGGER = logging.getLogger(__name__)

VENV_DIR = ".venv"
_BIN = "Scripts" if sys.platform == "win32" else "bin"
_HASH_MISMATCH_TEXT = "DO NOT MATCH THE HASHES"

# Run inside the target interpreter: what is installed there and its PEP 508 marker environment.
_INSPECT_SCRIPT = r"""
import json, os, platform, sys
dists = {}
direct = {}
def installed():
    # (name, version, direct_url.json text) of every distribution; Python < 3.8 has no importlib.metadata
    try:
        from importlib import metadata
    except ImportError:
        import pkg_resources
        for dist in pkg_resources.working_set:
            has = dist.has_metadata("direct_url.json")
            yield dist.project_name, dist.version, dist.get_metadata("direct_url.json") if has else None
        return
    for dist in metadata.distributions():
        try:
            text = dist.read_text("direct_url.json")
        except Exception:
            text = None
        yield dist.metadata["Name"], dist.version, text
for name, version, text in installed():
    if name:
        dists[name] = version
        if text:
            direct[name] = json.loads(text)
impl = sys.implementation
env = {
    "implementation_name": impl.name,
    "implementation_version": "{0.major}.{0.minor}.{0.micro}".format(impl.version),
    "os_name": os.name,
    "platform_machine": platform.machine(),
    "platform_release": platform.release(),
    "platform_system": platform.system(),
    "platform_version": platform.version(),
    "python_full_version": platform.python_version(),
    "platform_python_implementation": platform.python_implementation(),
    "python_version": ".".join(platform.python_version_tuple()[:2]),
    "sys_platform": sys.platform,
}
print(json.dumps({"installed": dists, "direct": direct, "environment": env}))
"""


def venv_path(project_root: Path, runtime_environment_name: str) -> Path:
    return project_root / VENV_DIR / runtime_environment_name


def venv_python(path: Path) -> Path:
    return path / _BIN / ("python.exe" if sys.platform == "win32" else "python")


def create_venv(path: Path) -> Path:
    """Create the virtual environment (with pip) unless it already exists; return its python."""
    python = venv_python(path)
    if python.exists():
        return python
    _LOGGER.info("Creating virtual environment %s", path)
    try:
        venv.EnvBuilder(with_pip=True, clear=False, symlinks=sys.platform != "win32").create(path)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise ThamosError(f"Cannot create the virtual environment {path}: {exc}") from None
    return python


def current_python() -> Path:
    """The interpreter of the active virtual environment, else the one running thamos."""
    active = os.getenv("VIRTUAL_ENV")
    if active and venv_python(Path(active)).exists():
        return venv_python(Path(active))
    return Path(sys.executable)


def check_lock(files: ProjectFiles) -> dict[str, Any] | None:
    """For pipenv: the lock, after checking it belongs to the Pipfile (LockMismatchError if not).

    For pip formats (None is returned): requirements.txt is checked against requirements.in.
    """
    if not files.is_pipenv:
        check_requirements_lock(files)
        return None
    if not files.pipfile_lock.is_file():
        raise BadInputError(f"No Pipfile.lock found in {files.directory}; run `thamos advise`")
    lock = files.read_pipfile_lock()
    if files.pipfile.is_file():
        expected = pipfile_hash(files.read_pipfile())
        found = lock_hash(lock)
        if found is None:
            raise LockMismatchError(
                f"{files.pipfile_lock} has no _meta.hash.sha256, so it cannot be tied to {files.pipfile}; "
                "run `thamos advise` to lock again"
            )
        if found != expected:
            raise LockMismatchError(
                f"{files.pipfile_lock} does not belong to {files.pipfile}: lock hash {found!r}, "
                f"Pipfile hash {expected!r}; run `thamos advise` to lock again"
            )
    else:
        _LOGGER.warning("No Pipfile next to %s, the lock hash cannot be checked", files.pipfile_lock)
    return lock


def check_requirements_lock(files: ProjectFiles) -> None:
    """requirements.txt must be readable and, when requirements.in exists, pin what it asks for."""
    lock_path, input_path = files.requirements_txt, files.requirements_in
    if not lock_path.is_file():
        raise BadInputError(f"No {lock_path.name} found in {files.directory}; run `thamos advise`")
    locked = parse_requirements_file(read_user_file(lock_path), str(lock_path))
    if files.input_file != input_path or not input_path.is_file():
        return  # requirements.txt is the input itself: nothing to hold it against
    for line in locked:
        if line.pinned_version is None and line.requirement.url is None:
            raise LockMismatchError(
                f"{lock_path} line {line.number}: {line.text!r} is not pinned (name==version), so the file "
                f"is not a lock of {input_path.name}; run `thamos advise` to lock"
            )
    pins = {canonicalize_name(line.requirement.name): line for line in locked}
    problems = []
    for direct in parse_requirements_file(read_user_file(input_path), str(input_path)):
        name = direct.requirement.name
        pinned = pins.get(canonicalize_name(name))
        if pinned is None:
            if direct.requirement.marker is None:  # with a marker it may not apply to the target
                problems.append(f"{name} is missing")
        elif pinned.pinned_version is not None and not direct.requirement.specifier.contains(
            pinned.pinned_version, prereleases=True
        ):
            problems.append(f"{name} is pinned to {pinned.pinned_version}, not {direct.requirement.specifier}")
    if problems:
        raise LockMismatchError(
            f"{lock_path} does not lock {input_path}: {'; '.join(problems)}; run `thamos advise` to lock again"
        )


def install(files: ProjectFiles, python: Path, *, dev: bool = False, pip_args: list[str] | None = None) -> None:
    """Install the lock of ``files`` with ``python -m pip``, exactly as locked (hashes checked).

    Index URLs are expanded from the environment first (``${VAR}``; an unset one is an error
    before anything is installed) into a temporary requirements file only. Local path and git
    packages (no hashes to check) are installed in a second pip run, after every hashed package,
    without dependencies (the lock lists them) and with paths taken relative to the Pipfile.
    """
    lock = check_lock(files)
    if lock is not None:
        lock = _with_expanded_sources(lock, files.pipfile_lock.name)
        parts = _split_direct(lock, files.directory)
        # pip refuses a requirements file naming no package: a part with nothing to install is skipped.
        runs = [(render_requirements_txt(part, dev=dev), no_deps) for part, no_deps in zip(parts, (False, True), strict=True)
                if part["default"] or (dev and part["develop"])]
        _warn_python_mismatch(lock, python)
    else:
        runs = [(_expanded_requirements(read_user_file(files.requirements_txt), files.requirements_txt.name), False)]
    for requirements_text, no_deps in runs:
        _pip_install(python, requirements_text, no_deps, pip_args or [])


def _pip_install(python: Path, requirements_text: str, no_deps: bool, pip_args: list[str]) -> None:
    command = [str(python), "-m", "pip", "install", "--disable-pip-version-check"]
    if no_deps or "--hash=" in requirements_text:
        # A complete lock: dependencies are all listed, pip must not pick any on its own.
        command.append("--no-deps")
    fd, requirements_path = tempfile.mkstemp(prefix="thamos-requirements-", suffix=".txt")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:  # 0600: it may hold index credentials
            handle.write(requirements_text)
        command += ["-r", requirements_path, *pip_args]
        _LOGGER.debug("Running %s", redact_url_credentials(" ".join(command)))  # pip args may hold index passwords
        completed = subprocess.run(command, stderr=subprocess.PIPE, text=True, check=False)
    finally:
        os.unlink(requirements_path)
    if completed.stderr:
        sys.stderr.write(completed.stderr)
    if completed.returncode != 0:
        if _HASH_MISMATCH_TEXT in (completed.stderr or ""):
            raise LockMismatchError("Downloaded artifacts do not match the hashes in the lock; nothing trusted was installed")
        raise ThamosError(f"pip failed with exit code {completed.returncode}")


def _with_expanded_sources(lock: dict[str, Any], name: str) -> dict[str, Any]:
    """A copy of the lock whose ``_meta.sources`` URLs are expanded from the environment."""
    expanded = lock_source_urls(lock, name)
    meta = dict(lock.get("_meta") or {})
    meta["sources"] = [
        {**source, "url": expanded.get(str(source.get("name")), source.get("url"))}
        for source in meta.get("sources") or []
        if isinstance(source, dict)
    ]
    return {**lock, "_meta": meta}


def _split_direct(lock: dict[str, Any], directory: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the lock without its local path and git packages, a lock of only those, paths made absolute)."""
    indexed = {**lock, "default": {}, "develop": {}}
    direct = {**lock, "default": {}, "develop": {}}
    for section in ("default", "develop"):
        for name, entry in (lock.get(section) or {}).items():
            if isinstance(entry, dict) and ("path" in entry or "git" in entry):
                if "path" in entry:
                    entry = {**entry, "path": str((directory / entry["path"]).resolve())}
                direct[section][name] = entry
            else:
                indexed[section][name] = entry
    return indexed, direct


def _expanded_requirements(text: str, name: str) -> str:
    """requirements.txt with the URLs of its index options expanded from the environment."""
    for where, url in requirements_source_urls(text, name):
        text = text.replace(url, expand_url(url, where))
    return text


def _warn_python_mismatch(lock: dict[str, Any], python: Path) -> None:
    wanted = ((lock.get("_meta") or {}).get("requires") or {}).get("python_version")
    if not wanted:
        return
    info = inspect_environment(python)
    have = info["environment"]["python_version"]
    if have != wanted:
        _LOGGER.warning("The lock was made for Python %s, installing into Python %s (%s)", wanted, have, python)


def inspect_environment(python: Path) -> dict[str, Any]:
    try:
        completed = subprocess.run(
            [str(python), "-c", _INSPECT_SCRIPT], capture_output=True, text=True, check=True, timeout=120
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise ThamosError(f"Cannot inspect the Python environment of {python}: {exc}") from None
    return json.loads(completed.stdout)


def _locked_version(entry: Any) -> str | None:
    spec = entry if isinstance(entry, str) else (entry or {}).get("version")
    if isinstance(spec, str) and spec.startswith("=="):
        return spec[2:].strip()
    return None


def compare_installed(
    lock: dict[str, Any], python: Path, *, dev: bool = False, directory: Path | None = None
) -> list[str]:
    """Differences between the lock and what is installed for ``python`` (empty list: they match).

    Local path and git packages are checked by where they were installed from (pip's
    direct_url.json): the same directory (relative to ``directory``, the Pipfile's), the same commit.
    """
    info = inspect_environment(python)
    installed = {canonicalize_name(name): version for name, version in info["installed"].items()}
    origins = {canonicalize_name(name): origin for name, origin in (info.get("direct") or {}).items()}
    environment = info["environment"]
    problems: list[str] = []
    sections = ["default", "develop"] if dev else ["default"]
    for section in sections:
        for name, entry in (lock.get(section) or {}).items():
            markers = entry.get("markers") if isinstance(entry, dict) else None
            if markers:
                try:
                    if not Marker(markers).evaluate(environment):
                        continue
                except InvalidMarker:
                    problems.append(f"{name}: invalid marker {markers!r} in the lock")
                    continue
            wanted = _locked_version(entry)
            have = installed.get(canonicalize_name(name))
            if have is not None and isinstance(entry, dict) and ("path" in entry or "git" in entry):
                problem = _direct_mismatch(name, entry, origins.get(canonicalize_name(name)), directory)
                if problem:
                    problems.append(problem)
                continue
            if have is None:
                problems.append(f"{name}: not installed (locked {wanted or 'unpinned'})")
            elif wanted is not None and not _same_version(have, wanted):
                problems.append(f"{name}: installed {have}, locked {wanted}")
    return problems


def _direct_mismatch(name: str, entry: dict[str, Any], origin: dict[str, Any] | None,
                     directory: Path | None) -> str | None:
    """Why an installed local path or git package is not the one locked, or None."""
    origin = origin or {}
    url = str(origin.get("url") or "")
    if "git" in entry:
        commit = (origin.get("vcs_info") or {}).get("commit_id")
        if commit != entry.get("ref"):
            found = f"commit {commit}" if commit else "not from git"
            return f"{name}: installed {found}, locked git commit {entry.get('ref')}"
        return None
    wanted = ((directory or Path.cwd()) / entry["path"]).resolve()
    if not url.startswith("file://") or Path(unquote(urlsplit(url).path)).resolve() != wanted:
        return f"{name}: installed from {url or 'an index'}, locked from the local path {entry['path']}"
    if bool(entry.get("editable")) != bool((origin.get("dir_info") or {}).get("editable")):
        mode = "editable" if entry.get("editable") else "not editable"
        return f"{name}: the lock installs {entry['path']} {mode}, the installation differs"
    return None


def _same_version(left: str, right: str) -> bool:
    try:
        return Version(left) == Version(right)
    except InvalidVersion:
        return left == right


def remove_venv(path: Path) -> bool:
    if not path.exists():
        return False
    if not venv_python(path).exists() and not (path / "pyvenv.cfg").exists():
        raise ThamosError(f"{path} does not look like a virtual environment, not removing it")
    shutil.rmtree(path)
    return True


def read_dotenv(path: Path) -> dict[str, str]:
    """Variables of a ``.env`` file (NAME=VALUE lines, # comments); empty when there is no file."""
    if not path.is_file():
        return {}
    values = dotenv_values(path)
    return {key: value for key, value in values.items() if value is not None}


def run(command: list[str], *, venv_dir: Path | None, dotenv: Path | None) -> int:
    """Run ``command`` with the environment's variables (and virtualenv); return its exit code."""
    if not command:
        raise BadInputError("No command given to run")
    environment = dict(os.environ)
    if dotenv is not None:
        environment.update(read_dotenv(dotenv))
    if venv_dir is not None:
        environment["VIRTUAL_ENV"] = str(venv_dir)
        environment["PATH"] = str(venv_dir / _BIN) + os.pathsep + environment.get("PATH", "")
        environment.pop("PYTHONHOME", None)
    executable = shutil.which(command[0], path=environment.get("PATH"))
    if executable is None:
        raise BadInputError(f"Command not found: {command[0]}")
    try:
        completed = subprocess.run([executable, *command[1:]], env=environment, check=False)
    except OSError as exc:
        raise ThamosError(f"Cannot run {command[0]}: {exc.strerror}") from None
    code = completed.returncode
    # A child killed by a signal reports -N; shells report that as 128+N.
    return 128 - code if code < 0 else code
