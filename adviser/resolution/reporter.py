"""The resolver's reporter: counts rounds, keeps the conflicts met on the way and the current pins."""

from __future__ import annotations

from typing import Any

from resolvelib.reporters import BaseReporter


class AdviseReporter(BaseReporter):
    """``rounds`` after a resolution; each conflict goes to ``conflicts`` (an explain.ConflictHistory).

    With ``decisions`` (a log function: analyses asked with --debug) every decision of the resolver
    is logged: each version pinned, each candidate rejected and why, each backtrack."""

    def __init__(self, conflicts: Any = None, decisions: Any = None) -> None:
        self.rounds = 0
        self.conflicts = conflicts
        self.decisions = decisions
        self.pinned: Any = {}  # the current state's pins (identifier -> candidate), for decision units

    def pinning(self, candidate: Any) -> None:
        if self.decisions is not None:
            self.decisions(f"debug: round {self.rounds}: pinned {_describe(candidate)}")

    def rejecting_candidate(self, criterion: Any, candidate: Any) -> None:
        if self.decisions is not None:
            needs = ", ".join(sorted({_requirement(cause.requirement, cause.parent)
                                      for cause in getattr(criterion, "information", [])}))
            self.decisions(f"debug: round {self.rounds}: rejected {_describe(candidate)}"
                           + (f": it conflicts with {needs}" if needs else ""))

    def backtracking(self, candidate: Any) -> None:  # resolvelib before 1.0 calls it so
        if self.decisions is not None:
            self.decisions(f"debug: round {self.rounds}: backtracked from {_describe(candidate)}")

    def ending_round(self, index: int, state: Any) -> None:
        # resolvelib ends every round (pinned or backtracked) with the state the next round works on.
        self.pinned = state.mapping

    def starting_round(self, index: int) -> None:
        self.rounds = index + 1

    def resolving_conflicts(self, causes) -> None:
        if self.conflicts is not None:
            self.conflicts.record(causes)


def _describe(candidate: Any) -> str:
    index = getattr(getattr(getattr(candidate, "offer", None), "index", None), "name", None)
    where = f" from {index}" if index else ""
    return f"{getattr(candidate, 'identifier', candidate)} {getattr(candidate, 'version', '')}{where}"


def _requirement(requirement: Any, parent: Any) -> str:
    who = requirement.who() if hasattr(requirement, "who") else "the application"
    return f"{getattr(requirement, 'identifier', requirement)}{getattr(requirement, 'specifier', '')} (from {who})"
