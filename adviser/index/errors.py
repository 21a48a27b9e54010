"""Errors raised by the index client; all derive from ``IndexAccessError``."""

from __future__ import annotations


class IndexAccessError(Exception):
    """Base class of every index access failure."""


class IndexUnreachable(IndexAccessError):
    """An index (or a file host it points to) could not be read: refused, timed out, 5xx, ..."""

    def __init__(self, url: str, cause: str) -> None:
        self.url = url
        self.cause = cause
        super().__init__(f"package index {url} is unreachable: {cause}")


class PackageNotFound(IndexAccessError):
    """The project is not listed on any of the indexes asked."""

    def __init__(self, name: str, index_urls: list[str]) -> None:
        self.name = name
        self.index_urls = list(index_urls)
        where = ", ".join(self.index_urls) or "no index"
        super().__init__(f"package {name!r} was not found on {where}")


class MetadataUnavailable(IndexAccessError):
    """The core metadata (dependencies) of a file cannot be known without building it, or is broken."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        self.reason = reason
        # True when the reason lies in the file itself (so it can be cached like the file's metadata).
        self.permanent = permanent
        super().__init__(reason)


class NeedsBuild(MetadataUnavailable):
    """Only building the sdist tells its dependencies (it does not state them statically), or the
    sdist is bigger than a quick look downloads (``too_large``): a resolution allowed to build (or
    to download it whole) goes on from there. Not permanent: it is no reason to give a version up."""

    def __init__(self, reason: str, *, too_large: bool = False) -> None:
        super().__init__(reason, permanent=False)
        self.too_large = too_large
