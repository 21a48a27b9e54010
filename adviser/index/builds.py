"""Metadata of sdists that do not state their dependencies, prepared in a sandboxed PEP 517 build.

When: only for a version the resolver looks at (``IndexClient.metadata(link, build_for=...)``),
never for a speculative prefetch, and only when the settings allow it for the project; wheels,
PEP 658 files and static sdist metadata always come first.

How: ``sourcebuild.prepare_metadata`` in a fresh temporary directory, with the interpreter of the
target's Python version (``sourcebuild.find_interpreter``), build requirements from the same
indexes as the resolution, and limits on time, memory and archive size.

Cache: the outcome is kept forever in the index cache, keyed by the sdist's key and the target's
Python X.Y (setup.py may compute dependencies from the running Python), with the interpreter
that built it; permanent failures too, with their reason. Time-outs and unreachable indexes are
not kept. A result built by a fallback interpreter is built again once one of the target's
version is available.

Concurrency: at most BUILD_SLOTS builds at a time per process (small machines), and one build
per sdist and Python across the processes sharing the cache (an fcntl lock on a file beside it).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from adviser.index.cache import CachedBuild, FileRecord, IndexCache
from adviser.index.core_metadata import parse_core_metadata
from adviser.index.errors import MetadataUnavailable, NeedsBuild
from adviser.index.http import HttpSession
from adviser.index.models import BuildInfo, CoreMetadata, FileLink
from adviser.index.sdist_metadata import check_static_dependencies, download_sdist_to_file, extract_pkg_info
from adviser.settings import BUILDS_ALWAYS, BUILDS_NEVER

try:
    import fcntl
except ImportError:  # not POSIX: builds are then only serialized within a process
    fcntl = None  # type: ignore[assignment]

Log = Callable[[str], None]
Check = Callable[[FileLink, CoreMetadata], "str | None"]

# Builds compile and install build requirements: on a 2-core machine one at a time is plenty.
BUILD_SLOTS = 1 if (os.cpu_count() or 1) <= 2 else 2
_slots = threading.BoundedSemaphore(BUILD_SLOTS)
LOCK_DIR = "build-locks"
# After this many failed builds of one project in an analysis, its older versions are not built.
MAX_FAILED_BUILDS_PER_PROJECT = 3


@dataclass(frozen=True)
class BuildOptions:
    """What builds a resolution may run, and where their build requirements come from."""

    builds: str | tuple[str, ...] = BUILDS_NEVER
    timeout: float = 120.0
    memory_mb: int = 2048
    max_source_mb: int = 1024
    pythons: tuple[str, ...] = ()
    index_urls: tuple[str, ...] = ()  # the resolution's indexes, first one the main index

    @classmethod
    def from_settings(cls, settings: Any, index_urls: Sequence[str]) -> BuildOptions:
        return cls(
            builds=settings.builds,
            timeout=settings.build_timeout,
            memory_mb=settings.build_memory_mb,
            max_source_mb=settings.build_max_source_mb,
            pythons=tuple(settings.build_pythons),
            index_urls=tuple(index_urls),
        )

    def refusal(self, name: str) -> str | None:
        """Why ``name`` may not be built, or None when it may."""
        if self.builds == BUILDS_ALWAYS:
            return None
        if self.builds == BUILDS_NEVER:
            return "builds are turned off"
        if name in self.builds:
            return None
        return f"builds are allowed only for {', '.join(self.builds)}"


class SdistBuilder:
    """Prepares (or reads back from the cache) the metadata of sdists for one IndexClient."""

    def __init__(
        self,
        http: HttpSession,
        cache: IndexCache,
        options: BuildOptions,
        *,
        check: Check,
        log: Log,
        count: Callable[[str], None],
    ) -> None:
        self.options = options
        self._http = http
        self._cache = cache
        self._check = check
        self._say = log
        self._count = count
        self._interpreters: dict[str, Any] = {}
        self._interpreters_lock = threading.Lock()
        # project -> reasons of this analysis' failed builds: a package whose newest versions all fail
        # to build (a missing C library, a setuptools too new) would otherwise cost a build per release.
        self._failures: dict[str, list[str]] = {}

    def metadata(self, link: FileLink, record: FileRecord, python: str, needs: NeedsBuild) -> CoreMetadata:
        """Core metadata of the sdist ``link`` for a target of Python ``python`` (X.Y)."""
        if not needs.too_large:
            self._allowed(record.project, needs.reason)
            found = self._from_cache(link, record, python)
            if found is not None:
                return found
        with _slots, _file_lock(self._cache.path.parent / LOCK_DIR, f"{record.key} {python}"):
            if not needs.too_large:  # another process may have built it while this one waited
                found = self._from_cache(link, record, python, quiet=True)
                if found is not None:
                    return found
                self._give_up_after_failures(record.project, needs.reason)
            with tempfile.TemporaryDirectory(prefix="thamos-sdist-") as scratch:
                archive = Path(scratch) / _safe_filename(link.filename)
                download_sdist_to_file(
                    self._http,
                    link.url,
                    link.filename,
                    archive,
                    max_mb=self.options.max_source_mb,
                    verify=link.index.verify_ssl,
                    sha256=link.sha256,
                )
                if needs.too_large:  # only now is its PKG-INFO known
                    static = self._static(archive, link, record)
                    if static is not None:
                        return static
                    found = self._from_cache(link, record, python)
                    if found is not None:
                        return found
                return self._build(archive, link, record, python)

    # -- policy and cache ----------------------------------------------------------------------
    def _allowed(self, name: str, reason: str) -> None:
        refusal = self.options.refusal(name)
        if refusal is not None:
            raise MetadataUnavailable(f"{reason}, and {refusal}")

    def _give_up_after_failures(self, name: str, reason: str) -> None:
        failed = self._failures.get(name, [])
        if len(failed) >= MAX_FAILED_BUILDS_PER_PROJECT:
            raise MetadataUnavailable(
                f"{reason}; not built: the builds of {len(failed)} newer versions of {name} failed in this "
                f"analysis (last: {failed[-1]}), so older ones are not tried"
            )

    def _static(self, archive: Path, link: FileLink, record: FileRecord) -> CoreMetadata | None:
        """The sdist's static metadata (stored as any other), or None when it needs a build."""
        pkg_info = extract_pkg_info(archive, link.filename)
        try:
            check_static_dependencies(pkg_info, link.filename)
        except NeedsBuild as dynamic:
            self._cache.put_metadata(record, None, reason=dynamic.reason, needs_build=True)
            self._allowed(record.project, dynamic.reason)
            return None
        metadata = parse_core_metadata(pkg_info, source="sdist", origin=link.filename)
        mismatch = self._check(link, metadata)
        if mismatch:
            self._cache.put_metadata(record, None, reason=mismatch)
            raise MetadataUnavailable(mismatch, permanent=True)
        self._cache.put_metadata(record, metadata.to_json())
        self._count("metadata_sdist")
        return metadata

    def _from_cache(
        self, link: FileLink, record: FileRecord, python: str, *, quiet: bool = False
    ) -> CoreMetadata | None:
        cached = self._cache.get_built(record.key, python)
        if cached is None:
            return None
        if not cached.matched and self._matching_interpreter(python):
            if not quiet:
                self._say(
                    f"building {link.filename} again: an interpreter of Python {python} is now available"
                )
            return None
        self._count("metadata_built_cached")
        if not cached.available:
            raise MetadataUnavailable(cached.reason or "building its metadata failed", permanent=True)
        info = BuildInfo(
            cached.interpreter,
            cached.interpreter_version,
            cached.matched,
            python,
            cached.via,
            from_cache=True,
        )
        return _with_build(CoreMetadata.from_json(cached.data or {}, source="build"), info)

    def _matching_interpreter(self, python: str) -> bool:
        try:
            return bool(self._interpreter(python).matched)
        except ImportError:
            return False

    def _interpreter(self, python: str) -> Any:
        with self._interpreters_lock:
            found = self._interpreters.get(python)
            if found is None:
                import sourcebuild

                found = self._interpreters[python] = sourcebuild.find_interpreter(
                    python, extra_paths=self.options.pythons
                )
            return found

    # -- building ------------------------------------------------------------------------------
    def _build(self, archive: Path, link: FileLink, record: FileRecord, python: str) -> CoreMetadata:
        try:
            import sourcebuild
        except ImportError as exc:
            raise MetadataUnavailable(
                f"its dependencies cannot be known without building it, and the build tools are missing ({exc})"
            ) from None
        interpreter = self._interpreter(python)
        what = f"{record.project} {record.version}"
        self._say(f"building metadata of {what} (sdist) with {interpreter.describe()}")
        started = time.monotonic()
        try:
            built = sourcebuild.prepare_metadata(
                archive,
                interpreter=interpreter,
                indexes=self._index_config(sourcebuild),
                limits=sourcebuild.BuildLimits(
                    timeout=self.options.timeout,
                    memory_mb=self.options.memory_mb,
                    max_source_mb=self.options.max_source_mb,
                ),
                log=lambda line: self._say(f"  {what}: {line}"),
            )
        except sourcebuild.BuildFailed as failure:
            self._failed(record, python, interpreter, failure, time.monotonic() - started)
        except Exception as exc:  # a bug of the build machinery: this version is skipped, the run goes on
            self._count("metadata_build_failed")
            self._say(f"building metadata of {what} failed unexpectedly: {type(exc).__name__}: {exc}")
            raise MetadataUnavailable(
                f"building its metadata failed unexpectedly ({type(exc).__name__}: {exc})"
            ) from None
        elapsed = time.monotonic() - started
        metadata = parse_core_metadata(built.metadata, source="build", origin=f"the build of {link.filename}")
        mismatch = self._check(link, metadata)
        info = BuildInfo(interpreter.describe(), interpreter.version, interpreter.matched, python, built.via)
        if mismatch:
            self._store(record, python, info, None, mismatch)
            raise MetadataUnavailable(mismatch, permanent=True)
        self._store(record, python, info, metadata.to_json(), None)
        self._count("metadata_built")
        self._say(f"built metadata of {what} in {elapsed:.1f} s ({built.via})")
        return _with_build(metadata, info)

    def _failed(
        self, record: FileRecord, python: str, interpreter: Any, failure: Any, elapsed: float
    ) -> NoReturn:
        reason = f"building its metadata failed: {failure.reason}"
        self._count("metadata_build_failed")
        self._failures.setdefault(record.project, []).append(failure.reason)
        self._say(
            f"building metadata of {record.project} {record.version} failed after {elapsed:.1f} s: {failure.reason}"
        )
        if failure.permanent:
            info = BuildInfo(interpreter.describe(), interpreter.version, interpreter.matched, python, "")
            self._store(record, python, info, None, reason)
        raise MetadataUnavailable(reason, permanent=bool(failure.permanent))

    def _store(
        self, record: FileRecord, python: str, info: BuildInfo, data: dict | None, reason: str | None
    ) -> None:
        self._cache.put_built(
            record,
            python,
            CachedBuild(
                data is not None,
                data,
                reason,
                info.interpreter,
                info.interpreter_version,
                info.matched,
                info.via,
            ),
        )

    def _index_config(self, sourcebuild: Any) -> Any:
        from adviser.index.sources import ca_bundle

        urls = self.options.index_urls
        return sourcebuild.IndexConfig(
            index_url=urls[0] if urls else "",
            extra_index_urls=tuple(urls[1:]),
            ca_bundle=ca_bundle(),
        )


def _with_build(metadata: CoreMetadata, info: BuildInfo) -> CoreMetadata:
    from dataclasses import replace

    return replace(metadata, build=info)


def _safe_filename(filename: str) -> str:
    # The file keeps its name (the backend reads the project's name and version from it), never a path.
    return os.path.basename(filename.replace("\\", "/")) or "sdist.tar.gz"


@contextmanager
def _file_lock(directory: Path, key: str) -> Iterator[None]:
    """Hold an exclusive lock shared by every process using this cache (none if it cannot be made)."""
    if fcntl is None:
        yield
        return
    path = directory / (hashlib.sha256(key.encode()).hexdigest()[:32] + ".lock")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+b")  # noqa: SIM115 - closed below, after the lock is released
    except OSError:  # an unwritable cache directory: the in-process _once still holds builds to one
        yield
        return
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        yield
    finally:
        handle.close()  # closing releases the lock
