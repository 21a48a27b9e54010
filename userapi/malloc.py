"""Keeping analysis workers small on glibc, where freed memory otherwise stays with the process.

An analysis allocates tens of MB (index pages, parsed metadata) from up to 16 prefetch threads and
frees it at the end. glibc gives each thread its own arena (up to 8 per core) and keeps freed
blocks in them, so a long-lived worker's resident size grows with every analysis it has run. Two
arenas and a trim after each analysis keep it near its size after imports. Elsewhere: nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from functools import lru_cache

LOGGER = logging.getLogger(__name__)

_M_ARENA_MAX = -8  # mallopt parameter number, from glibc's malloc.h
_ARENAS = 2


@lru_cache(maxsize=1)
def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.gnu_get_libc_version  # noqa: B018 - only glibc has it (and mallopt/malloc_trim)
    except (OSError, AttributeError):
        return None
    return libc


def limit_arenas() -> None:
    """Call before the process starts threads."""
    libc = _glibc()
    if libc is not None and not libc.mallopt(_M_ARENA_MAX, _ARENAS):
        LOGGER.debug("mallopt(M_ARENA_MAX) refused")


def release_free_memory() -> None:
    """Give the memory freed by the last analysis back to the system."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
