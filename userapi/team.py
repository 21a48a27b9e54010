"""A team's job queue: procrastinate, a task queue kept in the same PostgreSQL database.

A job carries the analysis id only; the request, the log and the result live in the store.
API processes defer jobs (TeamQueue); worker processes (userapi.worker) run them. A worker
killed mid-analysis stops sending procrastinate its heartbeat; another worker finds its jobs
stalled (``recover_stalled``), puts their analyses back to pending in the store, bounded by the
same attempt limit as the embedded server's, and has procrastinate retry the jobs.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import procrastinate
from procrastinate.exceptions import ProcrastinateException

from userapi.database import redact_text
from userapi.jobs import MAX_ATTEMPTS, failed_document
from userapi.queue import JobQueue, QueueUnavailable
from userapi.store import AnalysisStore, StoreError

LOGGER = logging.getLogger(__name__)

TASK = "thamos.run_analysis"
QUEUE = "analyses"
# pg_try_advisory_xact_lock key: one worker at a time looks for stalled jobs ("recover").
RECOVERY_LOCK = 0x7265636F766572


class TeamQueue(JobQueue):
    """Defers analyses to the workers through procrastinate, on the store's own connection pool."""

    def __init__(self, store: Any):
        self.store = store
        self.app = procrastinate.App(connector=procrastinate.SyncPsycopgConnector())
        self._opened = False

    def start(self) -> None:
        self.app.open(self.store.pool)
        self._opened = True

    def submit(self, analysis_id: str, withheld: list[dict[str, str]] | None = None) -> None:
        if withheld:
            raise ValueError("a team queue carries no credentials (check carries_withheld first)")
        try:
            self.app.configure_task(TASK, queue=QUEUE).defer(analysis_id=analysis_id)
        except (ProcrastinateException, OSError) as exc:
            reason = redact_text(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__, self.store.url)
            raise QueueUnavailable(f"the task queue in {self.store.describe()} does not answer: {reason}") from None

    def busy(self) -> bool:
        return False  # analyses run in the workers, not here

    def stop(self) -> None:
        if self._opened:
            self.app.close()  # the pool is the store's: it stays open until the store closes
            self._opened = False


async def recover_stalled(app: procrastinate.App, store: AnalysisStore, stalled_after: float) -> list[str]:
    """Re-run the analyses of jobs whose worker stopped sending heartbeats; return their ids.

    Under a transaction-scoped advisory lock, so that two workers never recover the same job
    (the second would find a job a live worker has taken meanwhile and take it again).
    """
    recovered: list[str] = []
    async with app.connector.pool.connection() as connection:  # type: ignore[attr-defined]
        async with connection.transaction():
            cursor = await connection.execute("SELECT pg_try_advisory_xact_lock(%s)", (RECOVERY_LOCK,))
            row = await cursor.fetchone()
            if not row or not row[0]:
                return recovered  # another worker is at it
            jobs = await app.job_manager.get_stalled_jobs(task_name=TASK, seconds_since_heartbeat=stalled_after)
            for job in jobs:
                analysis_id = str(job.task_kwargs.get("analysis_id"))
                outcome = await asyncio.to_thread(store.requeue, analysis_id, MAX_ATTEMPTS)
                if outcome == "given up":
                    await asyncio.to_thread(give_up, store, analysis_id)
                LOGGER.warning(
                    "the worker running %s stopped answering: %s",
                    analysis_id,
                    {"requeued": "running it again", "given up": "interrupted too often, failed"}.get(
                        outcome or "", "nothing left to run"
                    ),
                )
                await app.job_manager.retry_job(job)
                recovered.append(analysis_id)
    return recovered


def give_up(store: AnalysisStore, analysis_id: str) -> None:
    """Fail an analysis whose runs were interrupted MAX_ATTEMPTS times."""
    analysis = store.get(analysis_id)
    if analysis is None:
        return
    message = f"the analysis was interrupted {analysis.attempts} times (worker stopped or crashed)"
    try:
        store.fail(analysis_id, message, failed_document(analysis, message))
    except StoreError as exc:
        LOGGER.error("cannot fail %s: %s", analysis_id, exc)
