"""How the processes that run analyses start.

They are forked from a forkserver that has imported the adviser once (~0.4 s), so a new worker is
ready in milliseconds and shares those pages with its siblings; where there is no forkserver they
are spawned and import it themselves. Never a plain fork of the server, which holds threads and an
event loop. This module imports nothing heavy: the embedded server starts the forkserver first
thing, so that its imports overlap the server's own.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

# What every run imports (~0.4 s): the forkserver imports it once, and each worker forked from it
# starts ready and shares those pages with its siblings.
WORKER_MODULES = ["adviser.engine", "adviser.index", "userapi.contract", "userapi.jobs", "userapi.preloaded"]


def _process_context() -> multiprocessing.context.BaseContext:
    """The forkserver context with its preloads, else spawn."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(WORKER_MODULES)
    return context


def start_worker_imports() -> None:
    """Start the forkserver now: its imports (~0.4 s) then overlap the server's own start instead of
    following it. For a server that runs analyses itself, before it imports the web stack."""
    if _process_context().get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


def analysis_pool(workers: int, initializer: Callable[..., None], initargs: tuple) -> ProcessPoolExecutor:
    """The processes analyses run in, one of them started at once."""
    context = _process_context()
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=initializer, initargs=initargs)
    # A worker starts now, ready before the first analysis arrives. On a thread: the first start
    # waits for the forkserver's imports (~0.4 s), which the server's own start need not wait for.
    threading.Thread(target=pool.submit, args=(_ready,), name="analysis-pool-start", daemon=True).start()
    return pool


def _ready() -> None:
    """Nothing: see analysis_pool."""
