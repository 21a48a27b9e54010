"""Decision units: the one place where rules that choose between versions plug into the resolution.

A recommendation policy (``adviser.policies``) and a prescription are the same kind of thing: each
may drop versions, order the rest, reject a partial stack, and explain itself. ``DecisionUnit``
names those hooks; every hook has a neutral default, so a unit implements only what it decides.

Where each hook is called:

* ``admit`` (filter) -- ``selection.Selection.iter_admissible``, for every version that fits the
  requirements and the target; a returned reason drops the version and is recorded as the
  package's ``rejected`` reason (explanations quote it);
* ``tier`` (score/order) -- ``offers.OfferBook.judge``, once per version and index, from the
  version's ``VersionFacts``; tier 0 is tried first, newest first, then the next tiers;
  ``relative_tiers`` counts tiers from the best one the package offers;
* ``demote`` (order, from core metadata) -- ``offers.OfferBook.check`` once a version's metadata is
  read; a demoted version waits behind a few older versions of its tier
  (``selection.METADATA_LOOKAHEAD``);
* ``reject_stack`` (backtrack) -- ``provider.AdviserProvider.get_dependencies``, when resolvelib
  pins a candidate, with the pins of the partial stack (kept by ``reporter.AdviseReporter`` from
  ``ending_round``); a reason makes the candidate fail and the resolver backtrack, blaming the
  pinned packages the reason names in ``blames`` (a ``str`` subclass may carry them);
* ``skip`` (prune) and ``added`` (grow) -- the same place: a dependency a unit skips is left out
  with what it brings; ``added`` names exact packages (name, locked_version) joining the dependencies;
* ``ranks``/``score`` (order) -- ``provider.AdviserProvider.find_matches``: for a package a unit
  ranks, versions with a positive score are tried first and those with a negative score last;
* ``alternatives`` (swap) -- ``alternatives.Alternatives``, for every version of a package the
  requirements allow (dropped ones too) when ``has_alternatives``: packages of another name whose
  versions compete with the package's own candidates for the same requirement;
* ``justify`` and ``stack_info`` -- the report (``adviser.report``) and the engine's plan
  (``adviser.engine``) add what they return to the product's justification and the stack_info.

The built-in policy reaches the resolution through ``PolicyUnit``; ``UnitChain`` combines the
policy with further units (a version is tier 0 only when every unit puts it there).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from packaging.specifiers import SpecifierSet

from adviser.policies import Policy, VersionFacts
from adviser.wire import report_item


@dataclass(frozen=True)
class Alternative:
    """Another project that may stand in for a matched version of a package."""

    name: str
    versions: SpecifierSet | None  # None: every known version
    accepts_index: Callable[[str], bool]  # which index URLs it may come from
    unit: str  # the unit offering it (named in the justification)


class DecisionUnit:
    """A rule that chooses between versions: subclass it and override the hooks it decides on."""

    name = "unit"
    # Whether this unit's tiers are counted from the best tier the package offers.
    relative_tiers = False

    def admit(self, offer: Any) -> str | None:
        """Filter: a reason to drop this version (a judged ``VersionOffer``), or None to keep it."""
        return None

    def tier(self, facts: VersionFacts) -> tuple[int, list[str]]:
        """Score: the version's tier (0 is best) and the rules it fails, from its facts."""
        return 0, []

    def demote(self, metadata: Any) -> str | None:
        """Order: a reason to try this version after its tier's others, judged from core metadata."""
        return None

    def reject_stack(self, candidate: Any, pinned: Mapping[str, Any]) -> str | None:
        """Backtrack: a reason why ``candidate`` cannot join the partial stack ``pinned``."""
        return None

    def skip(self, requirement: Any, parent: Any, pinned: Mapping[str, Any]) -> str | None:
        """Prune: a reason to leave out the dependency ``requirement`` of ``parent`` (None: the application)."""
        return None

    def added(self, candidate: Any, pinned: Mapping[str, Any]) -> list[dict]:
        """Grow: exact packages (``name``, ``locked_version``) that join the dependencies of ``candidate``."""
        return []

    def ranks(self, name: str) -> bool:
        """Whether ``score`` orders the versions of ``name`` (False: the order is left alone)."""
        return False

    def score(self, offer: Any, pinned: Mapping[str, Any]) -> float:
        """Order: positive tries the version earlier, negative later (only asked when ``ranks``)."""
        return 0.0

    def has_alternatives(self, name: str) -> bool:
        """Whether ``alternatives`` may swap ``name`` for another project."""
        return False

    def alternatives(self, name: str, version: Any, index_url: str | None) -> list[Alternative]:
        """Swap: projects that may stand in for this version of ``name`` (from ``index_url``)."""
        return []

    def justify(self, name: str, offer: Any) -> list[dict]:
        """Justification items for the version of ``name`` chosen in the product."""
        return []

    def stack_info(self) -> list[dict]:
        """Items for the product's stack_info (what rules the advice was made with)."""
        return []


