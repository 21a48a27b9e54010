"""Core metadata from a source distribution's PKG-INFO, when it can be trusted without a build.

PKG-INFO of an sdist is authoritative for dependencies only from Metadata-Version 2.2 on, and only
when ``Requires-Dist`` is not declared ``Dynamic`` (PEP 643). Anything else needs a build, which
the adviser never runs.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile

from packaging.version import InvalidVersion, Version

from adviser.index.core_metadata import parse_headers
from adviser.index.errors import MetadataUnavailable
from adviser.index.http import HttpSession, ResponseTooLarge

# sdists are small; anything larger than this is not worth downloading for metadata.
SDIST_SIZE_LIMIT = 20 * 1024 * 1024


def download_sdist(
    http: HttpSession, url: str, filename: str, *, verify: bool = True, sha256: str | None = None
) -> bytes:
    """The sdist's bytes (checked against ``sha256`` when known)."""
    try:
        response = http.get(
            url, headers={"Accept-Encoding": "identity"}, verify=verify, max_bytes=SDIST_SIZE_LIMIT
        )
    except ResponseTooLarge:
        raise MetadataUnavailable(
            f"sdist {filename} is larger than {SDIST_SIZE_LIMIT // (1024 * 1024)} MB; "
            "its metadata is not read",
            permanent=True,
        ) from None
    if response.status != 200:
        raise MetadataUnavailable(f"downloading sdist {filename} failed: HTTP {response.status}")
    if sha256 and hashlib.sha256(response.body).hexdigest() != sha256.lower():
        raise MetadataUnavailable(f"sdist {filename} does not match the sha256 the index lists for it")
    return response.body


def extract_pkg_info(data: bytes, filename: str) -> bytes:
    """The top-level ``<name>-<version>/PKG-INFO`` of an sdist archive (.tar.gz or .zip)."""
    try:
        if filename.endswith(".zip"):
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                for name in archive.namelist():
                    if _is_top_pkg_info(name):
                        return archive.read(name)
        else:
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
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
    """Raise MetadataUnavailable unless PKG-INFO states the dependencies statically."""
    headers = parse_headers(pkg_info)
    raw_version = (headers.get("Metadata-Version") or "").strip()
    try:
        version = Version(raw_version)
    except InvalidVersion:
        raise MetadataUnavailable(
            f"sdist {filename} has an unreadable PKG-INFO (Metadata-Version {raw_version!r})", permanent=True
        ) from None
    if version < Version("2.2"):
        raise MetadataUnavailable(
            f"sdist {filename} uses metadata version {raw_version}, which does not promise its "
            "dependencies are final; they cannot be known without building it",
            permanent=True,
        )
    dynamic = {value.strip().lower() for value in headers.get_all("Dynamic") or ()}
    if "requires-dist" in dynamic:
        raise MetadataUnavailable(
            f"sdist {filename} declares its dependencies dynamically; they cannot be known without building it",
            permanent=True,
        )
