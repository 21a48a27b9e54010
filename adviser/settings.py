"""Settings of one adviser run (shared by concurrent resolutions of one backend)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the index package is imported lazily: it pulls in the HTTP stack
    from adviser.index import IndexSource

BUILDS_ALWAYS = "always"
BUILDS_NEVER = "never"
# A project name as PEP 508 allows it (letters, digits, and . _ - inside).
_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)


class BuildSettingError(ValueError):
    """A build setting has a value the adviser cannot use; the message names it."""


def parse_builds(value: Any) -> str | tuple[str, ...]:
    """``"always"``, ``"never"`` or the normalized names of the packages allowed to build.

    Accepts those words, "NAME[,NAME...]" or a list of names; anything else is a BuildSettingError.
    """
    if isinstance(value, str):
        word = value.strip().lower()
        if word in (BUILDS_ALWAYS, BUILDS_NEVER):
            return word
        items: Iterable[Any] = value.split(",")
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = value
    else:
        raise BuildSettingError(f"builds must be 'always', 'never' or a list of package names, got {value!r}")
    names = []
    for item in items:
        text = str(item).strip()
        if not text:
            continue
        if not _NAME.match(text) or text.lower() in (BUILDS_ALWAYS, BUILDS_NEVER):
            raise BuildSettingError(
                f"builds: {text!r} is not a package name (use 'always', 'never' or NAME[,NAME...])"
            )
        names.append(re.sub(r"[-_.]+", "-", text).lower())
    if not names:
        raise BuildSettingError("builds is empty: use 'always', 'never' or NAME[,NAME...]")
    return tuple(sorted(set(names)))


def check_build_limits(timeout: float, memory_mb: int, max_source_mb: int) -> None:
    """Raise BuildSettingError naming the first limit a build cannot run with."""
    if timeout <= 0:
        raise BuildSettingError(f"build_timeout must be a positive number of seconds, got {timeout:g}")
    if memory_mb < 64:
        raise BuildSettingError(f"build_memory_mb must be at least 64 (MB), got {memory_mb}")
    if max_source_mb < 1:
        raise BuildSettingError(f"build_max_source_mb must be at least 1 (MB), got {max_source_mb}")


@dataclass
class AdviserSettings:
    """How the adviser reaches indexes, caches what it read and finds advisories.

    Builds: the metadata of an sdist that does not state its dependencies statically is prepared
    in a sandboxed PEP 517 build (``sourcebuild``) when ``builds`` allows it: "always", "never",
    or a tuple of normalized package names. ``build_pythons`` adds interpreters to choose from
    (the one matching the target's Python version is used).
    """

    cache_dir: Path
    page_ttl: float = 3600.0
    force_refresh: bool = False
    known_indexes: list[IndexSource] = field(default_factory=list)
    default_index: IndexSource | None = None
    # Other URLs of known indexes: "alias_url=canonical_url,..." or {alias: canonical} (adviser.aliases).
    index_aliases: dict[str, str] | str | None = None
    # OSV advisories (adviser.advisories): None is the snapshot shipped in the package, "none" no data.
    advisory_db: Path | str | None = None
    max_workers: int = 16
    timeout: float = 30.0
    # Seconds one index answer may take in all (a slow drip passes every read timeout), and one
    # analysis' index reads in all (AnalysisDeadline after it); None: no limit.
    response_budget: float | None = 120.0
    analysis_deadline: float | None = 300.0
    builds: str | tuple[str, ...] = BUILDS_ALWAYS
    build_timeout: float = 120.0
    build_memory_mb: int = 2048
    build_max_source_mb: int = 1024
    build_pythons: tuple[str, ...] = ()
    # Prescriptions: the compiled knowledge base (adviser.prescriptions.compiled), the units
    # switched off by name ({full name: reason}; None: adviser.prescriptions.request.DEFAULT_DENIED)
    # and the base of short justification links.
    prescriptions: Path | None = None
    prescriptions_denied: dict[str, str] | None = None
    prescriptions_link_base: str | None = None

    def __post_init__(self) -> None:
        self.builds = parse_builds(self.builds)
        self.build_pythons = tuple(str(path) for path in self.build_pythons)
        check_build_limits(self.build_timeout, self.build_memory_mb, self.build_max_source_mb)
