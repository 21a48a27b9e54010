"""Persistent cache of index pages and file metadata in one SQLite file.

Policy (the index sends no caching headers, so the cache keeps its own):
* project pages, keyed by (index URL, normalized name), are fresh for the client's ``page_ttl``;
  a 404 is cached the same way, so a missing project is not asked for again within the TTL.
  A page is stored as the index sent it (no re-encoding on the cold path), with the layout of
  its file entries for JSON pages, so a run reads from the file and decodes only the entries of
  the versions it looks at (StoredPageBody), and with its sha256, so a refetch that brings the
  same bytes only renews the row's time of fetch (touch_page);
* the core metadata of a file is kept forever: it is keyed by the file's sha256 (else its URL),
  and a released file never changes. So are reasons why a file's metadata cannot be known
  (broken metadata), since they lie in the file itself, and the mark of an sdist whose
  dependencies need a build (not an unavailability: a resolution allowed to build goes on);
* metadata prepared by building an sdist, keyed by the sdist's key and the target's Python X.Y
  (setup.py may compute dependencies from the running Python), with the interpreter that built
  it; and permanent build failures with their reason (time-outs and network failures are not kept);
* the top-level import names of each wheel whose central directory was read.

Several processes and threads share the file: WAL journal, a busy timeout, one connection per
thread. Writes are queued to one writer thread per handle and committed in batches (each batch
one transaction); ``flush()`` and ``close()`` wait for them.
"""

from __future__ import annotations

import json
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

CACHE_FILENAME = "index-cache.sqlite3"
SCHEMA_VERSION = 6
# available: 1 = content is CoreMetadata JSON, 0 = content is why it cannot be known,
# 2 = content is why only a build can tell (the sdist does not state its dependencies statically).
NEEDS_BUILD = 2

SCHEMA = """
CREATE TABLE IF NOT EXISTS pages (
    index_url TEXT NOT NULL,
    name TEXT NOT NULL,
    fetched_at REAL NOT NULL,
    status INTEGER NOT NULL,          -- 200, or 404 for a project the index does not have
    content_type TEXT,                -- the page as the index sent it: type, final URL, body
    page_url TEXT,
    body BLOB,
    layout TEXT,                      -- JSON pages: where each version's file entries lie in body
    digest TEXT,                      -- sha256 of body: a refetch bringing the same bytes keeps the row
    PRIMARY KEY (index_url, name)
);                                    -- a rowid table: pages run to megabytes, too big for WITHOUT ROWID
CREATE TABLE IF NOT EXISTS metadata (
    file_key TEXT PRIMARY KEY,        -- "sha256:<hex>" or "url:<url>"
    project TEXT NOT NULL,            -- normalized project name of the file
    version TEXT NOT NULL,
    filename TEXT NOT NULL,
    index_url TEXT NOT NULL,          -- index the file was first seen on
    available INTEGER NOT NULL,       -- 1: CoreMetadata JSON, 0: the reason, 2: needs a build (reason)
    content TEXT NOT NULL,
    stored_at REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS metadata_by_project ON metadata (project, version);
CREATE TABLE IF NOT EXISTS import_names (
    import_name TEXT NOT NULL,
    file_key TEXT NOT NULL,
    project TEXT NOT NULL,
    version TEXT NOT NULL,
    index_url TEXT NOT NULL,
    PRIMARY KEY (import_name, file_key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS built_metadata (
    file_key TEXT NOT NULL,           -- the sdist's key, as in metadata
    python TEXT NOT NULL,             -- the target's Python X.Y the build was made for
    project TEXT NOT NULL,
    version TEXT NOT NULL,
    filename TEXT NOT NULL,
    available INTEGER NOT NULL,       -- 1: content is CoreMetadata JSON, 0: content is the failure
    content TEXT NOT NULL,
    interpreter TEXT NOT NULL,        -- Interpreter.describe() of the build
    interpreter_version TEXT NOT NULL,
    matched INTEGER NOT NULL,         -- 1 when the interpreter had the target's version
    via TEXT NOT NULL,                -- the PEP 517 hook that produced it
    stored_at REAL NOT NULL,
    PRIMARY KEY (file_key, python)
) WITHOUT ROWID;
"""
# Version 4 caches stored "needs a build" as a permanent unavailability, and refused sdists over
# 20 MB for good: mark the first as needing a build, forget the second (they are read now).
UPGRADE_FROM_4 = (
    "UPDATE metadata SET available = 2"
    " WHERE available = 0 AND content LIKE '%cannot be known without building it%'",
    "DELETE FROM metadata WHERE available = 0 AND content LIKE '%is larger than 20 MB; its metadata is not read%'",
)

