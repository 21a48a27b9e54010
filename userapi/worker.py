"""``thamos worker``: run the analyses of a team's queue (procrastinate on PostgreSQL).

One worker process takes up to `concurrency` jobs at a time and runs each analysis in a child
process of its own pool (the adviser is CPU-bound Python; a crash stays in the child). It sends
procrastinate a heartbeat every `heartbeat` seconds; a worker silent for three heartbeats is
taken for dead and its analyses run again elsewhere (userapi.team.recover_stalled, which every
worker runs each heartbeat). A worker that loses the database says so and tries again, waiting
longer each time; analyses running in its children wait for the database the same way.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

import procrastinate
import psycopg
from procrastinate.exceptions import ProcrastinateException
from psycopg_pool import PoolTimeout

from userapi.jobs import MAX_ATTEMPTS, _init_worker, fail_if_unfinished, run_analysis
from userapi.processes import analysis_pool
from userapi.queue import QueueUnavailable
from userapi.store import StoreError, StoreUnavailable
from userapi.store_pg import PostgresStore
from userapi.team import QUEUE, TASK, TeamQueue, give_up, recover_stalled

LOGGER = logging.getLogger("userapi.worker")
LOST_DATABASE = (ProcrastinateException, psycopg.Error, PoolTimeout, OSError, StoreUnavailable)


@dataclass(frozen=True)
class WorkerSettings:
    database_url: str
    adviser_options: dict[str, Any]
    password: str | None = field(default=None, repr=False)
    concurrency: int = 2
    heartbeat: float = 10.0  # seconds between heartbeats; silent for 3 of them = stalled

    @property
    def stalled_after(self) -> float:
        return 3 * self.heartbeat


class _Analyses:
    """The child processes that run analyses; replaced when one of them dies."""

    def __init__(self, settings: WorkerSettings, store: PostgresStore):
        self.settings = settings
        self.store = store
        self.pool = self._new_pool()
        self.interrupted: set[str] = set()  # cut short by the worker's stop: handed back at the end

    def _new_pool(self) -> ProcessPoolExecutor:
        return analysis_pool(
            self.settings.concurrency, _init_child, (self.settings.database_url, os.getpid(), self.settings.password)
        )

    async def run(self, analysis_id: str) -> None:
        try:
            await self._run(analysis_id)
        except asyncio.CancelledError:  # the stop's grace period is over
            self.interrupted.add(analysis_id)
            raise

    async def _run(self, analysis_id: str) -> None:
        loop = asyncio.get_running_loop()
        while True:
            pool = self.pool
            try:
                outcome = await loop.run_in_executor(
                    pool, run_analysis, analysis_id, self.settings.adviser_options, None
                )
                LOGGER.info("%s: %s", analysis_id, outcome)
                return
            except BrokenProcessPool:
                if self.pool is pool:  # the first job to notice replaces the pool
                    pool.shutdown(wait=False, cancel_futures=True)
                    self.pool = self._new_pool()
            except Exception as exc:  # noqa: BLE001 - the analysis must end, whatever the run raised
                LOGGER.error("%s: the run failed: %s: %s", analysis_id, type(exc).__name__, exc)
                await asyncio.to_thread(fail_if_unfinished, self.store, analysis_id, RUN_FAILED)
                return
            outcome = await asyncio.to_thread(self.store.requeue, analysis_id, MAX_ATTEMPTS)
            if outcome == "given up":
                await asyncio.to_thread(give_up, self.store, analysis_id)
            if outcome is None and await asyncio.to_thread(_still_pending, self.store, analysis_id):
                continue  # the broken pool dropped it before it started: run it now
            if outcome != "requeued":
                return
            LOGGER.warning("the process running %s exited; running it again", analysis_id)

    def close(self) -> None:
        """Stop the children (they ignore SIGTERM, which the worker's stop handles) and hand back
        the analyses they were running, to run again on another worker."""
        self.pool.shutdown(wait=False, cancel_futures=True)
        for process in multiprocessing.active_children():
            process.kill()
            process.join(5)
        if not self.interrupted:
            return
        queue = TeamQueue(self.store)
        queue.start()
        try:
            for analysis_id in sorted(self.interrupted):
                outcome = self.store.requeue(analysis_id, MAX_ATTEMPTS)
                if outcome == "requeued":
                    queue.submit(analysis_id)
                elif outcome == "given up":
                    give_up(self.store, analysis_id)
            LOGGER.info("handed back %d analyses cut short by the stop", len(self.interrupted))
        except (StoreError, QueueUnavailable) as exc:  # they are recovered as stalled instead
            LOGGER.warning("cannot hand back the analyses cut short by the stop: %s", exc)
        finally:
            queue.stop()


def _init_child(database: str, parent_pid: int, password: str | None) -> None:
    """A child running analyses: the worker decides when it stops (SIGTERM and Ctrl-C reach the
    whole process group, and would kill analyses the worker still means to finish)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _init_worker(database, parent_pid, password)


def open_store(settings: WorkerSettings, give_up_after: float = 300.0) -> PostgresStore:
    """The store, once the database answers (schema created or migrated); waits and says so."""
    delay, deadline = 1.0, time.monotonic() + give_up_after
    while True:
        try:
            return PostgresStore(settings.database_url, password=settings.password, upgrade=True)
        except StoreUnavailable as exc:
            if time.monotonic() + delay > deadline:
                raise
            LOGGER.warning("%s; trying again in %.1f s", exc, delay)
            time.sleep(delay)
            delay = min(delay * 2, 30.0)


class _OneLineDatabaseErrors(logging.Filter):
    """procrastinate logs each lost connection with its traceback: keep one line that says why."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        cause = (error.__cause__ or error) if error is not None else None
        if record.name.startswith("procrastinate") and isinstance(cause, (psycopg.Error, OSError)):
            record.msg = f"the task queue lost the database: {_reason(cause)}; trying again"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


def run_worker(settings: WorkerSettings) -> int:
    """Run analyses until SIGINT/SIGTERM; return an exit code. Raises StoreError at start."""
    for handler in logging.getLogger().handlers:
        handler.addFilter(_OneLineDatabaseErrors())
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR)  # our own messages say it once
    store = open_store(settings)
    analyses = _Analyses(settings, store)
    try:
        asyncio.run(_work(settings, store, analyses))
    finally:
        analyses.close()
        store.close()
    return 0


def _procrastinate_app(settings: WorkerSettings, analyses: _Analyses) -> procrastinate.App:
    kwargs: dict[str, Any] = {"application_name": "thamos-worker", "connect_timeout": 5}
    if settings.password is not None:
        kwargs["password"] = settings.password
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=settings.database_url, kwargs=kwargs))

    @app.task(name=TASK, queue=QUEUE)
    async def run_analysis_job(analysis_id: str) -> None:
        await analyses.run(analysis_id)

    return app


async def _work(settings: WorkerSettings, store: PostgresStore, analyses: _Analyses) -> None:
    app = _procrastinate_app(settings, analyses)
    delay = 1.0
    while True:
        started = time.monotonic()
        try:
            async with app.open_async():
                recovery = asyncio.create_task(_recover_forever(app, store, settings))
                LOGGER.info("worker ready: %d at a time, database %s", settings.concurrency, store.describe())
                try:
                    await app.run_worker_async(
                        queues=[QUEUE],
                        concurrency=settings.concurrency,
                        update_heartbeat_interval=settings.heartbeat,
                        stalled_worker_timeout=settings.stalled_after,
                        delete_jobs="successful",
                        shutdown_graceful_timeout=settings.stalled_after,
                        # Jobs a recovery put back are not announced: look for work at least this often.
                        fetch_job_polling_interval=min(5.0, settings.heartbeat),
                    )
                finally:
                    recovery.cancel()
            return  # stopped by SIGINT/SIGTERM
        except LOST_DATABASE as exc:
            if time.monotonic() - started > 60:
                delay = 1.0  # it had worked for a while: start waiting short again
            LOGGER.warning("lost the database %s (%s); trying again in %.0f s", store.describe(), _reason(exc), delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)


async def _recover_forever(app: procrastinate.App, store: PostgresStore, settings: WorkerSettings) -> None:
    while True:
        await asyncio.sleep(settings.heartbeat)
        try:
            await recover_stalled(app, store, settings.stalled_after)
        except (*LOST_DATABASE, StoreError) as exc:
            LOGGER.warning("cannot look for stalled analyses now: %s", _reason(exc))


def _reason(exc: BaseException) -> str:
    from userapi.database import redact_text

    lines = str(exc).strip().splitlines()
    return redact_text(lines[0] if lines else type(exc).__name__)


RUN_FAILED = "the analysis could not be completed: its run failed on the worker (see the worker's log)"


def _still_pending(store: PostgresStore, analysis_id: str) -> bool:
    analysis = store.get(analysis_id)
    return analysis is not None and analysis.state == "pending"
