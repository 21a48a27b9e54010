"""The store and the job queue a server runs with, chosen by its settings.

No database URL: the embedded default, a SQLite file claimed by this one process and an
in-process pool of workers. A ``postgresql://`` URL: a team's API process, stateless, any number
of them; the analyses run in ``thamos worker`` processes through procrastinate.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from userapi.database import DatabaseSettingError, check_url, read_password_file, url_has_password
from userapi.queue import JobQueue
from userapi.store import AnalysisStore, SqliteStore, StoreError, StoreUnavailable, claim_store

LOGGER = logging.getLogger(__name__)


def database_password(settings: Any) -> str | None:
    """The password of --database-password-file, if set (else libpq finds one: PGPASSWORD, PGPASSFILE)."""
    path = getattr(settings, "database_password_file", None)
    if not path:
        return None
    try:
        return read_password_file(path)
    except DatabaseSettingError as exc:
        raise StoreError(str(exc)) from None


def connect(url: str, password: str | None, *, wait: float = 60.0, upgrade: bool = True) -> AnalysisStore:
    """The PostgreSQL store once its database answers, waiting up to `wait` seconds and saying so."""
    from userapi.store_pg import PostgresStore

    try:
        check_url(url)
    except DatabaseSettingError as exc:
        raise StoreError(str(exc)) from None
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR)  # a lost database is told once, by us
    if url_has_password(url):
        LOGGER.warning(
            "the database URL carries a password, which other users of this machine can read in the "
            "process list: prefer --database-password-file, PGPASSWORD or PGPASSFILE"
        )
    delay, deadline = 1.0, time.monotonic() + wait
    while True:
        try:
            return PostgresStore(url, password=password, upgrade=upgrade)
        except StoreUnavailable as exc:
            if time.monotonic() + delay > deadline:
                raise StoreError(f"{exc} (waited {wait:.0f} s)") from None
            LOGGER.warning("%s; trying again in %.0f s", exc, delay)
            time.sleep(delay)
            delay = min(delay * 2, 15.0)


def open_backends(settings: Any) -> tuple[AnalysisStore, JobQueue, Any]:
    """(store, job queue, the SQLite store's claim or None). Raises StoreError with a clear message."""
    url = getattr(settings, "database_url", None)
    if url:
        from userapi.team import TeamQueue

        store = connect(url, database_password(settings))
        return store, TeamQueue(store), None
    from userapi.jobs import JobRunner

    # An embedded server may start while its idle predecessor is still letting go of the store.
    claim = claim_store(settings.database, wait=10.0 if settings.idle_timeout else 0.0)
    store = SqliteStore(settings.database)
    return store, JobRunner(store, settings.database, settings.workers, settings.adviser_options()), claim