# A queued write: run in the writer's transaction; what it returns (if anything) runs after the commit.
Statement = Callable[[sqlite3.Connection], "Callable[[], None] | None"]

_compact = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


@dataclass(frozen=True)
class CachedPage:
    fetched_at: float
    status: int
    content_type: str | None = None
    page_url: str | None = None
    body: bytes | None = None  # None when ``stored`` says where to read it
    layout: str | None = None
    stored: StoredPageBody | None = None
    digest: str | None = None  # sha256 of the body (pages stored before it was kept: None)


# How a layout whose offsets count bytes of the body starts (see JsonPageFiles.layout): the body of
# such a page is left in the cache file and read a range at a time.
BYTE_OFFSETS_LAYOUT = '{"offsets":"bytes"'


@dataclass(frozen=True)
class StoredPageBody:
    """Where a JSON page's body lies in the cache file.

    Pages of big projects run to megabytes, of which an analysis decodes a few versions' entries:
    it reads those ranges from here instead of holding every page it saw in memory. Another
    fetch of the page (another analysis, another process) replaces the row: reads then answer
    None, and the reader turns to the page now stored (``current``).
    """

    cache: IndexCache
    rowid: int
    fetched_at: float
    index_url: str
    name: str

    def read(self, ranges: list[tuple[int, int]]) -> list[bytes] | None:
        """The bytes of each (start, end) range of the body; None once the row was replaced."""
        return self.cache.read_page_ranges(self, ranges)

    def current(self) -> CachedPage | None:
        """The page stored now under the same index and name, if any."""
        return self.cache.get_page(self.index_url, self.name)


@dataclass(frozen=True)
class CachedMetadata:
    available: bool
    data: dict[str, Any] | None  # CoreMetadata.to_json() when available
    reason: str | None
    needs_build: bool = False  # not available: only building the sdist can tell (reason says why)


@dataclass(frozen=True)
class CachedBuild:
    """Metadata built from an sdist for one target Python, or why the build failed for good."""

    available: bool
    data: dict[str, Any] | None
    reason: str | None
    interpreter: str
    interpreter_version: str
    matched: bool
    via: str


@dataclass(frozen=True)
class FileRecord:
    """Identifies a file for the metadata and import-name tables."""

    key: str
    project: str
    version: str
    filename: str
    index_url: str


