"""Pipfile.lock (pipfile-spec 6): its shape, its entries, and its text the way pipenv writes it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from stackfiles.errors import StackFileError
from stackfiles.pipfile import pipfile_hash

_TYPE_NAMES = {str: "string", list: "list", dict: "object", bool: "boolean"}
_ENTRY_FIELDS = (("version", str), ("markers", str), ("index", str), ("hashes", list), ("path", str),
                 ("git", str), ("ref", str), ("editable", bool))


def read_pipfile_lock(text: str, source: str) -> dict[str, Any]:
    """The lock as a dict, after checking the shape thamos, the adviser and pipenv rely on."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StackFileError(f"{source}: not a valid Pipfile.lock (JSON): {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("_meta", {}), dict):
        raise StackFileError(f"{source}: not a Pipfile.lock document (expected an object with _meta)")
    _check_meta(data.get("_meta", {}), source)
    for section in ("default", "develop"):
        entries = data.get(section, {})
        if not isinstance(entries, dict):
            raise StackFileError(f"{source}: {section!r} must map package names to entries")
        for name, entry in entries.items():
            _check_entry(entry, f"{source}: {section}.{name}")
    return data


def _check_meta(meta: Mapping[str, Any], source: str) -> None:
    for key, kind in (("hash", dict), ("requires", dict), ("sources", list)):
        if key in meta and not isinstance(meta[key], kind):
            raise StackFileError(f"{source}: _meta.{key} must be {'an object' if kind is dict else 'a list'}")
    digest = (meta.get("hash") or {}).get("sha256")
    if digest is not None and not isinstance(digest, str):
        raise StackFileError(f"{source}: _meta.hash.sha256 must be a string")


def _check_entry(entry: Any, where: str) -> None:
    if not isinstance(entry, dict):
        raise StackFileError(f"{where} must be an object with version and hashes")
    for key, kind in _ENTRY_FIELDS:
        if entry.get(key) is not None and not isinstance(entry[key], kind):
            raise StackFileError(f"{where}.{key} must be a {_TYPE_NAMES[kind]}")


def lock_hash(lock: Mapping[str, Any]) -> str | None:
    """The ``_meta.hash.sha256`` a lock carries, or None."""
    return ((lock.get("_meta") or {}).get("hash") or {}).get("sha256")


def render_pipfile_lock(lock: Mapping[str, Any]) -> str:
    """Pipfile.lock text the way pipenv writes it (sorted keys, 4 spaces, final newline)."""
    return json.dumps(lock, indent=4, sort_keys=True) + "\n"


def lock_sources(pipfile: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``_meta.sources`` of a lock made from ``pipfile``."""
    return [
        {"name": s.get("name"), "url": s.get("url"), "verify_ssl": bool(s.get("verify_ssl", True))}
        for s in pipfile.get("source") or []
    ]


def build_pipfile_lock(
    pipfile: Mapping[str, Any], default: Mapping[str, dict], develop: Mapping[str, dict]
) -> dict[str, Any]:
    """A pipfile-spec 6 lock for ``pipfile``; every index entry must name one of its sources."""
    sources = lock_sources(pipfile)
    names = {s["name"] for s in sources}
    for section in (default, develop):
        for name, entry in section.items():
            if "path" in entry or "git" in entry:
                continue  # a direct reference names no index
            if entry.get("index") not in names:
                raise ValueError(f"lock entry {name} names index {entry.get('index')!r} missing from _meta.sources")
    return {
        "_meta": {
            "hash": {"sha256": pipfile_hash(pipfile)},
            "pipfile-spec": 6,
            "requires": dict(pipfile.get("requires") or {}),
            "sources": sources,
        },
        "default": {name: default[name] for name in sorted(default)},
        "develop": {name: develop[name] for name in sorted(develop)},
    }


def package_entry(version: str, hashes: list[str], index: str, markers: str | None, extras: list[str]) -> dict:
    """One locked package from an index: pinned version, every sha256 of it, its index and condition."""
    entry: dict[str, Any] = {"hashes": sorted(f"sha256:{h}" for h in set(hashes)), "index": index}
    if extras:
        entry["extras"] = sorted(extras)
    if markers:
        entry["markers"] = markers
    entry["version"] = f"=={version}"
    return entry


def direct_entry(reference: Mapping[str, Any], markers: str | None, extras: list[str]) -> dict:
    """The entry of a local path or git package, as pipenv writes it (no version, no hashes)."""
    entry = dict(reference)
    if extras:
        entry["extras"] = sorted(extras)
    if markers:
        entry["markers"] = markers
    return entry
