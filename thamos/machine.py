"""Facts about this machine (hardware and software), used to fill runtime environments.

Every probe is best effort: when a tool or file is missing, or its output is unexpected, the probe
logs a debug line and answers ``None`` ("unknown"). A probe never raises and never returns a value of
the wrong type (CPU family and model are ints, versions are strings).
"""

from __future__ import annotations

import functools
import logging
import re
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import distro

from . import settings

_LOGGER = logging.getLogger(__name__)

T = TypeVar("T")

# Probes that run external tools must not hang a CLI call on a wedged driver.
_TOOL_TIMEOUT = 5.0
# Where shared libraries live when ldconfig is unavailable (containers without its cache, macOS...).
_LIBRARY_DIRS = ("/usr/lib64", "/usr/lib", "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
                 "/usr/local/lib", "/usr/local/lib64", "/usr/local/cuda/lib64", "/opt/intel/mkl/lib/intel64")
_VERSION_RE = re.compile(r"(\d+(?:\.\d+)+)")


def _probe(func: Callable[..., T | None]) -> Callable[..., T | None]:
    """Turn any failure of a probe into ``None`` with a debug log line."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> T | None:
        try:
            return func(*args, **kwargs)
        except Exception as exc:  # a probe must never break the command that asked
            _LOGGER.debug("Discovery probe %s failed, treating the value as unknown: %s", func.__name__, exc)
            return None

    return wrapper


def _run_tool(*cmd: str) -> str | None:
    """Run a tool if it is installed and return its stdout, else None."""
    if shutil.which(cmd[0]) is None:
        _LOGGER.debug("%s is not installed", cmd[0])
        return None
    completed = subprocess.run(cmd, capture_output=True, text=True, timeout=_TOOL_TIMEOUT, check=False)
    if completed.returncode != 0:
        _LOGGER.debug("%s exited with %d", " ".join(cmd), completed.returncode)
        return None
    return completed.stdout


def _to_int(value: str | None) -> int | None:
    if value is None:
        return None
    value = value.strip()
    return int(value) if value.isdigit() else None


@_probe
def discover_cpu(cpuinfo_path: str = "/proc/cpuinfo") -> dict[str, Any]:
    """Return ``cpu_family``, ``cpu_model`` (ints) and ``cpu_model_name`` of the first processor."""
    result: dict[str, Any] = {"cpu_family": None, "cpu_model": None, "cpu_model_name": None}
    try:
        text = Path(cpuinfo_path).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        _LOGGER.debug("Cannot read %s: %s", cpuinfo_path, exc)
        return result
    # Only the first processor block matters: all cores of one machine report the same model.
    for line in text.split("\n\n", 1)[0].splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip()
        if key == "cpu family":
            result["cpu_family"] = _to_int(value)
        elif key == "model":
            result["cpu_model"] = _to_int(value)
        elif key == "model name":
            result["cpu_model_name"] = value.strip() or None
    return result


def _normalize_os_version(name: str, version: str) -> str:
    """RHEL-like distributions are identified by their major version only (8, 9), as in Thoth."""
    if name in ("rhel", "centos", "rocky", "almalinux", "fedora") and version:
        return version.split(".", 1)[0]
    return version


@_probe
def discover_distribution() -> tuple[str | None, str | None]:
    """Return (name, version) of the operating system, e.g. ("fedora", "38") or ("ubuntu", "22.04")."""
    # os-release is enough where it exists; lsb_release and uname would each cost a process start.
    system = distro.LinuxDistribution(include_lsb=False, include_uname=not Path("/etc/os-release").is_file())
    name = (system.id() or "").strip().lower() or None
    version = (system.version() or "").strip() or None
    if name and version:
        version = _normalize_os_version(name, version)
    return name, version


@_probe
def discover_python_version() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


@_probe
def discover_platform() -> str:
    return sysconfig.get_platform()


@_probe
def discover_gpu() -> str | None:
    """Name of the first GPU from nvidia-smi, else from lspci."""
    output = _run_tool("nvidia-smi", "--query-gpu=name", "--format=csv,noheader")
    if output and output.strip():
        return output.strip().splitlines()[0].strip()
    output = _run_tool("lspci")
    if output:
        for line in output.splitlines():
            if "VGA compatible controller" in line or "3D controller" in line:
                return line.split(": ", 1)[-1].strip() or None
    return None


def cuda_disabled() -> bool:
    """THAMOS_DISABLE_CUDA, read outside the probes: a bad word is a ConfigurationError, not "unknown"."""
    return settings.flag("THAMOS_DISABLE_CUDA")


def discover_cuda_version() -> str | None:
    """CUDA version (major.minor) from nvcc, else the version the driver supports (nvidia-smi)."""
    if cuda_disabled():
        _LOGGER.debug("CUDA detection disabled by THAMOS_DISABLE_CUDA")
        return None
    return _probe_cuda_version()


@_probe
def _probe_cuda_version() -> str | None:
    output = _run_tool("nvcc", "--version")
    if output:
        match = re.search(r"release (\d+\.\d+)", output)
        if match:
            return match.group(1)
    output = _run_tool("nvidia-smi")
    if output:
        match = re.search(r"CUDA Version:\s*(\d+\.\d+)", output)
        if match:
            return match.group(1)
    return None


def _library_candidates(stem: str) -> list[Path]:
    """Paths of shared libraries whose file name starts with ``stem`` (ldconfig first, then known dirs)."""
    found: list[Path] = []
    output = _ldconfig_listing() if sys.platform.startswith("linux") else None
    if output:
        for line in output.splitlines():
            lib, _, path = line.strip().partition(" => ")
            if lib.startswith(stem) and path:
                found.append(Path(path.strip()))
    if not found:
        for directory in _LIBRARY_DIRS:
            base = Path(directory)
            if base.is_dir():
                found.extend(sorted(base.glob(f"{stem}*")))
    return found


@functools.lru_cache(maxsize=1)
def _ldconfig_listing() -> str | None:
    """`ldconfig -p`, run once per command for the several libraries looked up in it."""
    return _run_tool("ldconfig", "-p")


def _library_version(stem: str) -> str | None:
    """Version of a shared library read from its resolved file name (libfoo.so.1.2.3, libfoop-r0.3.21.so)."""
    for path in _library_candidates(stem):
        try:
            real_name = path.resolve().name
        except OSError:
            continue
        match = _VERSION_RE.search(real_name.replace(stem, "", 1))
        if match:
            return match.group(1)
    return None


def discover_cudnn_version() -> str | None:
    return None if cuda_disabled() else _probe_cudnn_version()


@_probe
def _probe_cudnn_version() -> str | None:
    for header in ("/usr/include/cudnn_version.h", "/usr/local/cuda/include/cudnn_version.h"):
        path = Path(header)
        if path.is_file():
            text = path.read_text(errors="replace")
            major = re.search(r"#define CUDNN_MAJOR\s+(\d+)", text)
            minor = re.search(r"#define CUDNN_MINOR\s+(\d+)", text)
            if major:
                return major.group(1) + (f".{minor.group(1)}" if minor else "")
    return _library_version("libcudnn")


@_probe
def discover_mkl_version() -> str | None:
    return _library_version("libmkl_rt")


@_probe
def discover_openblas_version() -> str | None:
    return _library_version("libopenblas")


@_probe
def discover_base_image() -> str | None:
    """The container image thamos runs in, from the s2i environment or container runtime markers."""
    for variable in ("THOTH_S2I_NAME", "THOTH_BASE_IMAGE"):
        value = settings.text(variable)
        if value:
            name = value.strip()
            version = settings.text("THOTH_S2I_VERSION") if variable == "THOTH_S2I_NAME" else None
            if version and ":" not in name:
                name = f"{name}:{version.strip()}"
            return name
    containerenv = Path("/run/.containerenv")  # written by podman, may name the image
    if containerenv.is_file():
        for line in containerenv.read_text(errors="replace").splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "image" and value.strip().strip('"'):
                return value.strip().strip('"')
    return None


def discover_runtime_environment(name: str | None = None) -> dict[str, Any]:
    """A runtime environment entry (the shape used in ``.thoth.yaml``) describing this machine."""
    cpu = discover_cpu() or {}
    os_name, os_version = discover_distribution() or (None, None)
    return {
        "name": name or default_runtime_environment_name(os_name, os_version),
        "operating_system": {"name": os_name, "version": os_version},
        "hardware": {
            "cpu_family": cpu.get("cpu_family"),
            "cpu_model": cpu.get("cpu_model"),
            "gpu_model": discover_gpu(),
        },
        "python_version": discover_python_version(),
        "cuda_version": discover_cuda_version(),
        "cudnn_version": discover_cudnn_version(),
        "mkl_version": discover_mkl_version(),
        "openblas_version": discover_openblas_version(),
        "recommendation_type": "stable",
        "platform": discover_platform(),
        "base_image": discover_base_image(),
    }


def default_runtime_environment_name(os_name: str | None, os_version: str | None) -> str:
    """A readable default environment name such as ``fedora-38``; ``default`` when the OS is unknown."""
    if not os_name:
        return "default"
    name = f"{os_name}-{os_version}" if os_version else os_name
    # Keep to the characters the configuration schema allows in names.
    return re.sub(r"[^a-zA-Z0-9:_.-]", "-", name)
