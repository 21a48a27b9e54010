"""Finding a Python of the target's version to run build backends with.

Places looked at, in order: the operator's list (``extra_paths``, then the os.pathsep-separated
executables of ``THAMOS_BUILD_PYTHONS``), ``pythonX.Y`` on PATH, pyenv versions
(``$PYENV_ROOT/versions`` or ``~/.pyenv/versions``), uv-managed interpreters
(``$UV_PYTHON_INSTALL_DIR`` or ``~/.local/share/uv/python``), and the running interpreter. Each
candidate is probed once per process (it is run and asked for its version); a wanted exact patch
release wins, else the newest patch of the wanted minor. Pythons older than 3.7 cannot run the
PEP 517 hook wrapper and are never chosen.
"""

from __future__ import annotations

import glob
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

from packaging.version import InvalidVersion, Version

from sourcebuild.model import Interpreter

ENV_PYTHONS = "THAMOS_BUILD_PYTHONS"
MINIMUM_TARGET = (3, 7)
_PROBE = (
    "import json, platform, sys; "
    "print(json.dumps([platform.python_implementation(), platform.python_version(), sys.executable]))"
)
_PROBE_TIMEOUT = 20.0

_probe_cache: dict[str, tuple[str, str, str] | None] = {}
_probe_lock = threading.Lock()


def _probe(path: str) -> tuple[str, str, str] | None:
    """(implementation, version, real executable) of the Python at ``path``, or None when it does not run.

    The real executable differs from ``path`` for launchers such as pyenv's shims, which pick an
    interpreter at every start: builds use the one the probe saw."""
    with _probe_lock:
        if path in _probe_cache:
            return _probe_cache[path]
    result: tuple[str, str, str] | None = None
    try:
        completed = subprocess.run(
            [path, "-I", "-c", _PROBE],
            capture_output=True,
            text=True,
            timeout=_PROBE_TIMEOUT,
            env={"PATH": os.environ.get("PATH", os.defpath), "LC_ALL": "C.UTF-8"},
            stdin=subprocess.DEVNULL,
        )
        if completed.returncode == 0:
            implementation, version, executable = json.loads(completed.stdout.strip().splitlines()[-1])
            Version(version)
            real = executable if executable and os.path.isfile(executable) else path
            result = (str(implementation), str(version), os.path.abspath(real))
    except (OSError, subprocess.SubprocessError, ValueError, IndexError, InvalidVersion):
        result = None
    with _probe_lock:
        _probe_cache[path] = result
    return result


def _minor_of(wanted: str) -> tuple[int, int] | None:
    match = re.fullmatch(r"\s*(\d+)\.(\d+)(?:\.\d+)?\s*", wanted)
    return (int(match.group(1)), int(match.group(2))) if match else None


def _home() -> Path:
    return Path(os.environ.get("HOME") or os.path.expanduser("~"))


def _managed_pythons(minor: tuple[int, int]) -> list[str]:
    """Executables of pyenv and uv installations of ``minor``; their folder names carry the version."""
    label = f"{minor[0]}.{minor[1]}"
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or _home() / ".pyenv")
    uv_root = Path(os.environ.get("UV_PYTHON_INSTALL_DIR") or _home() / ".local" / "share" / "uv" / "python")
    found = []
    for folder in glob.glob(str(pyenv_root / "versions" / f"{label}.*")):
        if re.fullmatch(rf"{re.escape(label)}\.\d+", os.path.basename(folder)):
            found.append(os.path.join(folder, "bin", "python"))
    for folder in glob.glob(str(uv_root / f"cpython-{label}.*")):
        found.append(os.path.join(folder, "bin", "python3"))
    return found


def candidates(minor: tuple[int, int] | None, extra_paths: Sequence[str] = ()) -> list[str]:
    """Absolute paths worth probing, best sources first, without duplicates."""
    listed = list(extra_paths) + [p for p in os.environ.get(ENV_PYTHONS, "").split(os.pathsep) if p.strip()]
    paths = [shutil.which(p.strip()) or p.strip() for p in listed]
    if minor is not None:
        paths.append(shutil.which(f"python{minor[0]}.{minor[1]}") or "")
        paths += _managed_pythons(minor)
    paths.append(sys.executable)
    unique: list[str] = []
    for path in paths:
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            absolute = os.path.abspath(path)
            if absolute not in unique:
                unique.append(absolute)
    return unique


def _best(found: Iterable[tuple[str, str, str]], wanted: str) -> tuple[str, str, str] | None:
    """The exact release when one was asked for and found, else the newest patch."""
    pool = list(found)
    exact = [item for item in pool if Version(item[2]) == Version(wanted)] if wanted.count(".") >= 2 else []
    chosen = exact or pool
    return max(chosen, key=lambda item: Version(item[2])) if chosen else None


def running_interpreter(*, matched: bool, wanted: str | None = None) -> Interpreter:
    return Interpreter(
        path=os.path.abspath(sys.executable),
        version=platform.python_version(),
        matched=matched,
        implementation=platform.python_implementation(),
        wanted=wanted,
    )


def find_interpreter(python_version: str | None, extra_paths: Sequence[str] = ()) -> Interpreter:
    """Best interpreter for a target "3.9" or "3.9.13"; the running interpreter (matched=False) when none."""
    if not python_version:
        return running_interpreter(matched=True)
    wanted = python_version.strip()
    minor = _minor_of(wanted)
    if minor is None or minor < MINIMUM_TARGET:
        return running_interpreter(matched=False, wanted=wanted)
    found = []
    for path in candidates(minor, extra_paths):
        probed = _probe(path)
        if probed and _minor_of(probed[1]) == minor:
            implementation, version, real = probed
            found.append((real, implementation, version))
    # max() keeps the first of equal keys, so list order (the operator's list first) breaks ties.
    best = _best(found, wanted)
    if best is None:
        return running_interpreter(matched=False, wanted=wanted)
    path, implementation, version = best
    return Interpreter(path=path, version=version, matched=True, implementation=implementation, wanted=wanted)
