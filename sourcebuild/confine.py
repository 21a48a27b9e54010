"""The walls around a build: clean environments, resource limits, bubblewrap, cleanup.

Used on both sides: the caller's process chooses the sandbox mode and cleans up (process group,
stray processes, temporary directory); the sandbox process applies the limits to itself (they are
inherited by everything it starts) and wraps the backend hooks in bubblewrap when asked.
"""

from __future__ import annotations

import collections
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from sourcebuild.model import BuildFailed

SANDBOX_ENV = "THAMOS_BUILD_SANDBOX"
SANDBOX_MODES = ("auto", "bwrap", "none")
MARKER_VARIABLE = "SOURCEBUILD_RUN"
# 1980-01-01, the oldest time a zip entry (so a wheel) can hold: reproducible archives.
SOURCE_DATE_EPOCH = "315532800"
_BWRAP_BASE = ["--die-with-parent", "--new-session", "--unshare-all",
               "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
# Never hidden even when they are the caller's working directory: the system needs them.
_SYSTEM_DIRS = {"/", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc", "/opt", "/var",
                "/proc", "/sys", "/dev", "/nix", "/gnu", "/snap"}
MiB = 1024 * 1024

_bwrap_state: tuple[bool, str] | None = None
_bwrap_lock = threading.Lock()


def base_environment(work: Path, marker: str) -> dict[str, str]:
    """The whole environment of the sandbox process: built from scratch, nothing secret inherited."""
    return {
        "PATH": os.environ.get("PATH") or os.defpath,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": str(work / "home"),
        "TMPDIR": str(work / "tmp"),
        "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH,
        "PYTHONHASHSEED": "0",
        "PYTHONNOUSERSITE": "1",
        MARKER_VARIABLE: marker,
    }


def apply_limits(memory_mb: int, file_mb: int) -> None:
    """Cap this process and its descendants (address space, file size, core dumps, processes)."""
    wanted = [
        (resource.RLIMIT_AS, memory_mb * MiB),
        (resource.RLIMIT_FSIZE, file_mb * MiB),
        (resource.RLIMIT_CORE, 0),
    ]
    # RLIMIT_NPROC counts every process of the user (root is exempt), so the ceiling is set above
    # what the account already runs: it stops a fork bomb without breaking the caller.
    if os.getuid() != 0:
        wanted.append((resource.RLIMIT_NPROC, _tasks_of_user() + 512))
    for kind, value in wanted:
        soft, hard = resource.getrlimit(kind)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(kind, (value, value))


def _tasks_of_user() -> int:
    uid, count = os.getuid(), 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    count += len(os.listdir(f"/proc/{entry.name}/task"))
            except OSError:
                continue
    return count


# ---------------------------------------------------------------- bubblewrap


def bwrap_usable() -> tuple[bool, str]:
    """(usable, why not): bwrap is on PATH and can build the sandbox the hooks run in (probed once)."""
    global _bwrap_state
    with _bwrap_lock:
        if _bwrap_state is None:
            _bwrap_state = _probe_bwrap()
        return _bwrap_state


def _probe_bwrap() -> tuple[bool, str]:
    executable = shutil.which("bwrap")
    if executable is None:
        return False, "bwrap is not on PATH (Debian/Ubuntu package bubblewrap)"
    try:
        completed = subprocess.run(
            [executable, *_BWRAP_BASE, "true"], capture_output=True, text=True, timeout=20,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError) as error:
        return False, f"bwrap does not run: {error}"
    if completed.returncode != 0:
        last = (completed.stderr.strip().splitlines() or ["exit status " + str(completed.returncode)])[-1]
        return False, f"bwrap cannot create a sandbox here: {last}"
    return True, ""


def choose_sandbox(requested: str | None) -> str:
    """"bwrap" or "none" for ``requested`` (else $THAMOS_BUILD_SANDBOX, else "auto")."""
    source = "sandbox" if requested is not None else SANDBOX_ENV
    mode = (requested if requested is not None else os.environ.get(SANDBOX_ENV, "auto")).strip().lower() or "auto"
    if mode not in SANDBOX_MODES:
        raise BuildFailed(f"{source} must be auto, bwrap or none, not {mode!r}", permanent=False,
                          stage="choosing the sandbox")
    if mode == "none":
        return "none"
    usable, why = bwrap_usable()
    if usable:
        return "bwrap"
    if mode == "bwrap":
        raise BuildFailed(f"the bwrap sandbox was asked for ({source}=bwrap) but {why}", permanent=False,
                          stage="choosing the sandbox")
    return "none"


def hidden_defaults(caller_cwd: str) -> list[str]:
    """What the hooks must not read even though the root is bound read-only."""
    paths = [os.path.expanduser("~"), "/root", "/tmp", "/var/tmp", "/run", "/etc/pip.conf",
             "/etc/xdg/pip", "/etc/netrc"]
    if os.path.realpath(caller_cwd) not in _SYSTEM_DIRS:
        paths.append(caller_cwd)
    return paths


def bwrap_command(command: Sequence[str], *, cwd: str, writable: str, readable: Sequence[str],
                  hidden: Sequence[str]) -> list[str]:
    """``command`` inside bubblewrap: read-only root, ``hidden`` masked, ``writable`` bound, no network."""
    arguments = ["bwrap", *_BWRAP_BASE]
    for path in dict.fromkeys(os.path.realpath(p) for p in hidden):
        if path in _SYSTEM_DIRS or not os.path.lexists(path):
            continue
        if os.path.isdir(path):
            arguments += ["--tmpfs", path]
        else:
            arguments += ["--ro-bind", "/dev/null", path]
    # Bound after the masks, so what lives inside a masked folder comes back.
    for path in dict.fromkeys(os.path.realpath(p) for p in readable):
        if os.path.exists(path):
            arguments += ["--ro-bind", path, path]
    real_work = os.path.realpath(writable)
    arguments += ["--bind", real_work, real_work, "--chdir", os.path.realpath(cwd), "--", *command]
    return arguments


# ---------------------------------------------------------------- running and cleaning up


def run_captured(command: Sequence[str], *, env: Mapping[str, str], cwd: str, keep_bytes: int) -> tuple[int, str]:
    """Run ``command`` to its end; its exit status and the last ``keep_bytes`` of its output."""
    process = subprocess.Popen(
        list(command), cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    kept: collections.deque[bytes] = collections.deque()
    size = 0
    assert process.stdout is not None
    with process.stdout:
        for chunk in iter(lambda: process.stdout.read1(65536), b""):  # type: ignore[union-attr]
            kept.append(chunk)
            size += len(chunk)
            while size - len(kept[0]) >= keep_bytes and len(kept) > 1:
                size -= len(kept.popleft())
    returncode = process.wait()
    data = b"".join(kept)[-keep_bytes:]
    return returncode, data.decode("utf-8", "replace")


def kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def kill_marked(marker: str) -> int:
    """SIGKILL every process of this user whose environment carries ``marker``: the ones that left
    the process group (setsid, double fork) are found this way. Returns how many were signalled."""
    needle = f"{MARKER_VARIABLE}={marker}".encode()
    killed = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry.name}/environ", "rb") as handle:
                environ = handle.read()
        except OSError:
            continue
        if b"\0" + needle + b"\0" in b"\0" + environ + b"\0":
            try:
                os.kill(int(entry.name), signal.SIGKILL)
                killed += 1
            except OSError:
                pass
    return killed


def remove_tree(path: Path) -> None:
    """Remove a build's folder even when the build left read-only folders in it."""

    def make_writable_and_retry(function, target, _info):  # noqa: ANN001 (shutil's callback)
        try:
            os.chmod(os.path.dirname(target), stat.S_IRWXU)
            if os.path.isdir(target) and not os.path.islink(target):
                os.chmod(target, stat.S_IRWXU)
            function(target)
        except OSError:
            pass

    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=make_writable_and_retry)
    else:
        shutil.rmtree(path, onerror=make_writable_and_retry)
