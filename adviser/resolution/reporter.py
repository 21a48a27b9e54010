"""The resolver's reporter: counts rounds and keeps the conflicts met on the way."""

from __future__ import annotations

from typing import Any

from resolvelib.reporters import BaseReporter


class AdviseReporter(BaseReporter):
    """``rounds`` after a resolution; each conflict goes to ``conflicts`` (an explain.ConflictHistory)."""

    def __init__(self, conflicts: Any = None) -> None:
        self.rounds = 0
        self.conflicts = conflicts

    def starting_round(self, index: int) -> None:
        self.rounds = index + 1

    def resolving_conflicts(self, causes) -> None:
        if self.conflicts is not None:
            self.conflicts.record(causes)
