"""Index access for the adviser: simple-API pages, file metadata, and their persistent cache.

The resolver talks to ``IndexClient`` only; sources, HTTP, page parsing, metadata readers and the
SQLite cache each live in their own module.
"""

from adviser.index.client import IndexClient
from adviser.index.errors import IndexAccessError, IndexUnreachable, MetadataUnavailable, PackageNotFound
from adviser.index.models import CoreMetadata, FileLink, ProjectPage
from adviser.index.sources import IndexSource, default_index_source, extra_index_sources

__all__ = [
    "CoreMetadata",
    "FileLink",
    "IndexAccessError",
    "IndexClient",
    "IndexSource",
    "IndexUnreachable",
    "MetadataUnavailable",
    "PackageNotFound",
    "ProjectPage",
    "default_index_source",
    "extra_index_sources",
]
