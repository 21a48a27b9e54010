"""Parse core metadata files (METADATA, PKG-INFO, PEP 658 ``.metadata``) into ``CoreMetadata``."""

from __future__ import annotations

import re
from email.message import Message
from email.parser import HeaderParser
from functools import lru_cache

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from adviser.index.errors import MetadataUnavailable
from adviser.index.models import CoreMetadata


@lru_cache(maxsize=16384)
def parse_requirement(text: str) -> Requirement:
    """``Requirement(text)``, memoized: the same Requires-Dist lines recur across versions and runs
    (and are parsed both to validate metadata and to resolve). Callers must not modify the result."""
    return Requirement(text)


_END_OF_HEADERS = re.compile(r"\r?\n\r?\n|\r\r")


def parse_headers(data: bytes) -> Message:
    # Core metadata is UTF-8 with RFC 822 style headers; the body (long description) is not needed,
    # and the parser would still split it into lines (often a whole README): cut it off first.
    text = data.decode("utf-8", errors="replace")
    end = _END_OF_HEADERS.search(text)
    if end is not None:
        text = text[: end.start()] + "\n"
    return HeaderParser().parsestr(text, headersonly=True)


def parse_core_metadata(data: bytes, *, source: str, origin: str) -> CoreMetadata:
    """Parse and validate; ``origin`` names the file in error messages."""
    headers = parse_headers(data)
    name = (headers.get("Name") or "").strip()
    version = (headers.get("Version") or "").strip()
    if not headers.get("Metadata-Version") or not name or not version:
        raise MetadataUnavailable(
            f"the metadata of {origin} is broken: Metadata-Version, Name or Version is missing",
            permanent=True,
        )
    try:
        Version(version)
    except InvalidVersion:
        raise MetadataUnavailable(
            f"the metadata of {origin} is broken: invalid version {version!r}", permanent=True
        ) from None
    requires_dist = tuple(value.strip() for value in headers.get_all("Requires-Dist") or ())
    for requirement in requires_dist:
        try:
            parse_requirement(requirement)
        except InvalidRequirement as exc:
            raise MetadataUnavailable(
                f"the metadata of {origin} is broken: cannot parse requirement {requirement!r} ({exc})",
                permanent=True,
            ) from None
    requires_python = (headers.get("Requires-Python") or "").strip() or None
    summary = (headers.get("Summary") or "").strip() or None
    return CoreMetadata(
        name=name,
        version=version,
        requires_dist=requires_dist,
        requires_python=requires_python,
        provides_extra=tuple(value.strip() for value in headers.get_all("Provides-Extra") or ()),
        classifiers=tuple(value.strip() for value in headers.get_all("Classifier") or ()),
        summary=summary,
        source=source,
    )
