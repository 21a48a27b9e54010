"""Comparing two locks package by package (``thamos diff`` and the server's web view of two analyses).

Both sides are reduced to ``{canonical name: {name, version, hashes, index}}``: a Pipfile.lock
dict, or a pinned requirements.txt with ``--hash`` options.
"""

from __future__ import annotations

import re
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version


def packages_of_lock(lock: dict[str, Any], dev: bool = True) -> dict[str, dict[str, Any]]:
    packages: dict[str, dict[str, Any]] = {}
    for section in ("default", "develop") if dev else ("default",):
        for name, entry in (lock.get(section) or {}).items():
            entry = entry or {}
            version = entry.get("version") or ""
            if not version and ("git" in entry or "path" in entry):  # direct references have no version
                version = f"git {entry.get('ref')}" if "git" in entry else f"path {entry['path']}"
            packages[canonicalize_name(name)] = {
                "name": name,
                "version": version[2:] if version.startswith("==") else version,
                "hashes": sorted(entry.get("hashes") or []),
                "index": entry.get("index"),
            }
    return packages


def packages_of_requirements_txt(text: str) -> dict[str, dict[str, Any]]:
    """Pinned packages (with hashes) of a requirements.txt."""
    packages: dict[str, dict[str, Any]] = {}
    logical_lines = re.sub(r"\\\s*\n", " ", text).splitlines()
    for line in logical_lines:
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-")):
            continue
        match = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*==\s*([^\s;]+)", line)
        if not match:
            continue
        hashes = sorted(re.findall(r"--hash[= ](\S+)", line))
        packages[canonicalize_name(match.group(1))] = {
            "name": match.group(1), "version": match.group(3), "hashes": hashes, "index": None,
        }
    return packages


def lock_differences(current: dict[str, dict[str, Any]], advised: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Row per package that differs between two locks (added, removed, version, hashes, index)."""
    rows = []
    for key in sorted(set(current) | set(advised)):
        old, new = current.get(key), advised.get(key)
        if old is None:
            rows.append({"package": new["name"], "change": "added", "current": None, "advised": new["version"]})
            continue
        if new is None:
            rows.append({"package": old["name"], "change": "removed", "current": old["version"], "advised": None})
            continue
        if old["version"] != new["version"]:
            try:
                change = "upgraded" if Version(new["version"]) > Version(old["version"]) else "downgraded"
            except InvalidVersion:
                change = "changed"
            rows.append({"package": new["name"], "change": change, "current": old["version"],
                         "advised": new["version"]})
        elif old["hashes"] and new["hashes"] and old["hashes"] != new["hashes"]:
            rows.append({"package": new["name"], "change": "hashes", "current": old["version"],
                         "advised": new["version"]})
        elif old["index"] and new["index"] and old["index"] != new["index"]:
            rows.append({"package": new["name"], "change": f"index {old['index']} -> {new['index']}",
                         "current": old["version"], "advised": new["version"]})
    return rows
