"""Settings of one adviser run (shared by concurrent resolutions of one backend)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the index package is imported lazily: it pulls in the HTTP stack
    from adviser.index import IndexSource


@dataclass
class AdviserSettings:
    """How the adviser reaches indexes, caches what it read and finds advisories."""

    cache_dir: Path
    page_ttl: float = 3600.0
    force_refresh: bool = False
    known_indexes: list[IndexSource] = field(default_factory=list)
    default_index: IndexSource | None = None
    # Other URLs of known indexes: "alias_url=canonical_url,..." or {alias: canonical} (adviser.aliases).
    index_aliases: dict[str, str] | str | None = None
    advisory_db: Path | None = None
    max_workers: int = 16
    timeout: float = 30.0
