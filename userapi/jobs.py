"""Running analyses outside the request path, in a pool of worker processes.

The adviser is CPU-bound Python, so analyses run in separate processes (userapi.processes). A
worker does the whole run itself: it marks the analysis running in the store, streams the
adviser's log lines into it, and stores the wrapped result, so nothing is lost between the worker
and the server.

When the server stops, analyses still running are left `running`; the next start puts them
back to `pending` (`Store.requeue_unfinished`) and runs them again.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import select
import threading
import time
import traceback
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import adviser
from adviser import wire
from userapi.contract import contract_schemas, contract_violation
from userapi.malloc import configure_malloc, release_free_memory
from userapi.processes import analysis_pool
from userapi.queue import JobQueue
from userapi.store import Analysis, AnalysisStore, StoreUnavailable, is_database_url, open_store
from userapi.withheld import LOST, Redactor, merged, needs_withheld

LOGGER = logging.getLogger(__name__)

# A run interrupted this many times (server killed, worker crashed) is failed, not retried.
MAX_ATTEMPTS = 3


# -- inside a worker process ----------------------------------------------------------------

_worker_store: AnalysisStore | None = None


def _watch_parent(server_pid: int) -> None:
    """Exit as soon as the server process is gone (e.g. killed), instead of running on orphaned.

    The worker's parent may be the forkserver, which outlives the server by a moment: the server
    itself is watched, through a pidfd where Linux has them (readable once the process has ended,
    reaped or not), else by polling."""
    try:
        handle = os.pidfd_open(server_pid)
    except (AttributeError, OSError):
        handle = None
    if handle is not None:
        select.select([handle], [], [])
        os._exit(0)
    parent = os.getppid()
    while True:
        time.sleep(0.5)
        if os.getppid() != parent or not _alive(server_pid):
            os._exit(0)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        pass
    return True


def _init_worker(database: str, parent_pid: int, password: str | None = None) -> None:
    """`database`: a SQLite path or a postgresql:// URL; `password` reaches here through the
    pool's pipe, never a command line."""
    global _worker_store
    # The parent process has created or migrated the schema already.
    options = {"password": password, "upgrade": False} if is_database_url(database) else {}
    configure_malloc()  # before this worker starts any thread
    _worker_store = _patient(lambda: open_store(database, **options), "open the analyses database")
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    contract_schemas()  # ~15 ms, before the first run rather than inside it


def _patient(call: Any, what: str, give_up_after: float = 600.0) -> Any:
    """call() again while the database does not answer, waiting longer each time (up to 30 s),
    and say so; after `give_up_after` seconds the StoreUnavailable goes to the caller."""
    delay, deadline = 0.5, time.monotonic() + give_up_after
    while True:
        try:
            return call()
        except StoreUnavailable as exc:
            if time.monotonic() + delay > deadline:
                raise
            LOGGER.warning("cannot %s (%s); trying again in %.1f s", what, exc, delay)
            time.sleep(delay)
            delay = min(delay * 2, 30.0)


def run_analysis(
    analysis_id: str, adviser_options: dict[str, Any], withheld: list[dict[str, str]] | None = None
) -> str:
    """Run one analysis to its end in this worker; return its final state (or "skipped").

    ``withheld``: the request's expanded index URLs, which only the server's memory holds (see
    userapi.withheld); whatever this run writes to the store is cleaned of them."""
    try:
        return _run_analysis(analysis_id, adviser_options, withheld)
    finally:
        # After the result is stored: the client is not kept waiting for the clean-up.
        gc.collect()
        release_free_memory()


