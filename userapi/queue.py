"""The job queue of analyses, one interface for the API: the embedded server's in-process pool
(userapi.jobs.JobRunner) and a team's procrastinate queue on PostgreSQL (userapi.team.TeamQueue).

An API process stores an analysis, then hands its id to the queue. Whatever runs it reads the
request from the store and writes the log and the result back there.
"""

from __future__ import annotations

from abc import ABC, abstractmethod


class QueueUnavailable(RuntimeError):
    """The queue cannot take the analysis now (its database does not answer); worth trying again."""


class JobQueue(ABC):
    #: Whether credentials a client expanded (userapi.withheld) can reach the run: only a runner
    #: in this very process holds them; a queue to other machines carries the analysis id alone.
    carries_withheld = False

    @abstractmethod
    def start(self) -> None:
        """Called once the server starts."""

    @abstractmethod
    def submit(self, analysis_id: str, withheld: list[dict[str, str]] | None = None) -> None:
        """Have the stored analysis run (raise QueueUnavailable when it cannot be queued)."""

    @abstractmethod
    def busy(self) -> bool:
        """Whether this process is running analyses (the idle watch of the embedded server)."""

    @abstractmethod
    def stop(self) -> None:
        """Called once the server stops."""
