"""The analyses store: one SQLite file (WAL) holding every analysis, its log and its result.

The server process inserts analyses and reads them; worker processes open their own connection
to mark an analysis running, append log lines and store the result. Each run of an analysis is
an *attempt*: a worker only finishes the attempt it started, so a worker left over from a killed
server can never overwrite the run that replaced it.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
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


class StoreError(RuntimeError):
    """The store cannot be opened or used; the message says why."""


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


class Store:
    """Thread-safe access to the analyses database (one connection, serialised by a lock)."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=30.0, check_same_thread=False, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the analyses database {self.path}: {exc}") from None
        self._lock = threading.RLock()
        self._db.row_factory = sqlite3.Row
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
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, so concurrent writers queue instead of failing mid-way."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def ping(self) -> None:
        """Raise StoreError when the database cannot answer a query."""
        try:
            with self._lock:
                self._db.execute("SELECT count(*) FROM analyses WHERE state = 'pending'").fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"the analyses database does not answer: {exc}") from None

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
        with self._transaction() as db:
            db.execute(
                "INSERT INTO analyses (id, kind, request, parameters, request_hash, state, authenticated,"
                " created_at) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)",
                (
                    analysis_id,
                    kind,
                    json.dumps(request),
                    json.dumps(parameters),
                    digest,
                    int(authenticated),
                    now,
                ),
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
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM analyses WHERE kind = ? AND request_hash = ? AND created_at >= ?"
                " AND state != 'failed' ORDER BY created_at DESC LIMIT 1",
                (kind, digest, time.time() - max_age),
            ).fetchone()
        return _analysis(row) if row else None

    def get(self, analysis_id: str) -> Analysis | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM analyses WHERE id = ?", (analysis_id,)).fetchone()
        return _analysis(row) if row else None

    def ids_in_state(self, state: str) -> list[str]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id FROM analyses WHERE state = ? ORDER BY created_at", (state,)
            ).fetchall()
        return [row["id"] for row in rows]

    def count_unfinished(self) -> int:
        with self._lock:
            row = self._db.execute(
                "SELECT count(*) FROM analyses WHERE state IN ('pending', 'running')"
            ).fetchone()
        return int(row[0])

    def recent(self, limit: int, offset: int = 0, kind: str | None = None) -> tuple[list[dict[str, Any]], int]:
        """A page of analyses, newest first, without their results (for the web view's list)."""
        where, arguments = ("WHERE kind = ?", [kind]) if kind else ("", [])
        with self._lock:
            total = self._db.execute(f"SELECT count(*) FROM analyses {where}", arguments).fetchone()[0]
            rows = self._db.execute(
                "SELECT id, kind, state, reason, created_at, started_at, finished_at FROM analyses"
                f" {where} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
                [*arguments, limit, offset],
            ).fetchall()
        return [dict(row) for row in rows], int(total)

    # -- running analyses (called by workers) -------------------------------------------------

    def start_attempt(self, analysis_id: str) -> int | None:
        """Mark a pending analysis running; return the attempt number, or None if not pending."""
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE analyses SET state = 'running', attempts = attempts + 1, started_at = ?"
                " WHERE id = ? AND state = 'pending'",
                (time.time(), analysis_id),
            )
            if cursor.rowcount != 1:
                return None
            row = db.execute("SELECT attempts FROM analyses WHERE id = ?", (analysis_id,)).fetchone()
        return int(row["attempts"])

    def append_log(self, analysis_id: str, attempt: int, line: str) -> None:
        with self._transaction() as db:
            db.execute(
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
        """Store the outcome of `attempt`; False when that attempt is no longer the current run."""
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE analyses SET state = ?, reason = ?, result = ?, finished_at = ?"
                " WHERE id = ? AND state = 'running' AND attempts = ?",
                (
                    "succeeded" if succeeded else "failed",
                    reason,
                    json.dumps(result),
                    time.time(),
                    analysis_id,
                    attempt,
                ),
            )
            return cursor.rowcount == 1

    def fail(self, analysis_id: str, reason: str, result: dict[str, Any] | None = None) -> None:
        """Fail an unfinished analysis without a worker (e.g. its worker process died)."""
        with self._transaction() as db:
            db.execute(
                "UPDATE analyses SET state = 'failed', reason = ?, result = ?, finished_at = ?"
                " WHERE id = ? AND state IN ('pending', 'running')",
                (reason, json.dumps(result) if result is not None else None, time.time(), analysis_id),
            )

    def requeue_unfinished(self, max_attempts: int = 3) -> tuple[list[str], list[str]]:
        """Put analyses left running by a stopped server back to pending.

        Returns (requeued ids, ids given up on): an analysis whose runs were interrupted
        `max_attempts` times is failed with a reason instead of being run forever.
        """
        with self._transaction() as db:
            rows = db.execute(
                "SELECT id, attempts FROM analyses WHERE state = 'running' ORDER BY created_at"
            ).fetchall()
            requeued, given_up = [], []
            for row in rows:
                if row["attempts"] >= max_attempts:
                    given_up.append(row["id"])
                else:
                    requeued.append(row["id"])
            db.executemany(
                "UPDATE analyses SET state = 'pending', started_at = NULL WHERE id = ?",
                [(analysis_id,) for analysis_id in requeued],
            )
        return requeued, given_up

    def log_text(self, analysis_id: str) -> str:
        with self._lock:
            rows = self._db.execute(
                "SELECT line FROM log_lines WHERE analysis_id = ? ORDER BY seq", (analysis_id,)
            ).fetchall()
        return "\n".join(row["line"] for row in rows) + ("\n" if rows else "")


def claim_store(database: Path, wait: float = 0.0) -> Any:
    """Hold an exclusive lock next to the database for this process' lifetime.

    Only one server may run a store: at start a server re-runs what is left `running`, which
    would duplicate the work of another live server on the same file. The kernel drops the
    lock when the process ends, however it ends. `wait` gives a server that is just stopping
    (an idle embedded one) time to let go. Returns the open lock file (keep it open).
    """
    import fcntl
    import os

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


def _analysis(row: sqlite3.Row) -> Analysis:
    return Analysis(
        id=row["id"],
        kind=row["kind"],
        request=json.loads(row["request"]),
        parameters=json.loads(row["parameters"]),
        request_hash=row["request_hash"],
        state=row["state"],
        reason=row["reason"],
        attempts=row["attempts"],
        authenticated=bool(row["authenticated"]),
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        result=json.loads(row["result"]) if row["result"] else None,
    )