def _run_analysis(
    analysis_id: str, adviser_options: dict[str, Any], withheld: list[dict[str, str]] | None
) -> str:
    store = _worker_store
    assert store is not None, "worker not initialised"
    attempt = _patient(lambda: store.start_attempt(analysis_id), "start the analysis")
    if attempt is None:
        return "skipped"  # finished or taken meanwhile
    analysis = _patient(lambda: store.get(analysis_id), "read the analysis")
    assert analysis is not None

    redactor = Redactor(withheld)

    def log(line: Any) -> None:
        text = redactor.text(str(line))
        _patient(lambda: store.append_log(analysis_id, attempt, text), "write the analysis log")

    if attempt > 1:
        log(f"analysis restarted (attempt {attempt}): the previous run was interrupted")
    started = datetime.now(timezone.utc)
    try:
        if needs_withheld(analysis.request) and not withheld:
            log(LOST)  # the server restarted: the credentials are gone with its memory
            result = wire.error_result(analysis.kind, analysis.parameters, LOST)
        else:
            request = merged(analysis.request, withheld)
            # Prescriptions may apply only to authenticated requests (should_include.authenticated).
            request = dict(request, authenticated=analysis.authenticated) if analysis.kind == "adviser" else request
            result = _call_adviser(analysis.kind, request, analysis.parameters, adviser_options, log)
    except Exception as exc:  # the adviser failed: the analysis fails, the server does not
        log(f"the {analysis.kind} stopped with an error: {type(exc).__name__}: {exc}")
        if analysis.parameters.get("debug"):
            log(traceback.format_exc())
        result = wire.error_result(
            analysis.kind, analysis.parameters, f"the {analysis.kind} failed: {type(exc).__name__}: {exc}"
        )
    metadata = wire.metadata(analysis_id, analysis.kind, analysis.parameters, started)
    document = wire.analysis_document(analysis.kind, analysis_id, analysis.request, metadata, result)
    violation = contract_violation(analysis.kind, document)
    if violation is not None:
        message = f"the {analysis.kind} produced a document that breaks the API contract at {violation}"
        log(message)
        failed = wire.error_result(analysis.kind, analysis.parameters, message)
        document = wire.analysis_document(analysis.kind, analysis_id, analysis.request, metadata, failed)
    document = redactor.document(document)
    error = bool(document["result"].get("error"))
    reason = (document["result"].get("error_msg") or "the analysis reported an error") if error else None
    stored = _patient(
        lambda: store.finish(analysis_id, attempt, succeeded=not error, result=document, reason=reason),
        "store the result",
    )
    if not stored:
        return "duplicate"  # another run finished it first; its result stays
    return "failed" if error else "succeeded"


def build_adviser_settings(options: dict[str, Any], force: bool = False):
    """adviser.AdviserSettings from the server's plain options (see ServerSettings.adviser_options)."""
    # Imported in the worker only: the index client adds ~0.1 s to the server's start, which never needs it.
    from adviser.index import IndexSource

    def source(entry: dict[str, Any] | None):
        return IndexSource(entry["name"], entry["url"], entry.get("verify_ssl", True)) if entry else None

    return adviser.AdviserSettings(
        cache_dir=Path(options["cache_dir"]),
        page_ttl=options["page_ttl"],
        force_refresh=force,
        known_indexes=[source(entry) for entry in options["known_indexes"]],
        index_aliases=options.get("index_aliases") or None,  # absent from an older server's options
        default_index=source(options["default_index"]),
        # A path, a URL (its last good copy is read) or "none"; None: the shipped snapshot.
        advisory_db=options.get("advisory_db") or None,
        # Options stored by an older server lack the build settings: the adviser's defaults apply.
        **{key: options[key] for key in BUILD_OPTIONS if key in options},
        # The compiled knowledge base (absent: no prescriptions), units switched off, link base.
        **{key: options[key] for key in PRESCRIPTION_OPTIONS if key in options},
    )


BUILD_OPTIONS = ("builds", "build_timeout", "build_memory_mb", "build_max_source_mb", "build_pythons",
                 "analysis_deadline")
PRESCRIPTION_OPTIONS = ("prescriptions", "prescriptions_denied", "prescriptions_link_base")


def _call_adviser(
    kind: str, request: dict[str, Any], parameters: dict[str, Any], options: dict[str, Any], log
) -> dict[str, Any]:
    try:
        settings = build_adviser_settings(options, force=bool(parameters.get("force")))
    except ImportError as exc:
        raise RuntimeError(f"the adviser package cannot be imported ({exc})") from None
    if kind == "adviser":
        adviser_request = dict(request)
        # Planned by the handler; absent (None) in analyses stored before, and then planned by the adviser.
        adviser_request["recommendation_type"] = parameters.get("recommendation_type")
        adviser_request["dev"] = bool(parameters.get("dev"))
        adviser_request["labels"] = request.get("labels") or {}
        adviser_request["debug"] = bool(parameters.get("debug"))  # --debug: the resolver's decisions logged
        result = adviser.advise(adviser_request, settings, log=log)
    else:
        result = adviser.check_provenance(request, settings, log=log)
    if not isinstance(result, dict):
        raise TypeError(f"the {kind} returned {type(result).__name__} instead of a document")
    return result


def failed_document(analysis: Analysis, message: str) -> dict[str, Any]:
    """The document of an analysis the runner gave up on (no worker produced one)."""
    metadata = wire.metadata(analysis.id, analysis.kind, analysis.parameters, datetime.now(timezone.utc))
    failed = wire.error_result(analysis.kind, analysis.parameters, message)
    return wire.analysis_document(analysis.kind, analysis.id, analysis.request, metadata, failed)


