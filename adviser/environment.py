"""The target runtime environment: marker values and wheel tags of the machine that will run the stack.

The adviser never looks at the host it runs on. Everything is derived from the runtime environment
of the request:

* ``python_version`` "3.11" names a minor release; markers need a patch level, so the latest patch
  release known to this table is used (``KNOWN_PATCH_LEVELS``) and reported in stack_info. A full
  version such as "3.11.4" is used as given.
* ``platform`` is a sysconfig-style string: ``linux-x86_64``, ``linux-aarch64``,
  ``macosx-11.0-arm64``, ``macosx-10.15-x86_64``, ``win-amd64``, ``win32``, ``win-arm64``.
* The operating system (name + version) fixes the C library: glibc level for manylinux tags
  (``GLIBC_BY_OS``), musl for Alpine (musllinux tags). An unknown distribution falls back to
  ``DEFAULT_GLIBC`` with a WARNING.
* Wheel tags come from ``packaging.tags`` for the target interpreter: its own ABI (``cp37m`` for
  the pymalloc builds of CPython 3.7 and earlier, ``cp311`` from 3.8 on), then ``abi3``, then
  ``none``, then pure-Python tags.
* ``cuda_version`` is carried for the recommendation policies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from packaging.tags import Tag, compatible_tags, cpython_tags, mac_platforms

# Latest patch release of each CPython minor version known when this table was written.
KNOWN_PATCH_LEVELS = {
    "3.6": "3.6.15",
    "3.7": "3.7.17",
    "3.8": "3.8.20",
    "3.9": "3.9.25",
    "3.10": "3.10.19",
    "3.11": "3.11.14",
    "3.12": "3.12.12",
    "3.13": "3.13.9",
    "3.14": "3.14.0",
}

# glibc shipped by each distribution release (major.minor of the C library).
GLIBC_BY_OS: dict[str, dict[str, tuple[int, int]]] = {
    "rhel": {"7": (2, 17), "8": (2, 28), "9": (2, 34), "10": (2, 39)},
    "ubuntu": {
        "18.04": (2, 27),
        "20.04": (2, 31),
        "22.04": (2, 35),
        "24.04": (2, 39),
        "24.10": (2, 40),
        "25.04": (2, 41),
    },
    "debian": {"10": (2, 28), "11": (2, 31), "12": (2, 36), "13": (2, 41)},
    "amzn": {"2": (2, 26), "2023": (2, 34)},
}
# Names that share the RHEL table.
RHEL_ALIKE = {"rhel", "ubi", "centos", "rocky", "almalinux", "alma", "ol", "redhat"}
DEFAULT_GLIBC = (2, 28)
DEFAULT_PLATFORM = "linux-x86_64"
LATEST_MUSL = (1, 2)


class TargetEnvironmentError(ValueError):
    """The runtime environment cannot be understood (bad platform string, bad Python version)."""


@dataclass
class TargetEnvironment:
    """Everything the resolver needs to know about the target."""

    python_version: str
    python_full_version: str
    platform: str
    os_name: str | None
    os_version: str | None
    libc: str  # "glibc 2.28", "musl 1.2", "macOS 11.0", "Windows"
    cuda_version: str | None
    markers: dict[str, str]
    tags: list[Tag]
    notes: list[dict[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Lower rank = more specific tag = preferred wheel.
        self.tag_rank: dict[Tag, int] = {}
        for rank, tag in enumerate(self.tags):
            self.tag_rank.setdefault(tag, rank)

    def python_tuple(self) -> tuple[int, int]:
        major, minor = self.python_version.split(".")[:2]
        return int(major), int(minor)


def _note(kind: str, message: str) -> dict[str, str]:
    return {"type": kind, "message": message, "link": ""}


def _python_levels(python_version: str | None, notes: list[dict[str, str]]) -> tuple[str, str]:
    if not python_version:
        python_version = "3.11"
        notes.append(_note("WARNING", "No Python version stated for the target; assuming Python 3.11"))
    python_version = str(python_version).strip()
    match = re.fullmatch(r"(\d+)\.(\d+)(?:\.(\d+))?", python_version)
    if not match:
        raise TargetEnvironmentError(f"Python version {python_version!r} is not of the form 3.11 or 3.11.4")
    minor = f"{match.group(1)}.{match.group(2)}"
    if match.group(3) is not None:
        full = python_version
        notes.append(_note("INFO", f"python_full_version evaluated as {full} (stated)"))
    elif minor in KNOWN_PATCH_LEVELS:
        full = KNOWN_PATCH_LEVELS[minor]
        notes.append(_note("INFO", f"python_full_version evaluated as {full} (latest known {minor} release)"))
    else:
        full = f"{minor}.0"
        notes.append(
            _note(
                "WARNING",
                f"Python {minor} is not in the known releases; python_full_version evaluated as {full}",
            )
        )
    return minor, full


def target_python(stated: Any, pipfile_python: str | None) -> tuple[str | None, str | None]:
    """The Python version to resolve for, and a WARNING text when the two sources disagree.

    The runtime environment wins; when both name the same minor release, the more precise of the
    two is used ("3.9" and "3.9.13" mean 3.9.13), so a patch level is never dropped.
    """
    stated = str(stated).strip() if stated else None
    if not stated or not pipfile_python:
        return stated or pipfile_python, None
    ours, theirs = stated.split("."), str(pipfile_python).strip().split(".")
    shorter = min(len(ours), len(theirs))
    if ours[:shorter] == theirs[:shorter]:
        return (stated if len(ours) >= len(theirs) else pipfile_python), None
    return stated, (
        f"The runtime environment targets Python {stated} while the Pipfile requires {pipfile_python}; "
        "resolving for the runtime environment"
    )


def _glibc_for(os_name: str | None, os_version: str | None, notes: list[dict[str, str]]) -> tuple[int, int]:
    name = (os_name or "").strip().lower()
    version = (os_version or "").strip()
    if not name:
        notes.append(
            _note("INFO", f"No operating system stated; assuming glibc {DEFAULT_GLIBC[0]}.{DEFAULT_GLIBC[1]}")
        )
        return DEFAULT_GLIBC
    if name in RHEL_ALIKE:
        name = "rhel"
        version = version.split(".")[0]
    if name == "fedora":
        try:
            release = int(version.split(".")[0])
        except ValueError:
            release = 0
        if 27 <= release <= 45:
            # Each Fedora release since 27 ships glibc 2.(release - 1).
            return (2, release - 1)
    table = GLIBC_BY_OS.get(name, {})
    if version in table:
        return table[version]
    notes.append(
        _note(
            "WARNING",
            f"Unknown operating system {os_name} {os_version or ''}".rstrip()
            + f"; assuming glibc {DEFAULT_GLIBC[0]}.{DEFAULT_GLIBC[1]} for manylinux wheels",
        )
    )
    return DEFAULT_GLIBC


def _linux_platforms(arch: str, glibc: tuple[int, int]) -> list[str]:
    platforms = [f"manylinux_{glibc[0]}_{minor}_{arch}" for minor in range(glibc[1], 16, -1)]
    if glibc >= (2, 17):
        platforms.append(f"manylinux2014_{arch}")
    if arch in ("x86_64", "i686"):
        # The two oldest policies only ever existed for Intel architectures.
        if glibc >= (2, 12):
            platforms += [f"manylinux_2_12_{arch}", f"manylinux2010_{arch}"]
        if glibc >= (2, 5):
            platforms += [f"manylinux_2_5_{arch}", f"manylinux1_{arch}"]
    platforms.append(f"linux_{arch}")
    return platforms


def _musl_platforms(arch: str, musl: tuple[int, int]) -> list[str]:
    platforms = [f"musllinux_{musl[0]}_{minor}_{arch}" for minor in range(musl[1], -1, -1)]
    platforms.append(f"linux_{arch}")
    return platforms


LINUX_ARCHES = {
    "x86_64": "x86_64",
    "amd64": "x86_64",
    "aarch64": "aarch64",
    "arm64": "aarch64",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "i686": "i686",
}


def cpython_abi(python: tuple[int, ...]) -> str:
    """The ABI tag of a release build of CPython ``python``: pymalloc builds before 3.8 add "m"."""
    major, minor = python[0], python[1]
    return f"cp{major}{minor}" + ("m" if (major, minor) < (3, 8) else "")


def build_target(
    runtime_environment: dict[str, Any] | None, pipfile_python: str | None = None
) -> TargetEnvironment:
    """Derive marker values and supported tags from a request's runtime environment."""
    runtime = runtime_environment or {}
    notes: list[dict[str, str]] = []
    python_version = runtime.get("python_version") or pipfile_python
    minor, full = _python_levels(python_version, notes)
    major_minor = tuple(int(x) for x in minor.split("."))
    platform = _stated_platform(runtime, notes)
    os_name, os_version = _operating_system(runtime)
    platforms, libc, markers_platform = _platform_facts(platform, os_name, os_version, notes)
    notes.append(
        _note("INFO", f"Target: CPython {full} on {platform}, {libc}; wheel tags from {platforms[0]}")
    )
    cuda = runtime.get("cuda_version")
    if cuda:
        notes.append(_note("INFO", f"Target CUDA version {cuda}"))
    return TargetEnvironment(
        python_version=minor,
        python_full_version=full,
        platform=platform,
        os_name=os_name,
        os_version=os_version,
        libc=libc,
        cuda_version=str(cuda) if cuda else None,
        markers=_markers(minor, full, markers_platform),
        tags=_wheel_tags(major_minor, platforms),
        notes=notes,
    )


