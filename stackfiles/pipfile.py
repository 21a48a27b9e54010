"""Pipfile: reading one, and THE lock hash (``_meta.hash.sha256`` of its Pipfile.lock).

The hash follows pipenv's definition (``Pipfile.calculate_hash`` of current pipenv): the sha256 of
the canonical JSON (sorted keys, compact separators) of ``{"_meta": {"requires", "sources"},
"default": [packages], "develop": [dev-packages], <other package categories>}``, with package
names in their PEP 503 canonical form. A Pipfile without ``[[source]]`` is hashed with pipenv's
default source (named "pypi", pip's built-in index, verify_ssl true); ``requires`` absent or empty
is ``{}``. ``[scripts]``, ``[pipenv]`` and ``[pipfile]`` never enter it. pipenv reads any other
top-level table as a package category; ``[thoth]`` is the exception here: it holds adviser
settings, not packages (pipenv refuses such Pipfiles), so editing it keeps a lock valid.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from packaging.utils import canonicalize_name

from stackfiles.errors import StackFileError
from stackfiles.toml import load_toml

DEFAULT_SOURCE_NAME = "pypi"
# Top-level tables that are not package categories.
NOT_PACKAGE_CATEGORIES = frozenset(
    {"source", "packages", "dev-packages", "requires", "scripts", "pipfile", "pipenv", "thoth", "default", "develop"}
)


def read_pipfile(text: str, source: str) -> dict[str, Any]:
    """The Pipfile as plain data after checking its top-level shape; StackFileError naming ``source``."""
    data = load_toml(text, source)
    for section in ("packages", "dev-packages", "requires"):
        if section in data and not isinstance(data[section], dict):
            raise StackFileError(f"{source}: [{section}] must be a table")
    sources = data.get("source")
    if "source" in data and not (isinstance(sources, list) and all(isinstance(s, dict) for s in sources)):
        raise StackFileError(f"{source}: source must be an array of tables ([[source]])")
    return data


def pip_default_index_url() -> str:
    """pip's built-in default index, read from the installed pip (never written into this project)."""
    try:
        from pip._internal.models.index import PyPI
    except Exception as exc:  # pip missing or its internals moved
        raise RuntimeError(
            "no package index is configured and pip's default index cannot be read "
            f"({exc}); set PIP_INDEX_URL or `index-url` in pip.conf"
        ) from exc
    return PyPI.simple_url


def default_pipfile_source() -> dict[str, Any]:
    """The ``[[source]]`` pipenv assumes for a Pipfile that lists none."""
    return {"name": DEFAULT_SOURCE_NAME, "url": pip_default_index_url(), "verify_ssl": True}


def package_categories(pipfile: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """Every package table by its lock section name: default, develop and custom categories."""
    categories: dict[str, Mapping[str, Any]] = {
        "default": pipfile.get("packages") or {},
        "develop": pipfile.get("dev-packages") or {},
    }
    for name, value in pipfile.items():
        if name not in NOT_PACKAGE_CATEGORIES and isinstance(value, Mapping):
            categories[name] = value
    return categories


def hashed_content(pipfile: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a parsed Pipfile that enters the lock hash (see the module docstring)."""
    content: dict[str, Any] = {
        "_meta": {
            "requires": pipfile.get("requires") or {},
            "sources": pipfile.get("source") or [default_pipfile_source()],
        }
    }
    for category, packages in package_categories(pipfile).items():
        content[category] = {canonicalize_name(name): spec for name, spec in packages.items()}
    return content


def pipfile_hash(pipfile: Mapping[str, Any]) -> str:
    """Hex sha256 a Pipfile.lock made from ``pipfile`` carries as ``_meta.hash.sha256``."""
    canonical = json.dumps(hashed_content(pipfile), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def same_lock_inputs(left: Mapping[str, Any], right: Mapping[str, Any]) -> bool:
    """True when both Pipfiles give the same lock hash (formatting, comments and [thoth] aside)."""
    return pipfile_hash(left) == pipfile_hash(right)
