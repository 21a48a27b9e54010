"""``thamos worker`` and ``thamos db upgrade``: the parts of a team server besides ``thamos serve``.

A team runs ``thamos serve --database postgresql://...`` (API processes, any number) and
``thamos worker --database postgresql://...`` (analyses, any number, on any machines); both
create or migrate the database schema when they start, and ``thamos db upgrade`` does it alone
(before a rolling update, or where the processes' database role may not change the schema).
"""

from __future__ import annotations

import logging
import signal
from typing import Any

import click

from userapi.cli import load_from_flags, server_options
from userapi.options import SettingsError

from ..exceptions import BadInputError, ThamosError
from .options import state

NEEDS_DATABASE = (
    "needs a PostgreSQL database: --database postgresql://USER@HOST/NAME, THAMOS_DATABASE_URL or "
    "database_url in the settings file (the password in --database-password-file or PGPASSWORD)"
)


def _team_settings(what: str, flags: dict[str, Any]):
    """The server settings of the flags, with a database URL; a BadInputError naming the problem."""
    try:
        settings = load_from_flags(flags)
    except SettingsError as exc:
        raise BadInputError(f"Cannot start {what}: {exc}") from None
    if not settings.database_url:
        raise BadInputError(f"{what} {NEEDS_DATABASE}")
    return settings


@click.command("worker")
@click.option("--concurrency", type=click.IntRange(min=1), metavar="N",
              help="Analyses this worker runs at once, each in a process of its own (default: --workers, 2).")
@click.option("--heartbeat", type=click.FloatRange(min=0.2), metavar="SECONDS", default=10.0, show_default=True,
              help="Seconds between the worker's heartbeats; a worker silent for three is taken for dead "
                   "and its analyses run again elsewhere (THAMOS_WORKER_HEARTBEAT).",
              envvar="THAMOS_WORKER_HEARTBEAT")
@server_options
def worker_command(concurrency: int | None, heartbeat: float, **flags: Any) -> None:
    """Run the analyses of a team server's queue until SIGINT/SIGTERM.

    Takes the flags of `thamos serve` (those of the adviser: indexes, cache, builds, ...; the
    address and the token are the API's and unused here) and needs --database.
    """
    settings = _team_settings("thamos worker", flags)
    from userapi.backends import database_password
    from userapi.store import StoreError
    from userapi.worker import WorkerSettings, run_worker

    # The worker's log is its output (thamos' own logging shows warnings only).
    logging.basicConfig(
        level=getattr(logging, settings.log_level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        force=True,
    )
    try:
        worker = WorkerSettings(
            database_url=settings.database_url,
            adviser_options=settings.adviser_options(),
            password=database_password(settings),
            concurrency=concurrency or settings.workers,
            heartbeat=heartbeat,
        )
    except StoreError as exc:
        raise BadInputError(f"Cannot start thamos worker: {exc}") from None
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        run_worker(worker)
    except StoreError as exc:
        raise ThamosError(f"thamos worker stopped: {exc}") from None
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    state().ui.message("ok", "Worker stopped")


@click.group("db")
def db_group() -> None:
    """The team server's PostgreSQL database."""


@db_group.command("upgrade")
@click.option("--database", "database_url", metavar="URL", help="postgresql:// URL of the database (THAMOS_DATABASE_URL).")
@click.option("--database-password-file", metavar="FILE", help="Read the database password from this file.")
@click.option("--config", "config_file", metavar="FILE", help="YAML/JSON settings file (THAMOS_SERVER_CONFIG).")
def db_upgrade_command(**flags: Any) -> None:
    """Create or migrate the schema: the analyses store's tables and the task queue's (procrastinate).

    Safe while servers and workers run or start: one advisory lock serialises the changes."""
    settings = _team_settings("thamos db upgrade", flags)
    from userapi.backends import connect, database_password
    from userapi.store import StoreError

    try:
        store = connect(settings.database_url, database_password(settings), wait=10.0, upgrade=False)
        try:
            done = store.upgrade()
        finally:
            store.close()
    except StoreError as exc:
        raise ThamosError(f"Cannot upgrade the database: {exc}") from None
    ui = state().ui
    for line in done:
        ui.message("ok", line)
    ui.message("ok", f"The database {store.describe()} is up to date" + ("" if done else " (nothing to do)"))


COMMANDS = (worker_command, db_group)