def _stated_platform(runtime: dict[str, Any], notes: list[dict[str, str]]) -> str:
    platform = (runtime.get("platform") or "").strip()
    if not platform:
        platform = DEFAULT_PLATFORM
        notes.append(_note("INFO", f"No platform stated for the target; assuming {DEFAULT_PLATFORM}"))
    return platform


def _operating_system(runtime: dict[str, Any]) -> tuple[str | None, str | None]:
    os_info = runtime.get("operating_system") or {}
    os_name = os_info.get("name") if isinstance(os_info, dict) else None
    os_version = os_info.get("version") if isinstance(os_info, dict) else None
    return os_name, (str(os_version) if os_version is not None else None)


# What a platform fixes: the platform parts of wheel tags, the C library, the platform markers.
PlatformFacts = tuple[list[str], str, dict[str, str]]


def _platform_facts(
    platform: str, os_name: str | None, os_version: str | None, notes: list[dict[str, str]]
) -> PlatformFacts:
    lowered = platform.lower()
    if lowered.startswith("linux-"):
        return _linux_facts(platform, os_name, os_version, notes)
    if lowered.startswith("macosx-"):
        return _macos_facts(platform)
    if lowered in ("win-amd64", "win32", "win-arm64"):
        return _windows_facts(lowered)
    raise TargetEnvironmentError(
        f"Unsupported platform {platform!r}: use linux-x86_64, linux-aarch64, macosx-11.0-arm64, win-amd64 or win32"
    )


