"""The resolver's reporter: counts rounds, keeps the conflicts met on the way and the current pins."""

from __future__ import annotations

from typing import Any

from resolvelib.reporters import BaseReporter


class AdviseReporter(BaseReporter):
    """``rounds`` after a resolution; each conflict goes to ``conflicts`` (an explain.ConflictHistory)."""

    def __init__(self, conflicts: Any = None) -> None:
        self.rounds = 0
        self.conflicts = conflicts
        self.pinned: Any = {}  # the current state's pins (identifier -> candidate), for decision units

    def ending_round(self, index: int, state: Any) -> None:
        # resolvelib ends every round (pinned or backtracked) with the state the next round works on.
        self.pinned = state.mapping

    def starting_round(self, index: int) -> None:
        self.rounds = index + 1

    def resolving_conflicts(self, causes) -> None:
        if self.conflicts is not None:
            self.conflicts.record(causes)