class IndexCache:
    """Thread-safe handle on the cache file in ``cache_dir``."""

    def __init__(self, cache_dir: Path, *, log: Callable[[str], None] | None = None) -> None:
        self.path = Path(cache_dir) / CACHE_FILENAME
        self._log = log
        self._target = str(self.path)  # or an in-memory database when the file cannot be used
        self._uri = False
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._schema_ready = False
        # Writes go through one writer thread, in batches of one transaction each: callers (the
        # threads fetching pages and metadata) never wait for the disk or for each other, and
        # SQLite's own busy waiting (growing sleeps) is left to concern other processes only.
        self._pending: queue.SimpleQueue[Statement | threading.Event | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._write_failure_logged = False

    # -- connections -------------------------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self._target, uri=self._uri, isolation_level=None, check_same_thread=False, timeout=30.0
        )
        conn.execute("PRAGMA busy_timeout = 30000")
        # Per connection: in WAL mode NORMAL skips the fsync on every commit (a cache may lose
        # its last writes on power loss, never its consistency).
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        with self._lock:
            if not self._schema_ready:
                self._connections.append(self._first_connection())
                self._schema_ready = True
            conn = self._open()
            self._connections.append(conn)
        self._local.conn = conn
        return conn

    def _first_connection(self) -> sqlite3.Connection:
        """Open and prepare the cache, repairing or replacing what cannot be used.

        A damaged file is moved aside and started afresh; a file that cannot be created or
        written (read-only home, full disk, ...) is replaced by a memory cache for this process.
        Either way the run goes on, slower, and the log says why.
        """
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return self._prepared()
        except sqlite3.OperationalError as exc:
            return self._in_memory(f"cannot use {self.path} ({exc})")
        except sqlite3.DatabaseError as exc:  # "file is not a database", "malformed"
            damaged = self.path.with_name(f"{self.path.name}.damaged-{int(time.time())}")
            try:
                os.replace(self.path, damaged)
                for suffix in ("-wal", "-shm"):
                    Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            except OSError as move_error:
                return self._in_memory(f"{self.path} is damaged ({exc}) and cannot be moved ({move_error})")
            self._say(
                f"index cache: {self.path} was damaged ({exc}); moved to {damaged.name}, starting afresh"
            )
            return self._prepared()
        except OSError as exc:
            return self._in_memory(f"cannot create {self.path.parent} ({exc})")

    def _prepared(self) -> sqlite3.Connection:
        conn = self._open()
        try:
            self._prepare(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _in_memory(self, reason: str) -> sqlite3.Connection:
        self._say(f"index cache: {reason}; caching in memory for this run only")
        # A named shared-cache memory database: every thread's connection sees the same data for
        # as long as one connection (the one returned here) stays open.
        self._target = f"file:thamos-index-cache-{id(self)}?mode=memory&cache=shared"
        self._uri = True
        return self._prepared()

    def _say(self, message: str) -> None:
        if self._log is not None:
            self._log(message)

    def _prepare(self, conn: sqlite3.Connection) -> None:
        if conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
            return  # the usual case: no write (and no wait for other writers) just to start
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        if mode.lower() != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version in (4, 5):
                for statement in UPGRADE_FROM_4 if version == 4 else ():
                    conn.execute(statement)
                if "digest" not in {row[1] for row in conn.execute("PRAGMA table_info(pages)")}:
                    conn.execute("ALTER TABLE pages ADD COLUMN digest TEXT")  # pages of version 5 had none
            elif version not in (0, SCHEMA_VERSION):
                # An older layout: it is only a cache, so start afresh.
                for table in ("pages", "metadata", "import_names", "built_metadata"):
                    conn.execute(f"DROP TABLE IF EXISTS {table}")
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def exists(self) -> bool:
        return self.path.is_file()

    # -- writing behind -----------------------------------------------------------------------
    def _write(self, statement: Statement) -> None:
        with self._lock:
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._write_loop, name="index-cache-writer", daemon=True
                )
                self._writer.start()
        self._pending.put(statement)

    def _write_loop(self) -> None:
        conn = self._connection()
        while True:
            item = self._pending.get()
            batch, markers, stop = [], [], False
            while True:  # everything queued so far goes into one transaction
                if item is None:
                    stop = True
                elif isinstance(item, threading.Event):
                    markers.append(item)
                else:
                    batch.append(item)
                try:
                    item = self._pending.get_nowait()
                except queue.Empty:
                    break
            if batch:
                self._commit(conn, batch)
            for marker in markers:
                marker.set()
            if stop:
                return

    def _commit(self, conn: sqlite3.Connection, batch: list[Statement]) -> None:
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                after_commit = [statement(conn) for statement in batch]
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except Exception as exc:  # never fatal: a cache that cannot be written only makes later runs slower
            if not self._write_failure_logged:
                self._write_failure_logged = True
                self._say(f"index cache: cannot write {self.path} ({exc}); this run's results are not kept")
            return
        for then in after_commit:
            if then is not None:
                then()

    def flush(self) -> None:
        """Wait until every write queued so far is in the database."""
        if self._writer is None:
            return
        done = threading.Event()
        self._pending.put(done)
        done.wait()

    def close(self) -> None:
        writer = self._writer
        if writer is not None:
            self._pending.put(None)
            writer.join()
            self._writer = None
        with self._lock:
            for conn in self._connections:
                try:
                    conn.close()
                except sqlite3.Error:
                    pass
            self._connections.clear()
        self._local = threading.local()

    # -- pages -------------------------------------------------------------------------------
    def get_page(self, index_url: str, name: str, *, with_body: bool = True) -> CachedPage | None:
        """The stored page; its body is left in the file when its layout counts bytes (``stored``),
        and not read at all without ``with_body``."""
        row = (
            self._connection()
            .execute(
                "SELECT rowid, fetched_at, status, content_type, page_url, layout, digest,"
                " coalesce(substr(layout, 1, :length) = :mark, 0) AS in_file,"
                " CASE WHEN :with_body AND NOT coalesce(substr(layout, 1, :length) = :mark, 0) THEN body END"
                " FROM pages WHERE index_url = :index_url AND name = :name",
                {
                    "length": len(BYTE_OFFSETS_LAYOUT),
                    "mark": "" if self._uri else BYTE_OFFSETS_LAYOUT,  # a memory cache: bodies are read whole
                    "with_body": with_body,
                    "index_url": index_url,
                    "name": name,
                },
            )
            .fetchone()
        )
        if row is None:
            return None
        rowid, fetched_at, status, content_type, page_url, layout, digest, in_file, body = row
        stored = StoredPageBody(self, rowid, fetched_at, index_url, name) if in_file else None
        return CachedPage(fetched_at, status, content_type, page_url, body, layout, stored, digest)

    def touch_page(
        self, stored: StoredPageBody, fetched_at: float, on_stored: Callable[[StoredPageBody], None]
    ) -> None:
        """The index sent the stored page again, byte for byte: it counts as fetched at ``fetched_at``
        (its body and layout stay); ``on_stored`` is told where it lies then. Nothing when another
        fetch replaced the row meanwhile."""

        def statement(conn: sqlite3.Connection) -> Callable[[], None] | None:
            changed = conn.execute(
                "UPDATE pages SET fetched_at = ?"
                " WHERE rowid = ? AND index_url = ? AND name = ? AND fetched_at = ?",
                (fetched_at, stored.rowid, stored.index_url, stored.name, stored.fetched_at),
            ).rowcount
            if changed != 1:
                return None
            return lambda: on_stored(replace(stored, fetched_at=fetched_at))

        self._write(statement)

    def read_page_ranges(self, body: StoredPageBody, ranges: list[tuple[int, int]]) -> list[bytes] | None:
        """See StoredPageBody.read. One read transaction: the row checked is the row read."""
        conn = self._connection()
        conn.execute("BEGIN")
        try:
            same = conn.execute(
                "SELECT 1 FROM pages WHERE rowid = ? AND index_url = ? AND name = ? AND fetched_at = ?",
                (body.rowid, body.index_url, body.name, body.fetched_at),
            ).fetchone()
            if same is None:
                return None
            with conn.blobopen("pages", "body", body.rowid, readonly=True) as blob:
                return [blob[start:end] for start, end in ranges]
        finally:
            conn.execute("COMMIT")

    def fresh_pages(self, index_url: str, names: list[str], ttl: float) -> set[str]:
        """Which of ``names`` have a page (or a 404) on ``index_url`` younger than ``ttl`` seconds."""
        oldest = time.time() - ttl
        fresh: set[str] = set()
        conn = self._connection()
        for start in range(0, len(names), 500):  # stay under SQLite's limit of bound parameters
            chunk = names[start : start + 500]
            marks = ",".join("?" * len(chunk))
            fresh.update(
                row[0]
                for row in conn.execute(
                    f"SELECT name FROM pages WHERE index_url = ? AND fetched_at > ? AND name IN ({marks})",
                    (index_url, oldest, *chunk),
                )
            )
        return fresh

    def known_metadata(self, keys: list[str]) -> set[str]:
        """Which of ``keys`` have cached metadata (or a cached reason it is unavailable)."""
        known: set[str] = set()
        conn = self._connection()
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            known.update(
                row[0]
                for row in conn.execute(f"SELECT file_key FROM metadata WHERE file_key IN ({marks})", chunk)
            )
        return known

    def put_page(
        self,
        index_url: str,
        name: str,
        status: int,
        page: CachedPage | None = None,
        on_stored: Callable[[StoredPageBody], None] | None = None,
    ) -> None:
        """Store a page as the index sent it (``page``: its type, URL, body and layout), or a 404.

        ``on_stored`` is told where the body lies once it is committed (see StoredPageBody)."""
        stamp = page.fetched_at if page is not None else time.time()
        row = (
            index_url,
            name,
            stamp,
            status,
            page.content_type if page else None,
            page.page_url if page else None,
            page.body if page else None,
            page.layout if page else None,
            page.digest if page else None,
        )

        def statement(conn: sqlite3.Connection) -> Callable[[], None] | None:
            rowid = conn.execute(
                "INSERT OR REPLACE INTO pages"
                " (index_url, name, fetched_at, status, content_type, page_url, body, layout, digest)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            ).lastrowid
            # A memory cache (see _in_memory) holds the body in this process anyway, and its readers
            # would meet the writer's table locks.
            if on_stored is None or rowid is None or self._uri:
                return None
            return lambda: on_stored(StoredPageBody(self, rowid, stamp, index_url, name))

        self._write(statement)

    def iter_pages(self, name: str | None = None) -> Iterator[tuple[str, str, CachedPage]]:
        """(index_url, name, page) of every cached page, or of one project's pages."""
        query = "SELECT index_url, name, fetched_at, status, content_type, page_url, body, layout FROM pages"
        cursor = (
            self._connection().execute(query)
            if name is None
            else self._connection().execute(query + " WHERE name = ?", (name,))
        )
        for index_url, page_name, *page in cursor:
            yield index_url, page_name, CachedPage(*page)

    # -- metadata ----------------------------------------------------------------------------
    def get_metadata(self, key: str) -> CachedMetadata | None:
        row = (
            self._connection()
            .execute("SELECT available, content FROM metadata WHERE file_key = ?", (key,))
            .fetchone()
        )
        if row is None:
            return None
        if row[0] == 1:
            return CachedMetadata(True, json.loads(row[1]), None)
        return CachedMetadata(False, None, row[1], needs_build=row[0] == NEEDS_BUILD)

    def put_metadata(
        self,
        record: FileRecord,
        data: dict[str, Any] | None,
        reason: str | None = None,
        import_names: Iterable[str] = (),
        *,
        needs_build: bool = False,
    ) -> None:
        """Store metadata (or the reason it is unavailable, or why it needs a build) and the wheel's
        import names at once."""
        row = (
            record.key,
            record.project,
            record.version,
            record.filename,
            record.index_url,
            1 if data is not None else (NEEDS_BUILD if needs_build else 0),
            _compact(data) if data is not None else (reason or ""),
            time.time(),
        )
        names = [
            (name, record.key, record.project, record.version, record.index_url) for name in import_names
        ]

        def statement(conn: sqlite3.Connection) -> None:  # one transaction with the rest of its batch
            conn.execute(
                "INSERT OR REPLACE INTO metadata"
                " (file_key, project, version, filename, index_url, available, content, stored_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            conn.executemany(
                "INSERT OR REPLACE INTO import_names (import_name, file_key, project, version, index_url)"
                " VALUES (?, ?, ?, ?, ?)",
                names,
            )

        self._write(statement)

    def put_import_names(self, record: FileRecord, import_names: Iterable[str]) -> None:
        """The top-level names a wheel installs (found after its metadata was read another way)."""
        names = [(name, record.key, record.project, record.version, record.index_url) for name in import_names]

        def statement(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "INSERT OR REPLACE INTO import_names (import_name, file_key, project, version, index_url)"
                " VALUES (?, ?, ?, ?, ?)",
                names,
            )

        self._write(statement)

    def metadata_rows(
        self, project: str, version: str | None = None
    ) -> list[tuple[str, str, str, str, bool, str]]:
        """(version, filename, index_url, file_key, available, content) of a project's cached files."""
        query = "SELECT version, filename, index_url, file_key, available, content FROM metadata WHERE project = ?"
        params: tuple[str, ...] = (project,)
        if version is not None:
            query += " AND version = ?"
            params += (version,)
        return [(r[0], r[1], r[2], r[3], r[4] == 1, r[5]) for r in self._connection().execute(query, params)]

    def providers_of_import(self, import_name: str) -> list[tuple[str, str, str]]:
        """(project, version, index_url) of wheels that install top-level module ``import_name``."""
        return list(
            self._connection().execute(
                "SELECT DISTINCT project, version, index_url FROM import_names WHERE import_name = ?",
                (import_name,),
            )
        )

    # -- built metadata ----------------------------------------------------------------------
    def get_built(self, key: str, python: str) -> CachedBuild | None:
        row = (
            self._connection()
            .execute(
                "SELECT available, content, interpreter, interpreter_version, matched, via"
                " FROM built_metadata WHERE file_key = ? AND python = ?",
                (key, python),
            )
            .fetchone()
        )
        if row is None:
            return None
        available, content, interpreter, interpreter_version, matched, via = row
        data = json.loads(content) if available else None
        return CachedBuild(
            bool(available),
            data,
            None if available else content,
            interpreter,
            interpreter_version,
            bool(matched),
            via,
        )

    def put_built(self, record: FileRecord, python: str, build: CachedBuild) -> None:
        """Store a build's outcome and wait until it is written: another process holding off on
        the same build (see adviser.index.builds) reads it as soon as the build lock is released."""
        row = (
            record.key,
            python,
            record.project,
            record.version,
            record.filename,
            1 if build.available else 0,
            _compact(build.data) if build.available else (build.reason or ""),
            build.interpreter,
            build.interpreter_version,
            1 if build.matched else 0,
            build.via,
            time.time(),
        )

        def statement(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT OR REPLACE INTO built_metadata (file_key, python, project, version, filename,"
                " available, content, interpreter, interpreter_version, matched, via, stored_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )

        self._write(statement)
        self.flush()
