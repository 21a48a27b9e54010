"""The analyses store on PostgreSQL, for a team: any number of API processes and workers share it.

The behaviour (and its SQL) is AnalysisStore's, the same as the embedded SQLite store's; this
module opens pooled psycopg 3 connections, turns a database that does not answer into
StoreUnavailable (the API answers 503, a worker waits and retries), and creates and migrates the
schema (``upgrade``): the store's tables and procrastinate's, under an advisory lock so that
processes starting together do it once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from userapi.database import redact_text, redact_url
from userapi.store import AnalysisStore, Cursor, StoreError, StoreUnavailable

LOGGER = logging.getLogger(__name__)

# pg_advisory_xact_lock key of schema changes (any fixed number; "thamos" in ASCII).
UPGRADE_LOCK = 0x7468616D6F73

# libpq's words for a database that answered but refused us (not worth waiting for).
REFUSALS = ("authentication failed", "does not exist", "no pg_hba.conf entry", "permission denied")

# The store's schema, one step per version; a step is applied once, in order, by upgrade().
MIGRATIONS: tuple[str, ...] = (
    """
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
        created_at    DOUBLE PRECISION NOT NULL,
        started_at    DOUBLE PRECISION,
        finished_at   DOUBLE PRECISION,
        result        TEXT
    );
    CREATE INDEX IF NOT EXISTS analyses_by_hash ON analyses (kind, request_hash, created_at);
    CREATE INDEX IF NOT EXISTS analyses_by_state ON analyses (state, created_at);
    CREATE TABLE IF NOT EXISTS log_lines (
        seq         BIGSERIAL PRIMARY KEY,
        analysis_id TEXT NOT NULL REFERENCES analyses (id) ON DELETE CASCADE,
        attempt     INTEGER NOT NULL,
        logged_at   DOUBLE PRECISION NOT NULL,
        line        TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS log_lines_by_analysis ON log_lines (analysis_id, seq);
    """,
)


class _PostgresCursor(Cursor):
    def __init__(self, cursor: psycopg.Cursor):
        self._cursor = cursor

    def run(self, sql: str, arguments: Sequence[Any] = ()) -> int:
        self._cursor.execute(_placeholders(sql), tuple(arguments))
        return self._cursor.rowcount

    def script(self, sql: str) -> None:
        """Statements run as written (no placeholders: `?` and `%` are SQL's own there)."""
        self._cursor.execute(sql)  # type: ignore[arg-type]  # trusted text: ours or procrastinate's

    def one(self, sql: str, arguments: Sequence[Any] = ()) -> tuple | None:
        self._cursor.execute(_placeholders(sql), tuple(arguments))
        return self._cursor.fetchone()

    def all(self, sql: str, arguments: Sequence[Any] = ()) -> list[tuple]:
        self._cursor.execute(_placeholders(sql), tuple(arguments))
        return self._cursor.fetchall()


def _placeholders(sql: str) -> str:
    """The shared SQL's `?` as psycopg's `%s` (the statements hold no other `?` nor `%`)."""
    return sql.replace("?", "%s")


class PostgresStore(AnalysisStore):
    """A pool of connections to one PostgreSQL database; thread-safe."""

    backend = "postgresql"

    def __init__(
        self,
        url: str,
        *,
        password: str | None = None,
        max_connections: int = 10,
        wait: float = 5.0,
        upgrade: bool = True,
    ):
        """`wait`: seconds a call waits for a connection before the database counts as unavailable;
        `upgrade`: create or migrate the schema now (safe while other processes do the same)."""
        self.url = url
        self.wait = wait
        kwargs: dict[str, Any] = {"connect_timeout": max(1, int(wait)), "application_name": "thamos"}
        if password is not None:
            kwargs["password"] = password
        self.connect_kwargs = kwargs
        self._probe()
        self._pool = ConnectionPool(
            url,
            kwargs=kwargs,
            min_size=1,
            max_size=max_connections,
            open=False,
            check=ConnectionPool.check_connection,  # a connection broken by a database restart is replaced
            name="thamos-store",
            reconnect_timeout=0,  # never give up reconnecting in the background
        )
        self._pool.open(wait=False)
        try:
            if upgrade:
                self.upgrade()
            else:  # the schema may not be there yet (thamos db upgrade makes it)
                with self._transaction(write=False) as db:
                    db.one("SELECT 1")
        except BaseException:
            self._pool.close()
            raise

    def _probe(self) -> None:
        """One direct connection first: when the database does not answer, libpq says why
        (refused, unknown host, bad password), where the pool would only time out."""
        try:
            psycopg.connect(self.url, **self.connect_kwargs).close()
        except psycopg.Error as exc:
            reason = self._reason(exc)
            if isinstance(exc, psycopg.OperationalError) and not any(word in reason for word in REFUSALS):
                raise StoreUnavailable(f"the analyses database {self.describe()} does not answer: {reason}") from None
            # Waiting would not help: the database answered no.
            raise StoreError(f"cannot use the analyses database {self.describe()}: {reason}") from None

    def describe(self) -> str:
        return redact_url(self.url)

    @property
    def pool(self) -> ConnectionPool:
        """The connection pool, shared with the task queue of the API process (userapi.team)."""
        return self._pool

    @contextmanager
    def _transaction(self, write: bool = True) -> Iterator[Cursor]:
        try:
            with self._pool.connection(timeout=self.wait) as connection:
                with connection.cursor() as cursor:
                    yield _PostgresCursor(cursor)
        except PoolTimeout:
            raise StoreUnavailable(f"the analyses database {self.describe()} does not answer") from None
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(
                f"the analyses database {self.describe()} does not answer: {self._reason(exc)}"
            ) from None
        except psycopg.Error as exc:
            raise StoreError(f"the analyses database {self.describe()} refused a query: {self._reason(exc)}") from None

    def _reason(self, exc: BaseException) -> str:
        text = str(exc).strip().splitlines()
        return redact_text(text[0] if text else type(exc).__name__, self.url)

    def close(self) -> None:
        self._pool.close()

    # -- the schema -----------------------------------------------------------------------------

    def upgrade(self) -> list[str]:
        """Create or migrate the store's tables and procrastinate's; return what was done.

        One transaction under an advisory lock: concurrent starters wait, then find nothing to do.
        """
        with self._transaction() as db:
            assert isinstance(db, _PostgresCursor)
            db.run("SELECT pg_advisory_xact_lock(?)", (UPGRADE_LOCK,))
            db.run(
                "CREATE TABLE IF NOT EXISTS thamos_schema (component TEXT PRIMARY KEY, version TEXT NOT NULL)"
            )
            done = _upgrade_store(db)
            done += _upgrade_queue(db)
        for line in done:
            LOGGER.info("database %s: %s", self.describe(), line)
        return done


def _version(db: _PostgresCursor, component: str) -> str | None:
    row = db.one("SELECT version FROM thamos_schema WHERE component = ?", (component,))
    return row[0] if row else None


def _set_version(db: _PostgresCursor, component: str, version: str) -> None:
    db.run(
        "INSERT INTO thamos_schema (component, version) VALUES (?, ?)"
        " ON CONFLICT (component) DO UPDATE SET version = excluded.version",
        (component, version),
    )


def _upgrade_store(db: _PostgresCursor) -> list[str]:
    current = int(_version(db, "store") or 0)
    done = []
    for number, step in enumerate(MIGRATIONS, start=1):
        if number > current:
            db.script(step)
            done.append(f"store schema step {number} applied")
    if current < len(MIGRATIONS):
        _set_version(db, "store", str(len(MIGRATIONS)))
    return done


def _upgrade_queue(db: _PostgresCursor) -> list[str]:
    """procrastinate's schema: whole on a new database, else its migrations since the recorded version."""
    import procrastinate
    from procrastinate.schema import SchemaManager

    installed = procrastinate.__version__
    recorded = _version(db, "procrastinate")
    exists = db.one("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")[0]
    if not exists:
        db.script(SchemaManager.get_schema())
        _set_version(db, "procrastinate", installed)
        return [f"task queue schema (procrastinate {installed}) created"]
    if recorded is None or _key(recorded) >= _key(installed):
        return []
    folder = resources.files("procrastinate.sql") / "migrations"
    steps = sorted(
        (item for item in folder.iterdir() if item.name.endswith(".sql")), key=lambda item: item.name
    )
    applied = []
    for step in steps:
        version = _key(step.name.split("_", 1)[0])
        if _key(recorded) < version <= _key(installed):
            db.script(step.read_text(encoding="utf-8"))
            applied.append(step.name)
    _set_version(db, "procrastinate", installed)
    return [f"task queue migrated from procrastinate {recorded} to {installed}: {', '.join(applied) or 'no step'}"]


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.replace("-", ".").split(".")[:3] if part.isdigit())


__all__ = ["MIGRATIONS", "PostgresStore", "StoreError", "StoreUnavailable"]
