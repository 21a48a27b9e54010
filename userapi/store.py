"""The analyses store: every analysis, its log and its result, behind one interface.

``AnalysisStore`` holds the behaviour (the SQL is the same on both databases); an implementation
only opens connections and runs statements: ``SqliteStore`` (one SQLite file in WAL mode, the
embedded default, no set-up) here and ``PostgresStore`` (userapi.store_pg, for a team of API
processes and workers). ``open_store`` picks one from the database setting.

API processes insert analyses and read them; workers mark an analysis running, append log lines
and store the result. Each run of an analysis is an *attempt*. An analysis is finished once: the
first result written wins (the UPDATE only matches an unfinished analysis), so a run that was
thought lost and comes back late never replaces a result, nor is its own result stored twice.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import secrets
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

KINDS = ("adviser", "provenance-checker")
STATES = ("pending", "running", "succeeded", "failed")
ANALYSIS_ID = re.compile(r"^(adviser|provenance-checker)-\d{12}-[0-9a-f]{16}$")

SCHEMA = """
CREATE TABLE IF NOT EXISTS analyses (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('adviser', 'provenance-checker')),
    request       TEXT NOT NULL,
    parameters    TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('pending', 'running', 'succeeded', 'failed')),
    reason        TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0,
    authenticated INTEGER NOT NULL DEFAULT 0,
    created_at    REAL NOT NULL,
    started_at    REAL,
    finished_at   REAL,
    result        TEXT
);
CREATE INDEX IF NOT EXISTS analyses_by_hash ON analyses (kind, request_hash, created_at);
CREATE INDEX IF NOT EXISTS analyses_by_state ON analyses (state, created_at);
CREATE TABLE IF NOT EXISTS log_lines (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    analysis_id TEXT NOT NULL REFERENCES analyses (id) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL,
    logged_at   REAL NOT NULL,
    line        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS log_lines_by_analysis ON log_lines (analysis_id, seq);
"""

COLUMNS = (
    "id, kind, request, parameters, request_hash, state, reason, attempts, authenticated,"
    " created_at, started_at, finished_at, result"
)


class StoreError(RuntimeError):
    """The store cannot be opened or used; the message says why."""


class StoreUnavailable(StoreError):
    """The database does not answer now (down, restarting, unreachable); worth trying again."""


@dataclass(frozen=True)
class Analysis:
    id: str
    kind: str
    request: dict[str, Any]
    parameters: dict[str, Any]
    request_hash: str
    state: str
    reason: str | None
    attempts: int
    authenticated: bool
    created_at: float
    started_at: float | None
    finished_at: float | None
    result: dict[str, Any] | None

    @property
    def finished(self) -> bool:
        return self.state in ("succeeded", "failed")


def new_analysis_id(kind: str, now: float | None = None) -> str:
    """`adviser-YYMMDDHHMMSS-<16 hex>`: the time part in UTC, the rest random."""
    if kind not in KINDS:
        raise ValueError(f"unknown analysis kind {kind!r}")
    stamp = datetime.fromtimestamp(now if now is not None else time.time(), tz=timezone.utc)
    return f"{kind}-{stamp:%y%m%d%H%M%S}-{secrets.token_hex(8)}"


def is_analysis_id(value: str, kind: str | None = None) -> bool:
    match = ANALYSIS_ID.match(value or "")
    return bool(match) and (kind is None or match.group(1) == kind)


def request_hash(kind: str, request: dict[str, Any], parameters: dict[str, Any]) -> str:
    """A stable digest of what determines an analysis' outcome (canonical JSON)."""
    canonical = json.dumps(
        {"kind": kind, "request": request, "parameters": parameters},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class Cursor(ABC):
    """What the shared SQL needs of a connection inside a transaction (``?`` placeholders)."""

    @abstractmethod
    def run(self, sql: str, arguments: Sequence[Any] = ()) -> int:
        """Execute; return the number of rows changed."""

    @abstractmethod
    def one(self, sql: str, arguments: Sequence[Any] = ()) -> tuple | None: ...

    @abstractmethod
    def all(self, sql: str, arguments: Sequence[Any] = ()) -> list[tuple]: ...


class AnalysisStore(ABC):
    """The store's behaviour, written once in SQL both SQLite and PostgreSQL run."""

    #: "sqlite" or "postgresql"
    backend = ""

    @abstractmethod
    def _transaction(self, write: bool = True) -> Any:
        """A context manager yielding a Cursor; commits at the end, rolls back on error.

        `write=False` for reads, which need not queue behind writers."""

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def describe(self) -> str:
        """Where the store is, for messages (never with a password)."""

    def ping(self) -> None:
        """Raise StoreError when the database cannot answer a query."""
        with self._transaction(write=False) as db:
            db.one("SELECT count(*) FROM analyses WHERE state = 'pending'")

    # -- creating and finding analyses -------------------------------------------------------

    def create(
        self,
        kind: str,
        request: dict[str, Any],
        parameters: dict[str, Any],
        *,
        cache_key: dict[str, Any] | None = None,
        authenticated: bool = False,
        now: float | None = None,
    ) -> Analysis:
        """Insert a pending analysis; `cache_key` (default: all parameters) decides reuse."""
        now = time.time() if now is None else now
        analysis_id = new_analysis_id(kind, now)
        digest = request_hash(kind, request, parameters if cache_key is None else cache_key)
        values = (analysis_id, kind, json.dumps(request), json.dumps(parameters), digest, int(authenticated), now)
        with self._transaction() as db:
            db.run(
                "INSERT INTO analyses (id, kind, request, parameters, request_hash, state, authenticated,"
                " created_at) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)",
                values,
            )
        analysis = self.get(analysis_id)
        assert analysis is not None
        return analysis

    def find_reusable(
        self, kind: str, request: dict[str, Any], cache_key: dict[str, Any], *, max_age: float
    ) -> Analysis | None:
        """The newest identical analysis younger than max_age that is not failed, if any."""
        if max_age <= 0:
            return None
        digest = request_hash(kind, request, cache_key)
        with self._transaction(write=False) as db:
            row = db.one(
                f"SELECT {COLUMNS} FROM analyses WHERE kind = ? AND request_hash = ? AND created_at >= ?"
                " AND state != 'failed' ORDER BY created_at DESC LIMIT 1",
                (kind, digest, time.time() - max_age),
            )
        return _analysis(row) if row else None

    def get(self, analysis_id: str) -> Analysis | None:
        with self._transaction(write=False) as db:
            row = db.one(f"SELECT {COLUMNS} FROM analyses WHERE id = ?", (analysis_id,))
        return _analysis(row) if row else None

    def finished_among(self, analysis_ids: list[str]) -> set[str]:
        """Which of these analyses have finished (succeeded or failed); for long polls."""
        finished: set[str] = set()
        for start in range(0, len(analysis_ids), 500):  # under SQLite's limit of bound parameters
            chunk = analysis_ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            with self._transaction(write=False) as db:
                rows = db.all(
                    f"SELECT id FROM analyses WHERE state IN ('succeeded', 'failed') AND id IN ({marks})", chunk
                )
            finished.update(row[0] for row in rows)
        return finished

    def ids_in_state(self, state: str) -> list[str]:
        with self._transaction(write=False) as db:
            rows = db.all("SELECT id FROM analyses WHERE state = ? ORDER BY created_at", (state,))
        return [row[0] for row in rows]

    def count_unfinished(self) -> int:
        with self._transaction(write=False) as db:
            row = db.one("SELECT count(*) FROM analyses WHERE state IN ('pending', 'running')")
        return int(row[0]) if row else 0

    def recent(self, limit: int, offset: int = 0, kind: str | None = None) -> tuple[list[dict[str, Any]], int]:
        """A page of analyses, newest first, without their results (for the web view's list)."""
        where, arguments = ("WHERE kind = ?", [kind]) if kind else ("", [])
        names = ("id", "kind", "state", "reason", "created_at", "started_at", "finished_at")
        with self._transaction(write=False) as db:
            total = db.one(f"SELECT count(*) FROM analyses {where}", arguments)
            rows = db.all(
                f"SELECT {', '.join(names)} FROM analyses {where}"
                " ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
                [*arguments, limit, offset],
            )
        return [dict(zip(names, row, strict=True)) for row in rows], int(total[0] if total else 0)

    # -- running analyses (called by workers) -------------------------------------------------

    def start_attempt(self, analysis_id: str) -> int | None:
        """Mark a pending analysis running; return the attempt number, or None if not pending."""
        with self._transaction() as db:
            row = db.one(
                "UPDATE analyses SET state = 'running', attempts = attempts + 1, started_at = ?"
                " WHERE id = ? AND state = 'pending' RETURNING attempts",
                (time.time(), analysis_id),
            )
        return int(row[0]) if row else None

    def append_log(self, analysis_id: str, attempt: int, line: str) -> None:
        with self._transaction() as db:
            db.run(
                "INSERT INTO log_lines (analysis_id, attempt, logged_at, line) VALUES (?, ?, ?, ?)",
                (analysis_id, attempt, time.time(), line),
            )

    def finish(
        self,
        analysis_id: str,
        attempt: int,
        *,
        succeeded: bool,
        result: dict[str, Any],
        reason: str | None = None,
    ) -> bool:
        """Store the outcome of `attempt`; False when the analysis already has one (first writer wins)."""
        state = "succeeded" if succeeded else "failed"
        with self._transaction() as db:
            changed = db.run(
                "UPDATE analyses SET state = ?, reason = ?, result = ?, finished_at = ?"
                " WHERE id = ? AND state IN ('pending', 'running') AND attempts >= ?",
                (state, reason, json.dumps(result), time.time(), analysis_id, attempt),
            )
        return changed == 1

    def fail(self, analysis_id: str, reason: str, result: dict[str, Any] | None = None) -> None:
        """Fail an unfinished analysis without a worker (e.g. its worker process died)."""
        with self._transaction() as db:
            db.run(
                "UPDATE analyses SET state = 'failed', reason = ?, result = ?, finished_at = ?"
                " WHERE id = ? AND state IN ('pending', 'running')",
                (reason, json.dumps(result) if result is not None else None, time.time(), analysis_id),
            )

    def requeue(self, analysis_id: str, max_attempts: int = 3) -> str | None:
        """Put one interrupted running analysis back to pending.

        Returns "requeued", "given up" (its runs were interrupted `max_attempts` times: the caller
        fails it with a reason) or None when it is not running (finished, or requeued meanwhile).
        """
        with self._transaction() as db:
            changed = db.run(
                "UPDATE analyses SET state = 'pending', started_at = NULL"
                " WHERE id = ? AND state = 'running' AND attempts < ?",
                (analysis_id, max_attempts),
            )
            if changed:
                return "requeued"
            row = db.one("SELECT state FROM analyses WHERE id = ?", (analysis_id,))
        return "given up" if row and row[0] == "running" else None

    def requeue_unfinished(self, max_attempts: int = 3) -> tuple[list[str], list[str]]:
        """Put analyses left running by a stopped server back to pending.

        Returns (requeued ids, ids given up on): an analysis whose runs were interrupted
        `max_attempts` times is failed with a reason instead of being run forever.
        """
        with self._transaction() as db:
            rows = db.all("SELECT id, attempts FROM analyses WHERE state = 'running' ORDER BY created_at")
            requeued = [row[0] for row in rows if row[1] < max_attempts]
            given_up = [row[0] for row in rows if row[1] >= max_attempts]
            for analysis_id in requeued:
                db.run("UPDATE analyses SET state = 'pending', started_at = NULL WHERE id = ?", (analysis_id,))
        return requeued, given_up

    def log_text(self, analysis_id: str) -> str:
        with self._transaction(write=False) as db:
            rows = db.all("SELECT line FROM log_lines WHERE analysis_id = ? ORDER BY seq", (analysis_id,))
        return "\n".join(row[0] for row in rows) + ("\n" if rows else "")


# -- SQLite: the embedded default ---------------------------------------------------------------


class _SqliteCursor(Cursor):
    def __init__(self, db: sqlite3.Connection):
        self._db = db

    def run(self, sql: str, arguments: Sequence[Any] = ()) -> int:
        return self._db.execute(sql, tuple(arguments)).rowcount

    def one(self, sql: str, arguments: Sequence[Any] = ()) -> tuple | None:
        rows = self._db.execute(sql, tuple(arguments)).fetchall()  # all: an UPDATE ... RETURNING ends
        return rows[0] if rows else None

    def all(self, sql: str, arguments: Sequence[Any] = ()) -> list[tuple]:
        return self._db.execute(sql, tuple(arguments)).fetchall()


class SqliteStore(AnalysisStore):
    """One SQLite file (WAL), one connection serialised by a lock; thread-safe."""

    backend = "sqlite"

    def __init__(self, path: Path | str):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=30.0, check_same_thread=False, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the analyses database {self.path}: {exc}") from None
        self._lock = threading.RLock()
        try:
            self._db.execute("PRAGMA busy_timeout=30000")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            # Every statement is IF NOT EXISTS, so concurrent openers agree; executescript
            # manages its own transaction.
            self._db.executescript(SCHEMA)
        except sqlite3.Error as exc:
            self._db.close()
            raise StoreError(f"cannot use {self.path} as the analyses database: {exc}") from None

    @contextmanager
    def _transaction(self, write: bool = True) -> Iterator[Cursor]:
        """BEGIN IMMEDIATE ... COMMIT for writes, so concurrent writers queue instead of failing
        mid-way; a plain BEGIN for reads (WAL readers do not wait for writers)."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            except sqlite3.Error as exc:
                raise StoreError(f"the analyses database does not answer: {exc}") from None
            try:
                yield _SqliteCursor(self._db)
            except sqlite3.Error as exc:
                self._db.execute("ROLLBACK")
                raise StoreError(f"the analyses database does not answer: {exc}") from None
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def describe(self) -> str:
        return str(self.path)


# The embedded store under the name it always had (tests and tools open a file with Store(path)).
Store = SqliteStore


def is_database_url(value: str | Path | None) -> bool:
    return isinstance(value, str) and value.startswith(("postgresql://", "postgres://"))


def open_store(database: str | Path, **options: Any) -> AnalysisStore:
    """The store at `database`: a postgresql:// URL (userapi.store_pg) or a SQLite file path."""
    if is_database_url(database):
        # Imported for PostgreSQL only: psycopg costs ~0.2 s of every SQLite (embedded) start.
        from userapi.store_pg import PostgresStore

        return PostgresStore(str(database), **options)
    return SqliteStore(database)


def claim_store(database: Path, wait: float = 0.0) -> Any:
    """Hold an exclusive lock next to the database for this process' lifetime.

    Only one server may run a store: at start a server re-runs what is left `running`, which
    would duplicate the work of another live server on the same file. The kernel drops the
    lock when the process ends, however it ends. `wait` gives a server that is just stopping
    (an idle embedded one) time to let go. Returns the open lock file (keep it open).
    """
    lock_path = Path(str(database) + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(lock_path, "a+")  # noqa: SIM115 - held for the life of the server
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() < deadline:
                time.sleep(0.1)
                continue
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise StoreError(
            f"another server (pid {holder}) already uses the analyses database {database}; "
            "stop it or give this server its own --data-dir"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def _analysis(row: Sequence[Any]) -> Analysis:
    (id_, kind, request, parameters, digest, state, reason, attempts, authenticated, created, started,
     finished, result) = row  # fmt: skip
    return Analysis(
        id=id_,
        kind=kind,
        request=json.loads(request),
        parameters=json.loads(parameters),
        request_hash=digest,
        state=state,
        reason=reason,
        attempts=int(attempts),
        authenticated=bool(authenticated),
        created_at=float(created),
        started_at=float(started) if started is not None else None,
        finished_at=float(finished) if finished is not None else None,
        result=json.loads(result) if result else None,
    )
