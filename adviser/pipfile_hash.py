"""The Pipfile hash stored in a Pipfile.lock as ``_meta.hash.sha256``.

It is the sha256 of the canonical JSON (sorted keys, no spaces) of the parts of the Pipfile that
decide the lock: ``{"_meta": {"requires", "sources"}, "default", "develop"}``. ``[thoth]``,
``[pipenv]`` and ``[scripts]`` are left out, so editing them keeps the lock valid. A Pipfile
without ``[[source]]`` is hashed with the default index as its one source, as pipenv does.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any


def hashed_content(pipfile: Mapping[str, Any], default_sources: list[dict[str, Any]] | None = None) -> dict:
    """The part of ``pipfile`` (a parsed Pipfile) that enters the hash."""
    sources = pipfile.get("source")
    if not sources:
        if default_sources is None:
            from adviser.index.sources import default_index_source

            default_sources = [default_index_source().as_pipfile_source()]
        sources = default_sources
    return {
        "_meta": {"requires": pipfile.get("requires") or {}, "sources": sources},
        "default": pipfile.get("packages") or {},
        "develop": pipfile.get("dev-packages") or {},
    }


def pipfile_hash(pipfile: Mapping[str, Any], default_sources: list[dict[str, Any]] | None = None) -> str:
    """Hex sha256 of the canonical JSON of ``hashed_content(pipfile)``."""
    canonical = json.dumps(
        hashed_content(pipfile, default_sources), sort_keys=True, separators=(",", ":"), default=str
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
