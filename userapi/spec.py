"""The OpenAPI document the server serves, read once per process.

The spec ships inside the package (userapi/openapi.yaml links to openapi/openapi.yaml in the
source tree, and is a copy of it in built distributions). It is parsed with libyaml when PyYAML
has it: the pure-Python parser takes ~0.15 s for this file, and the server used to parse it three
times at start (its own facts, connexion's routes, the workers' contract check).
"""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

SPEC_PATH = Path(__file__).parent / "openapi.yaml"

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@lru_cache(maxsize=4)
def _parsed(path: Path) -> dict[str, Any]:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)  # noqa: S506 -- a safe loader


def load_spec(path: Path = SPEC_PATH) -> dict[str, Any]:
    """The spec at `path` as a dict of its own (callers may change it)."""
    return copy.deepcopy(_parsed(path))
