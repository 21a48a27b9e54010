"""A prebuilt advisory index: one zip archive, one deflated JSON member per package.

The zip's central directory is the index by package name: opening the bundle reads it (a few
hundred entries, well under a millisecond) and a package's advisories are inflated only when the
resolution asks for that package. ``index.json`` inside says where the snapshot comes from, its
date, its license and its counts.

The copy shipped in ``adviser/data/`` is built from the PyPA advisory database (CC-BY-4.0; its
LICENSE and NOTICE sit next to it) by ``tools/build_advisory_bundle.py``.
"""

from __future__ import annotations

import json
import os
import zipfile
from datetime import datetime, timezone
from pathlib import Path

from packaging.utils import canonicalize_name

BUNDLE_FORMAT = 1
INDEX_MEMBER = "index.json"
DATA = Path(__file__).parent / "data"
SHIPPED = DATA / "pypa-advisory-db.zip"


class BundleError(ValueError):
    """The archive is not an advisory bundle this version can read."""


def is_bundle(path: Path) -> bool:
    """Whether ``path`` is a zip holding a bundle index (not a zip of OSV documents)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return INDEX_MEMBER in archive.NameToInfo and not any(
                name.endswith((".yaml", ".yml")) for name in archive.NameToInfo
            )
    except (OSError, zipfile.BadZipFile):
        return False


class Bundle:
    """An open bundle: its index, and the records of one package on demand."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            # Kept open: reading the central directory is most of the cost of opening the bundle.
            self.archive = zipfile.ZipFile(self.path)
            self._pid = os.getpid()
            self.index = json.loads(self.archive.read(INDEX_MEMBER))
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
            raise BundleError(f"{self.path}: not a readable advisory bundle ({exc})") from None
        self.members = {
            name[len("packages/"):-len(".json")]
            for name in self.archive.NameToInfo
            if name.startswith("packages/") and name.endswith(".json")
        }
        if self.index.get("format") != BUNDLE_FORMAT:
            raise BundleError(f"{self.path}: advisory bundle format {self.index.get('format')!r} is not {BUNDLE_FORMAT}")

    def records(self, name: str) -> list[dict]:
        name = canonicalize_name(name)
        if name not in self.members:
            return []
        if self._pid != os.getpid():  # a forked child: the inherited file's offset is shared, reopen
            self.archive, self._pid = zipfile.ZipFile(self.path), os.getpid()
        # ZipFile reads of one open archive are safe from several threads (it locks its file).
        return json.loads(self.archive.read(f"packages/{name}.json"))


def build_bundle(records: list[dict], newest: str | None, out: Path, *, source: str, date: str | None,
                 license_name: str = "") -> dict:
    """Write the bundle of parsed records (adviser.advisories' record shape) to ``out``; its index."""
    by_package: dict[str, list[dict]] = {}
    for record in records:
        by_package.setdefault(record["package"], []).append(record)
    index = {
        "format": BUNDLE_FORMAT,
        "source": source,
        # The snapshot's date: as stated, else the newest "modified" of its documents.
        "date": date or (newest or "")[:10] or None,
        "license": license_name,
        "advisories": len({record["id"] for record in records}),
        "packages": len(by_package),
        "built": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    partial = out.with_name(f"{out.name}.{os.getpid()}.partial")  # several processes may build at once
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr(INDEX_MEMBER, json.dumps(index, indent=1, sort_keys=True))
        for name in sorted(by_package):
            body = json.dumps(by_package[name], separators=(",", ":"), sort_keys=True)
            archive.writestr(f"packages/{name}.json", body)
    os.replace(partial, out)
    return index