def fail_if_unfinished(store: Any, analysis_id: str, message: str) -> None:
    """Fail an analysis nobody will finish, with an error document clients can read."""
    analysis = store.get(analysis_id)
    if analysis is None or analysis.finished:
        return
    store.fail(analysis_id, message, failed_document(analysis, message))


# -- in the server process -------------------------------------------------------------------


class JobRunner(JobQueue):
    """Hands pending analyses to a process pool and recovers from interrupted runs."""

    carries_withheld = True

    def __init__(self, store: AnalysisStore, database: Path, workers: int, adviser_options: dict[str, Any]):
        self.store = store
        self.database = database
        self.workers = workers
        self.adviser_options = adviser_options
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self._futures: dict[str, Future] = {}
        self._withheld: dict[str, list[dict[str, str]]] = {}  # expanded index URLs, never stored
        self._stopping = False

    def _new_pool(self) -> ProcessPoolExecutor:
        return analysis_pool(self.workers, _init_worker, (str(self.database), os.getpid()))

    def start(self) -> None:
        """Requeue what a previous server left unfinished, then run everything pending."""
        requeued, given_up = self.store.requeue_unfinished(MAX_ATTEMPTS)
        for analysis_id in given_up:
            self._give_up(analysis_id)
        if requeued:
            LOGGER.info("re-running %d analyses interrupted by the last stop", len(requeued))
        with self._lock:
            self._pool = self._new_pool()
        for analysis_id in self.store.ids_in_state("pending"):
            self.submit(analysis_id)

    def _give_up(self, analysis_id: str) -> None:
        analysis = self.store.get(analysis_id)
        if analysis is None:
            return
        message = f"the analysis was interrupted {analysis.attempts} times (server stopped or worker crashed)"
        self.store.fail(analysis_id, message, failed_document(analysis, message))

    def submit(self, analysis_id: str, withheld: list[dict[str, str]] | None = None) -> None:
        """Queue an analysis; ``withheld`` stays in this process' memory until it has finished."""
        with self._lock:
            if withheld:
                self._withheld[analysis_id] = withheld
            if self._stopping or self._pool is None:
                return  # stays pending; the next start runs it
            if analysis_id in self._futures:
                return
            withheld = self._withheld.get(analysis_id)
            future = self._pool.submit(run_analysis, analysis_id, self.adviser_options, withheld)
            self._futures[analysis_id] = future
        future.add_done_callback(lambda done, analysis_id=analysis_id: self._finished(analysis_id, done))

    def _finished(self, analysis_id: str, future: Future) -> None:
        with self._lock:
            self._futures.pop(analysis_id, None)
            if self._stopping or future.cancelled():
                return
            if not isinstance(future.exception(), BrokenProcessPool):  # else it is run again
                self._withheld.pop(analysis_id, None)
        error = future.exception()
        if error is None:
            return
        if isinstance(error, BrokenProcessPool):
            self._recover_from_broken_pool()
            return
        # run_analysis catches the adviser's errors itself; anything here is the runner's own.
        LOGGER.error("analysis %s could not be run: %s", analysis_id, error)
        self._fail_if_unfinished(analysis_id, f"the analysis could not be run: {type(error).__name__}")

    def _fail_if_unfinished(self, analysis_id: str, message: str) -> None:
        fail_if_unfinished(self.store, analysis_id, message)

    def _recover_from_broken_pool(self) -> None:
        """A worker process died: replace the pool, requeue its runs (bounded), resubmit."""
        with self._lock:
            if self._stopping or self._pool is None or not self._pool._broken:  # type: ignore[attr-defined]
                return  # already replaced by another callback
            LOGGER.error("a worker process exited unexpectedly; restarting the worker pool")
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()
            self._futures.clear()
        requeued, given_up = self.store.requeue_unfinished(MAX_ATTEMPTS)
        for analysis_id in given_up:
            self._give_up(analysis_id)
        for analysis_id in self.store.ids_in_state("pending"):
            self.submit(analysis_id)

    def busy(self) -> bool:
        with self._lock:
            return bool(self._futures)

    def stop(self) -> None:
        """Stop at once: queued runs stay pending and running ones `running`, for the next start."""
        with self._lock:
            self._stopping = True
            pool, self._pool = self._pool, None
        if pool is None:
            return
        pool.shutdown(wait=False, cancel_futures=True)
        # Workers in the middle of a run are terminated; their analyses are re-run at next start.
        for process in multiprocessing.active_children():
            process.terminate()
        for process in multiprocessing.active_children():
            process.join(timeout=5)