def _linux_facts(
    platform: str, os_name: str | None, os_version: str | None, notes: list[dict[str, str]]
) -> PlatformFacts:
    arch = LINUX_ARCHES.get(platform.lower().split("-", 1)[1])
    if arch is None:
        raise TargetEnvironmentError(f"Unsupported Linux architecture in platform {platform!r}")
    if (os_name or "").strip().lower() == "alpine":
        platforms = _musl_platforms(arch, LATEST_MUSL)
        libc = f"musl {LATEST_MUSL[0]}.{LATEST_MUSL[1]}"
    else:
        glibc = _glibc_for(os_name, os_version, notes)
        platforms = _linux_platforms(arch, glibc)
        libc = f"glibc {glibc[0]}.{glibc[1]}"
    markers = {
        "os_name": "posix",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": arch,
    }
    return platforms, libc, markers


def _macos_facts(platform: str) -> PlatformFacts:
    match = re.fullmatch(r"macosx-(\d+)(?:\.(\d+))?-(\w+)", platform.lower())
    if not match:
        raise TargetEnvironmentError(f"Platform {platform!r} is not of the form macosx-11.0-arm64")
    mac_version = (int(match.group(1)), int(match.group(2) or 0))
    arch = match.group(3)
    markers = {
        "os_name": "posix",
        "sys_platform": "darwin",
        "platform_system": "Darwin",
        "platform_machine": arch,
    }
    return list(mac_platforms(mac_version, arch)), f"macOS {mac_version[0]}.{mac_version[1]}", markers


def _windows_facts(lowered: str) -> PlatformFacts:
    platforms = [{"win-amd64": "win_amd64", "win32": "win32", "win-arm64": "win_arm64"}[lowered]]
    machine = {"win-amd64": "AMD64", "win32": "x86", "win-arm64": "ARM64"}[lowered]
    markers = {
        "os_name": "nt",
        "sys_platform": "win32",
        "platform_system": "Windows",
        "platform_machine": machine,
    }
    return platforms, "Windows", markers


def _wheel_tags(major_minor: tuple[int, ...], platforms: list[str]) -> list[Tag]:
    interpreter = f"cp{major_minor[0]}{major_minor[1]}"
    tags = list(cpython_tags(major_minor, abis=[cpython_abi(major_minor)], platforms=platforms))
    return tags + list(compatible_tags(major_minor, interpreter=interpreter, platforms=platforms))


def _markers(minor: str, full: str, markers_platform: dict[str, str]) -> dict[str, str]:
    return {
        "implementation_name": "cpython",
        "implementation_version": full,
        "platform_python_implementation": "CPython",
        "python_version": minor,
        "python_full_version": full,
        # Not knowable for a target that is not this machine; constraints may not use them.
        "platform_release": "",
        "platform_version": "",
        **markers_platform,
    }
