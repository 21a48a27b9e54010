"""The server's prescriptions: compiled at start, kept fresh, and listed by GET /prescriptions.

At start the configured sources (``--prescriptions``, ``THAMOS_PRESCRIPTIONS``, settings key
``prescriptions``) are compiled into the cache unless an index of them exists already: then it is
used at once and checked in the background (a server starts in well under a second on a compiled
knowledge base). A first compilation is waited for at most FIRST_WAIT seconds (a clone of the
public repository and its compilation take longer, and the embedded backend must answer within
30 seconds); analyses made before it ends say they were made without prescriptions. Every ``prescriptions_refresh`` seconds git sources are fetched again and the
index is recompiled if any source changed; analyses reopen it when its file changes. A source
that cannot be read (a bad directory, an unreachable git URL) is reported in the listing and the
log; the server starts and advises with what could be read.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from userapi.settings import ServerSettings, prescription_options

LOGGER = logging.getLogger("userapi")
FIRST_WAIT = 15.0


class PrescriptionService:
    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.path = Path(prescription_options(settings)["prescriptions"])
        self.problem: str | None = None
        self._stop = threading.Event()
        self._thread_ready = threading.Event()  # set once the first check or compilation ended
        self._thread: threading.Thread | None = None

    def start(self, first_wait: float = FIRST_WAIT) -> None:
        """Check (or first compile) in the background; a first compilation is waited for a while."""
        first = not self.path.is_file()
        if first:
            self.problem = "the prescriptions are being compiled (first start)"
        self._thread = threading.Thread(target=self._loop, daemon=True, name="prescriptions")
        self._thread.start()
        if first:
            self._thread_ready.wait(first_wait)

    def _loop(self) -> None:
        self.refresh()
        self._thread_ready.set()
        while not self._stop.wait(self.settings.prescriptions_refresh):
            self.refresh()

    def refresh(self) -> None:
        """Fetch git sources when due and recompile if a source changed; problems are logged, kept."""
        from adviser.prescriptions.compiled import compile_sources
        from adviser.prescriptions.sources import resolve_sources

        def log(message: str) -> None:
            LOGGER.info("%s", message)

        try:
            cache = self.settings.cache_dir
            sources = resolve_sources(self.settings.prescriptions, cache, self.settings.prescriptions_refresh, log)
            before = self.path.stat().st_mtime_ns if self.path.is_file() else None
            compile_sources(sources, cache, log)
            self.problem = None
            compiled = self.path.stat().st_mtime_ns != before
            for repository in self.listing()["repositories"] if compiled else ():
                if repository["errors"]:  # said once per compilation; GET /prescriptions lists them all
                    LOGGER.warning("prescriptions %s (%s): %d problems, the first: %s", repository["name"],
                                   repository["source"], len(repository["errors"]), repository["errors"][0])
        except Exception as exc:  # never fatal: analyses keep the last good index
            self.problem = f"prescriptions could not be compiled: {type(exc).__name__}: {exc}"
            LOGGER.error("%s", self.problem)

    def stop(self) -> None:
        self._stop.set()

    def listing(self) -> dict[str, Any]:
        """The loaded repositories (PrescriptionRepositories of the spec)."""
        from adviser.prescriptions.compiled import KnowledgeBase

        answer: dict[str, Any] = {"repositories": [], "problem": self.problem}
        if not self.path.is_file():
            answer["problem"] = self.problem or "the prescriptions are not compiled yet"
            return answer
        knowledge = KnowledgeBase(self.path)
        try:
            for repository in knowledge.repositories():
                repository.pop("path", None)  # a server-side path, not the user's business
                repository.pop("warnings", None)
                repository["total"] = sum(repository["units"].values())
                answer["repositories"].append(repository)
        finally:
            knowledge.close()
        return answer


def start_prescriptions(settings: ServerSettings) -> PrescriptionService | None:
    """A running service when prescriptions are configured, else None."""
    if not settings.prescriptions:
        return None
    service = PrescriptionService(settings)
    service.start()
    return service


def listing(service: PrescriptionService | None) -> dict[str, Any]:
    if service is None:
        return {"repositories": [], "problem": None}
    return service.listing()
