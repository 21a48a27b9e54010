"""Core metadata from a source distribution's PKG-INFO, when it can be trusted without a build.

PKG-INFO of an sdist is authoritative for dependencies only from Metadata-Version 2.2 on, and only
when ``Requires-Dist`` is not declared ``Dynamic`` (PEP 643). Anything else needs a build
(``NeedsBuild``; see adviser.index.builds).

A quick look downloads at most SDIST_SIZE_LIMIT into memory; a bigger sdist is streamed to a
temporary file by the look that may build (``download_sdist_to_file``), up to the build ceiling.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile
from pathlib import Path

from packaging.version import InvalidVersion, Version

from adviser.index.core_metadata import parse_headers
from adviser.index.errors import MetadataUnavailable, NeedsBuild
from adviser.index.http import HttpSession, ResponseTooLarge

# A quick look reads sdists up to this size in memory; bigger ones wait for the resolver's look.
SDIST_SIZE_LIMIT = 20 * 1024 * 1024


def download_sdist(
    http: HttpSession, url: str, filename: str, *, verify: bool = True, sha256: str | None = None
) -> bytes:
    """The sdist's bytes (checked against ``sha256`` when known); NeedsBuild(too_large) when big."""
    try:
        response = http.get(
            url, headers={"Accept-Encoding": "identity"}, verify=verify, max_bytes=SDIST_SIZE_LIMIT
        )
    except ResponseTooLarge:
        raise NeedsBuild(
            f"sdist {filename} is larger than {SDIST_SIZE_LIMIT // (1024 * 1024)} MB", too_large=True
        ) from None
    if response.status != 200:
        raise MetadataUnavailable(f"downloading sdist {filename} failed: HTTP {response.status}")
    if sha256 and hashlib.sha256(response.body).hexdigest() != sha256.lower():
        raise MetadataUnavailable(f"sdist {filename} does not match the sha256 the index lists for it")
    return response.body


def download_sdist_to_file(
    http: HttpSession,
    url: str,
    filename: str,
    target: Path,
    *,
    max_mb: int,
    verify: bool = True,
    sha256: str | None = None,
) -> None:
    """Stream the sdist into ``target`` (at most ``max_mb`` MB), checked against ``sha256``."""
    digest = hashlib.sha256()
    with open(target, "wb") as raw:
        writer = _HashingWriter(raw, digest)
        try:
            status = http.download(url, writer, verify=verify, max_bytes=max_mb * 1024 * 1024)
        except ResponseTooLarge:
            raise MetadataUnavailable(
                f"sdist {filename} is larger than {max_mb} MB, the ceiling for sdists built for "
                "their metadata"
            ) from None
    if status != 200:
        raise MetadataUnavailable(f"downloading sdist {filename} failed: HTTP {status}")
    if sha256 and digest.hexdigest() != sha256.lower():
        raise MetadataUnavailable(f"sdist {filename} does not match the sha256 the index lists for it")


class _HashingWriter:
    """A file object that hashes what goes through it."""

    def __init__(self, raw: io.BufferedWriter, digest: hashlib._Hash) -> None:
        self._raw, self._digest = raw, digest

    def write(self, data: bytes) -> int:
        self._digest.update(data)
        return self._raw.write(data)


def extract_pkg_info(data: bytes | Path, filename: str) -> bytes:
    """The top-level ``<name>-<version>/PKG-INFO`` of an sdist archive (.tar.gz or .zip), given
    as bytes or as the path of the downloaded file."""
    try:
        if filename.endswith(".zip"):
            source = io.BytesIO(data) if isinstance(data, bytes) else data
            with zipfile.ZipFile(source) as archive:
                for name in archive.namelist():
                    if _is_top_pkg_info(name):
                        return archive.read(name)
        else:
            opened = (
                tarfile.open(fileobj=io.BytesIO(data), mode="r:*")
                if isinstance(data, bytes)
                else tarfile.open(data, mode="r:*")
            )
            with opened as archive:
                for member in archive:
                    if member.isfile() and _is_top_pkg_info(member.name):
                        extracted = archive.extractfile(member)
                        if extracted is not None:
                            return extracted.read()
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as exc:
        raise MetadataUnavailable(f"sdist {filename} cannot be opened ({exc})", permanent=True) from None
    raise MetadataUnavailable(f"sdist {filename} has no PKG-INFO file", permanent=True)


def _is_top_pkg_info(name: str) -> bool:
    parts = name.lstrip("./").split("/")
    return len(parts) == 2 and parts[1] == "PKG-INFO"


def check_static_dependencies(pkg_info: bytes, filename: str) -> None:
    """Raise NeedsBuild unless PKG-INFO states the dependencies statically."""
    headers = parse_headers(pkg_info)
    raw_version = (headers.get("Metadata-Version") or "").strip()
    try:
        version = Version(raw_version)
    except InvalidVersion:
        raise MetadataUnavailable(
            f"sdist {filename} has an unreadable PKG-INFO (Metadata-Version {raw_version!r})", permanent=True
        ) from None
    if version < Version("2.2"):
        raise NeedsBuild(
            f"sdist {filename} uses metadata version {raw_version}, which does not promise its "
            "dependencies are final; they cannot be known without building it"
        )
    dynamic = {value.strip().lower() for value in headers.get_all("Dynamic") or ()}
    if "requires-dist" in dynamic:
        raise NeedsBuild(
            f"sdist {filename} declares its dependencies dynamically; they cannot be known without building it"
        )