class PolicyUnit(DecisionUnit):
    """A recommendation type as a decision unit. The report still asks the policy itself for its
    wording of each choice (``chosen``, ``fallback``, ...), so ``justify`` adds nothing here."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.name = policy.name
        self.relative_tiers = policy.relative_tiers

    def tier(self, facts: VersionFacts) -> tuple[int, list[str]]:
        return self.policy.tier(facts)

    def demote(self, metadata: Any) -> str | None:
        return self.policy.metadata_rule(metadata.classifiers)

    def stack_info(self) -> list[dict]:
        return [report_item("INFO", self.policy.summary())]


class UnitChain(DecisionUnit):
    """Several units as one: the first reason to drop, demote or reject wins; tiers add up to the
    worst one (with every failed rule named); justifications and stack_info are concatenated."""

    def __init__(self, units: Sequence[DecisionUnit]) -> None:
        self.units = list(units)
        self.name = "+".join(unit.name for unit in self.units)
        self.relative_tiers = any(unit.relative_tiers for unit in self.units)

    def admit(self, offer: Any) -> str | None:
        return next((r for r in (u.admit(offer) for u in self.units) if r), None)

    def tier(self, facts: VersionFacts) -> tuple[int, list[str]]:
        worst, reasons = 0, []
        for unit in self.units:
            tier, why = unit.tier(facts)
            worst = max(worst, tier)
            reasons.extend(why)
        return worst, reasons

    def demote(self, metadata: Any) -> str | None:
        return next((r for r in (u.demote(metadata) for u in self.units) if r), None)

    def reject_stack(self, candidate: Any, pinned: Mapping[str, Any]) -> str | None:
        return next((r for r in (u.reject_stack(candidate, pinned) for u in self.units) if r), None)

    def skip(self, requirement: Any, parent: Any, pinned: Mapping[str, Any]) -> str | None:
        return next((r for r in (u.skip(requirement, parent, pinned) for u in self.units) if r), None)

    def added(self, candidate: Any, pinned: Mapping[str, Any]) -> list[dict]:
        return [item for unit in self.units for item in unit.added(candidate, pinned)]

    def ranks(self, name: str) -> bool:
        return any(unit.ranks(name) for unit in self.units)

    def score(self, offer: Any, pinned: Mapping[str, Any]) -> float:
        return sum(unit.score(offer, pinned) for unit in self.units if unit.ranks(offer.name))

    def has_alternatives(self, name: str) -> bool:
        return any(unit.has_alternatives(name) for unit in self.units)

    def alternatives(self, name: str, version: Any, index_url: str | None) -> list[Alternative]:
        return [a for unit in self.units for a in unit.alternatives(name, version, index_url)]

    def justify(self, name: str, offer: Any) -> list[dict]:
        return [item for unit in self.units for item in unit.justify(name, offer)]

    def stack_info(self) -> list[dict]:
        return [item for unit in self.units for item in unit.stack_info()]
