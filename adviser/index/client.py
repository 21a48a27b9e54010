"""IndexClient: project pages and file metadata from simple-API indexes, in parallel, cached.

Metadata of a file is looked up in this order: the cache; the PEP 658 ``.metadata`` file when the
page advertises one (its sha256 checked when given); the wheel's METADATA read with HTTP range
requests; an sdist's PKG-INFO when it states its dependencies statically; else, when the caller
allows it (``build_for``) and the settings do, a build of the sdist's metadata (adviser.index.builds).

Every page and every file is fetched at most once per client even when several threads ask for
it at the same moment: the first asker fetches, the others wait for its result.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from collections.abc import Callable, Hashable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any, TypeVar

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from adviser.aliases import IndexAliases
from adviser.index.builds import BuildOptions, SdistBuilder
from adviser.index.cache import CachedPage, FileRecord, IndexCache
from adviser.index.core_metadata import parse_core_metadata
from adviser.index.errors import IndexUnreachable, MetadataUnavailable, NeedsBuild, PackageNotFound
from adviser.index.http import HttpSession, TransportError
from adviser.index.models import CoreMetadata, FileLink, ProjectPage
from adviser.index.sdist_metadata import check_static_dependencies, download_sdist, extract_pkg_info
from adviser.index.simple_api import (
    ACCEPT,
    JsonPageFiles,
    PageFormatError,
    cached_page_files,
    page_files,
)
from adviser.index.sources import IndexSource, ca_bundle, pip_config_value
from adviser.index.wheel_metadata import read_wheel_metadata

T = TypeVar("T")
Log = Callable[[str], None]


def metadata_key(link: FileLink) -> str:
    """Cache key of a file's metadata: its sha256 when the index gives one, else its URL."""
    sha256 = link.hashes.get("sha256")
    return f"sha256:{sha256.lower()}" if sha256 else f"url:{link.url}"


class IndexClient:
    """Reads project pages and file metadata from ``sources``; see the module docstring."""

    def __init__(
        self,
        sources: list[IndexSource],
        cache_dir: Path,
        *,
        page_ttl: float = 3600.0,
        force_refresh: bool = False,
        max_workers: int = 16,
        timeout: float = 30.0,
        log: Log | None = None,
        builds: BuildOptions | None = None,
        aliases: IndexAliases | None = None,
        response_budget: float | None = None,
        deadline: float | None = None,
    ) -> None:
        self.sources = list(sources)
        self.aliases = aliases if aliases is not None else IndexAliases()
        self.page_ttl = page_ttl
        self.force_refresh = force_refresh
        self.max_workers = max(1, max_workers)
        self._log = log
        self._http = HttpSession(
            max_workers=self.max_workers,
            timeout=timeout,
            ca_certs=ca_bundle(),
            proxy=pip_config_value("proxy"),
            response_budget=response_budget,
        )
        self._http.set_deadline(deadline)  # past it, requests raise AnalysisDeadline
        for source in self.sources:  # indexes reached with credentials (basic authentication)
            self._http.add_credentials(source.network_url)
        self._cache = IndexCache(Path(cache_dir), log=log)
        self._builder = SdistBuilder(
            self._http,
            self._cache,
            builds or BuildOptions(index_urls=tuple(source.network_url for source in self.sources)),
            check=_contradiction,
            log=self._say,
            count=self._count,
        )
        self._executor = ThreadPoolExecutor(self.max_workers, thread_name_prefix="index-client")
        self._results: dict[Hashable, Future] = {}
        self._results_lock = threading.Lock()
        self._worker = threading.local()
        self._stats: Counter[str] = Counter()
        self._stats_lock = threading.Lock()
        self._closed = False

    # -- public interface --------------------------------------------------------------------
    @property
    def cache(self) -> IndexCache:
        """The persistent cache (git dependencies keep their built metadata there too)."""
        return self._cache

    def project_page(self, source: IndexSource, name: str) -> ProjectPage:
        """The files ``source`` lists for ``name``; PackageNotFound on 404, IndexUnreachable on failure.

        An alias of another index (adviser.aliases) is read through that index, once for both."""
        normalized = canonicalize_name(name)
        reading = self.aliases.reading_source(source)
        page = self._once(("page", reading, normalized), lambda: self._load_page(reading, normalized))
        return page if page.index == source else page.on_index(source)

    def project_pages(self, name: str, sources: list[IndexSource] | None = None) -> list[ProjectPage]:
        """The pages of ``name`` on every source that has it (in source order)."""
        sources = list(self.sources if sources is None else sources)
        if len(sources) > 1 and not getattr(self._worker, "active", False):
            futures = [self._submit(self.project_page, source, name) for source in sources]
            outcomes = [_outcome(future) for future in futures]
        else:  # inside a worker thread, waiting on the pool could starve it: work inline
            outcomes = [_outcome_of(self.project_page, source, name) for source in sources]
        pages: list[ProjectPage] = []
        for result, error in outcomes:
            if isinstance(error, PackageNotFound):
                continue
            if error is not None:
                raise error
            pages.append(result)
        if not pages:
            raise PackageNotFound(name, [source.url for source in sources])
        return pages

    def prefetch_pages(
        self, names: Iterable[str], sources: list[IndexSource] | None = None, *, wait_for_all: bool = True
    ) -> None:
        """Fetch the pages of ``names`` in parallel (errors surface later, on the real call).

        Pages fresh in the cache are left for the real call to read: decoding them in threads
        gains nothing (one interpreter lock) and each thread would open its own connection.
        """
        sources = list(self.sources if sources is None else sources)
        wanted = sorted({canonicalize_name(name) for name in names})
        futures = []
        for source in sources:
            read_from = self.aliases.reading_source(source).url
            fresh = set() if self.force_refresh else self._cache.fresh_pages(read_from, wanted, self.page_ttl)
            futures += [self._submit(self.project_page, source, name) for name in wanted if name not in fresh]
        if wait_for_all:
            wait(futures)

    def pages_are_cached(self, name: str, sources: list[IndexSource] | None = None) -> bool:
        """Whether reading ``name``'s pages needs no request: each is fresh in the cache (a 404
        included), as prefetch_pages judges; never when refreshing or for a private source."""
        if self.force_refresh:
            return False
        normalized = canonicalize_name(name)
        for source in self.sources if sources is None else sources:
            if source.private:
                return False
            read_from = self.aliases.reading_source(source).url
            if not self._cache.fresh_pages(read_from, [normalized], self.page_ttl):
                return False
        return True

    def metadata(self, link: FileLink, *, build_for: str | None = None) -> CoreMetadata:
        """Core metadata of ``link``; MetadataUnavailable(reason) when it cannot be known.

        Without ``build_for`` this is a quick look (prefetch): an sdist whose dependencies only a
        build can tell, or too big to look into in memory, raises NeedsBuild. ``build_for`` (the
        target's Python X.Y) lets the look go on: a bigger download, then a build if the settings
        allow one (else a MetadataUnavailable saying why not).
        """
        key = metadata_key(link)
        try:
            return self._once(("metadata", key), lambda: self._load_metadata(link, key))
        except NeedsBuild as exc:
            if build_for is None:
                raise
            needs = exc
        return self._once(("built", key, build_for), lambda: self._load_built(link, key, build_for, needs))

    def wheel_import_names(self, link: FileLink) -> list[str]:
        """The top-level names a wheel installs, from its zip directory (range requests); kept in the
        cache with its metadata. MetadataUnavailable or IndexUnreachable when it cannot be read."""
        record = _record(link, metadata_key(link))
        try:
            wheel = read_wheel_metadata(self._http, link.url, link.filename, verify=link.index.verify_ssl)
        except TransportError as exc:
            raise IndexUnreachable(link.index.url, f"{exc.cause} (reading {link.url})") from None
        self._cache.put_import_names(record, wheel.import_names)
        return list(wheel.import_names)

    def prefetch_metadata(self, links: Iterable[FileLink], *, wait_for_all: bool = True) -> None:
        """Read the metadata of ``links`` in parallel (errors surface later, on the real call).

        Files whose metadata is cached are skipped (see prefetch_pages).
        """
        by_key = {metadata_key(link): link for link in links}
        cached = self._cache.known_metadata(list(by_key))
        futures = [self._submit(self.metadata, link) for key, link in by_key.items() if key not in cached]
        if wait_for_all:
            wait(futures)

    def stats(self) -> dict[str, float]:
        """What this client did: pages fetched / from cache, metadata by source, HTTP traffic."""
        with self._stats_lock:
            counts: dict[str, float] = dict(self._stats)
        counts.update(self._http.traffic())
        return counts

    def summary(self) -> str:
        s = self.stats()
        return (
            f"index: {s.get('pages_fetched', 0)} pages fetched"
            f" ({s.get('pages_unchanged', 0)} the same as cached), {s.get('pages_cached', 0)} from cache"
            f" ({s.get('pages_not_found', 0)} not found); metadata of {s.get('metadata_cached', 0)} files"
            f" from cache, {s.get('metadata_pep658', 0)} from PEP 658 files,"
            f" {s.get('metadata_wheel_range', 0)} from wheels by range requests,"
            f" {s.get('metadata_sdist', 0)} from sdists,"
            f" {s.get('metadata_built', 0)} built from sdists"
            f" ({s.get('metadata_built_cached', 0)} builds from cache,"
            f" {s.get('metadata_build_failed', 0)} failed),"
            f" {s.get('metadata_unavailable', 0)} unavailable" + self._traffic_summary(s)
        )

    @staticmethod
    def _traffic_summary(s: dict[str, float]) -> str:
        parts = []
        if s.get("full_requests"):
            parts.append(f"{s['full_requests']:.0f} full GETs (median {s['full_median_ms']:.0f} ms)")
        if s.get("range_requests"):
            parts.append(f"{s['range_requests']:.0f} ranged GETs (median {s['range_median_ms']:.0f} ms)")
        if not parts:
            return ""
        return "; HTTP: " + ", ".join(parts) + f", up to {s['peak_concurrency']:.0f} at once"

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._executor.shutdown(wait=True, cancel_futures=True)
        if self._stats:  # one line for the analysis log: what the index work cost
            self._say(self.summary())
        self._http.close()
        self._cache.close()

    def __enter__(self) -> IndexClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- once-only execution -----------------------------------------------------------------
    def _once(self, key: Hashable, compute: Callable[[], T]) -> T:
        """Run ``compute`` once per key for this client; concurrent askers share the result."""
        with self._results_lock:
            future = self._results.get(key)
            owner = future is None
            if owner:
                future = self._results[key] = Future()
        if owner:
            try:
                future.set_result(compute())
            except BaseException as exc:  # handed to every waiter, raised below
                future.set_exception(exc)
        return future.result()

    def _submit(self, fn: Callable[..., T], *args: Any) -> Future:
        def run() -> T:
            self._worker.active = True
            return fn(*args)

        return self._executor.submit(run)

    def _count(self, name: str, amount: int = 1) -> None:
        with self._stats_lock:
            self._stats[name] += amount

    def _say(self, message: str) -> None:
        if self._log is not None:
            self._log(message)

    # -- pages -------------------------------------------------------------------------------
    def _load_page(self, source: IndexSource, name: str) -> ProjectPage:
        # The pages of an index reached with credentials are never cached: the cache is shared by
        # every user of the server, and each request must prove its access again.
        # A refresh reads what is stored too (not its body): a page sent again unchanged keeps its row.
        refresh = self.force_refresh
        cached = None if source.private else self._cache.get_page(source.url, name, with_body=not refresh)
        if cached is not None and not refresh and time.time() - cached.fetched_at < self.page_ttl:
            self._count("pages_cached")
            self.aliases.noticed(source, cached.page_url or "")
            if cached.status != 200:
                self._count("pages_not_found")
                raise PackageNotFound(name, [source.url])
            return self._cached_page(source, name, cached)

        page_url = source.page_url(name)
        # Messages name the page by the source's URL as written: the expanded one may hold a token.
        shown = f"{source.url.rstrip('/')}/{name}/"
        try:
            response = self._http.get(
                page_url,
                headers={"Accept": ACCEPT, "Accept-Encoding": "gzip, deflate"},
                verify=source.verify_ssl,
            )
        except TransportError as exc:
            return self._stale_or_raise(source, name, exc.cause.replace(page_url, shown), cached)
        self._count("pages_fetched")
        if response.status in (404, 410):
            if not source.private:
                self._cache.put_page(source.url, name, 404)
            self._count("pages_not_found")
            raise PackageNotFound(name, [source.url])
        if response.status != 200:
            refused = " (the index refused the credentials of this source)" if response.status in (401, 403) else ""
            return self._stale_or_raise(source, name, f"HTTP {response.status} for {shown}{refused}", cached)
        self.aliases.noticed(source, response.url)
        content_type = response.headers.get("content-type")
        digest = None if source.private else hashlib.sha256(response.body).hexdigest()
        unchanged = self._unchanged_page(source, response.url, content_type, digest, cached)
        if unchanged is not None:
            return ProjectPage(name, source, source=unchanged)
        try:
            files = page_files(response.body, content_type, response.url, source)
        except PageFormatError as exc:
            raise IndexUnreachable(source.url, str(exc)) from None
        is_json = isinstance(files, JsonPageFiles)
        layout = files.layout() if is_json else None
        record = CachedPage(
            time.time(), 200, content_type, response.url, response.body, layout, digest=digest
        )
        if not source.private:
            # Once committed, the body is read from the cache file as versions are asked for.
            stored = files.keep_in_store if is_json else None
            self._cache.put_page(source.url, name, 200, record, on_stored=stored)
        return ProjectPage(name, source, source=files)

    def _unchanged_page(
        self, source: IndexSource, page_url: str, content_type: str | None, digest: str | None,
        cached: CachedPage | None,
    ) -> JsonPageFiles | None:
        """The stored page when the index sent its very bytes again (indexes here send no ETag or
        Last-Modified to ask with): no scan, no rewrite of megabytes, only its time of fetch."""
        if (
            digest is None or cached is None or cached.stored is None or cached.layout is None
            or (cached.digest, cached.page_url, cached.content_type) != (digest, page_url, content_type)
        ):
            return None
        files = JsonPageFiles.from_layout(None, cached.layout, page_url, source, cached.stored)
        self._cache.touch_page(cached.stored, time.time(), on_stored=files.keep_in_store)
        self._count("pages_unchanged")
        return files

    def _cached_page(self, source: IndexSource, name: str, cached: CachedPage) -> ProjectPage:
        try:
            return ProjectPage(name, source, source=cached_page_files(cached, source))
        except PageFormatError as exc:  # stored by a version that parsed it: not expected
            raise IndexUnreachable(source.url, f"cached page of {name}: {exc}") from None

    def _stale_or_raise(
        self, source: IndexSource, name: str, cause: str, cached: CachedPage | None
    ) -> ProjectPage:
        # An expired copy beats no answer when the index is down, unless the user forced a refresh.
        if cached is not None and cached.status == 200 and not self.force_refresh:
            age = time.time() - cached.fetched_at
            self._say(
                f"index: {source.url} failed ({cause}); using the page of {name} cached {age:.0f} s ago"
            )
            self._count("pages_cached")
            return self._cached_page(source, name, cached)
        raise IndexUnreachable(source.url, cause)

    # -- metadata ----------------------------------------------------------------------------
    def _load_metadata(self, link: FileLink, key: str) -> CoreMetadata:
        cached = self._cache.get_metadata(key)
        if cached is not None:
            self._count("metadata_cached")
            if cached.needs_build:
                raise NeedsBuild(cached.reason or f"{link.filename} needs a build")
            if not cached.available:
                raise MetadataUnavailable(cached.reason or f"metadata of {link.filename} is unavailable")
            return CoreMetadata.from_json(cached.data or {}, source="cache")
        record = _record(link, key)
        try:
            metadata, import_names = self._fetch_metadata(link)
        except NeedsBuild as exc:
            self._count("metadata_needs_build")
            if not exc.too_large:  # a fact of the file: later quick looks need not download it again
                self._cache.put_metadata(record, None, reason=exc.reason, needs_build=True)
            raise
        except MetadataUnavailable as exc:
            self._count("metadata_unavailable")
            if exc.permanent:
                self._cache.put_metadata(record, None, reason=exc.reason)
            raise
        except TransportError as exc:
            raise IndexUnreachable(link.index.url, f"{exc.cause} (reading {link.url})") from None
        mismatch = _contradiction(link, metadata)
        if mismatch:
            self._count("metadata_unavailable")
            self._cache.put_metadata(record, None, reason=mismatch)
            raise MetadataUnavailable(mismatch, permanent=True)
        self._cache.put_metadata(record, metadata.to_json(), import_names=import_names)
        return metadata

    def _load_built(self, link: FileLink, key: str, python: str, needs: NeedsBuild) -> CoreMetadata:
        try:
            return self._builder.metadata(link, _record(link, key), python, needs)
        except MetadataUnavailable:
            self._count("metadata_unavailable")
            raise
        except TransportError as exc:
            raise MetadataUnavailable(
                f"downloading sdist {link.filename} failed ({exc.cause}); its metadata cannot be built"
            ) from None

    def _fetch_metadata(self, link: FileLink) -> tuple[CoreMetadata, list[str]]:
        verify = link.index.verify_ssl
        if link.core_metadata:
            metadata = self._pep658_metadata(link)
            if metadata is not None:
                self._count("metadata_pep658")
                return metadata, []
        if link.is_wheel:
            wheel = read_wheel_metadata(self._http, link.url, link.filename, verify=verify)
            self._count("metadata_wheel_range")
            parsed = parse_core_metadata(wheel.metadata, source="wheel-range", origin=link.filename)
            return parsed, wheel.import_names
        if link.is_sdist:
            data = download_sdist(self._http, link.url, link.filename, verify=verify, sha256=link.sha256)
            pkg_info = extract_pkg_info(data, link.filename)
            check_static_dependencies(pkg_info, link.filename)
            self._count("metadata_sdist")
            return parse_core_metadata(pkg_info, source="sdist", origin=link.filename), []
        raise MetadataUnavailable(
            f"{link.filename} is neither a wheel nor a source distribution; its metadata is not read",
            permanent=True,
        )

    def _pep658_metadata(self, link: FileLink) -> CoreMetadata | None:
        """The PEP 658 metadata file, or None (logged) when it is missing or fails its hash."""
        response = self._http.get(link.url + ".metadata", verify=link.index.verify_ssl)
        if response.status != 200:
            self._say(
                f"index: {link.filename}.metadata answered HTTP {response.status}; reading the file instead"
            )
            return None
        expected = link.core_metadata.get("sha256") if isinstance(link.core_metadata, dict) else None
        if expected and hashlib.sha256(response.body).hexdigest() != expected.lower():
            self._say(
                f"index: {link.filename}.metadata does not match its advertised sha256; reading the file instead"
            )
            return None
        return parse_core_metadata(response.body, source="pep658", origin=f"{link.filename}.metadata")


def _record(link: FileLink, key: str) -> FileRecord:
    return FileRecord(
        key=key,
        project=link.project_name or canonicalize_name(link.filename.split("-", 1)[0]),
        version=str(link.version) if link.version is not None else "",
        filename=link.filename,
        index_url=link.index.url,
    )


def _contradiction(link: FileLink, metadata: CoreMetadata) -> str | None:
    """Why metadata that names another project or version than its file cannot be trusted, or None."""
    if link.project_name is None or link.version is None:
        return None
    try:
        same_version = Version(metadata.version) == link.version
    except InvalidVersion:
        same_version = False
    if metadata.canonical_name == link.project_name and same_version:
        return None
    return (
        f"the metadata of {link.filename} is broken: it describes {metadata.name} {metadata.version}, "
        f"not {link.project_name} {link.version}"
    )


def _outcome(future: Future) -> tuple[Any, BaseException | None]:
    try:
        return future.result(), None
    except Exception as exc:
        return None, exc


def _outcome_of(fn: Callable[..., T], *args: Any) -> tuple[T | None, BaseException | None]:
    try:
        return fn(*args), None
    except Exception as exc:
        return None, exc
