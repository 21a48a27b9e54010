"""Prescriptions applied to one advise request: a decision unit (``adviser.resolution.units``).

Per request, units are read from the compiled knowledge base only for the packages the
resolution meets (and the static selectors of the request), and ``should_include`` is evaluated
once per unit. Where each unit type acts:

* boot -- ``run_boots`` before resolving (``not_acceptable``/``eager_stop_pipeline`` end the request);
* sieve -- ``admit``: matching versions are dropped (prereleases match too);
* sieve.SkipPackage, step.SkipPackage -- ``skip``: the dependency (and what it brings) is left out;
* step, step.Group -- ``reject_stack``: ``not_acceptable`` rejects the candidate next to the pinned
  packages it conflicts with, and the resolver backtracks, blaming those packages; ``rank``: a
  ``score`` reorders the versions offered (positive first, negative last); ``justification`` is
  attached to the final stack (``settle``);
* step.AddPackage -- ``added``: the exact package joins the dependencies;
* pseudonym -- ``alternatives``: the yielded package's versions (the matched one, the locked one,
  or every one; from the given index, else any) compete with the matched package's candidates for
  the same requirement (``adviser.resolution.alternatives``); ``settle`` tells which one was taken;
* stride -- ``settle``: ``not_acceptable`` rejects the final stack (the request fails naming it);
* wrap, wrap.GHReleaseNotes -- ``settle``: justification and advised manifest changes.

``log`` and ``stack_info`` are emitted once per unit per request; every unit that changed a
decision is named in the justification of the package it touched.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from packaging.specifiers import SpecifierSet

from adviser.prescriptions.compiled import version_key
from adviser.prescriptions.context import Context, selector_keys, should_include
from adviser.prescriptions.matching import IndexUrls, pv_matches, stack_of, state_match
from adviser.prescriptions.settle import Settlement
from adviser.resolution.units import Alternative, DecisionUnit

DEFAULT_LINK_BASE = "https://thoth-station.ninja/j"


class Rejection(str):
    """A reason why a candidate cannot join the pinned packages, naming the packages to blame."""

    blames: tuple[str, ...] = ()

    @classmethod
    def of(cls, text: str, blames) -> Rejection:
        rejection = cls(text)
        rejection.blames = tuple(blames)
        return rejection


class PrescriptionUnit(DecisionUnit):
    name = "prescriptions"

    def __init__(self, knowledge: Any, context: Context, *, urls: IndexUrls | None = None,
                 denied: Mapping[str, str] | None = None, link_base: str = DEFAULT_LINK_BASE,
                 log: Callable[[str], None] | None = None) -> None:
        self.knowledge = knowledge
        self.context = context
        self.urls = urls or IndexUrls()
        self.denied = dict(denied or {})
        self.link_base = link_base.rstrip("/")
        self.log = log or (lambda _message: None)
        self.introducers: Callable[[str], set[str]] = lambda _name: set()
        self._lock = threading.RLock()
        self._verdicts: dict[str, bool] = {}
        self._by_package: dict[str, list[dict]] = {}
        self._of_type: dict[tuple, list[dict]] = {}
        self.fired: set[str] = set()
        self.fired_stack_info: list[dict] = []
        self.decisions: dict[str, list[dict]] = {}  # package -> justification items naming units
        self.denied_seen: dict[str, str] = {}
        self.used: set[tuple[str, str]] = set()  # (namespace, release) of the units that joined
        self.globals = self._included_units(u for key in selector_keys(context) for u in knowledge.units(key))
        self.settlement = Settlement(self)

    # ------------------------------------------------------------ which units join

    def included(self, unit: dict) -> bool:
        with self._lock:
            verdict = self._verdicts.get(unit["name"])
            if verdict is None:
                self._verdicts[unit["name"]] = False  # a dependency cycle ends as "not included"
                verdict = self._verdicts[unit["name"]] = self._decide(unit)
            return verdict

    def _decide(self, unit: dict) -> bool:
        if unit["name"] in self.denied:
            self.denied_seen[unit["name"]] = self.denied[unit["name"]]
            return False
        verdict = should_include(unit["should_include"], self.context, self._included_by_name)
        if verdict:
            self.used.add(self.knowledge.release_of(unit))
        return verdict

    def _included_by_name(self, name: str) -> bool:
        unit = self.knowledge.named(name)
        return unit is not None and self.included(unit)

    def _included_units(self, units) -> list[dict]:
        seen, kept = set(), []
        for unit in units:
            if unit["id"] not in seen and self.included(unit):
                seen.add(unit["id"])
                kept.append(unit)
        return kept

    def units_for(self, name: str) -> list[dict]:
        """Included units routed on ``name``, then the included units naming no package."""
        found = self._by_package.get(name)
        if found is None:
            found = self._included_units(self.knowledge.units(f"pkg:{name}")) + self.globals
            with self._lock:
                self._by_package[name] = found
        return found

    def final_units(self, stack: Mapping[str, Any]) -> list[dict]:
        """Included units acting on the finished ``stack`` (name -> (name, version, index)): those of
        its packages, those pinned to the versions chosen, and those naming no package."""
        keys = [f"fin:{name}" for name in sorted(stack)]
        keys += [version_key(name, package[1]) for name, package in sorted(stack.items())]
        return self._included_units(self.knowledge.units_of(keys)) + self.globals

    def of_type(self, name: str, *kinds: str) -> list[dict]:
        key = (name, kinds)
        found = self._of_type.get(key)
        if found is None:  # asked once per version judged: botocore alone has 1,359 units
            found = self._of_type[key] = [unit for unit in self.units_for(name) if unit["type"] in kinds]
        return found

    # ------------------------------------------------------------ messages

    def link(self, link: str | None) -> str:
        if not link:
            return ""
        return link if link.startswith(("http://", "https://")) else f"{self.link_base}/{link}"

    def item(self, item: dict, package: str | None = None) -> dict:
        out = {"type": item["type"], "message": item["message"], "link": self.link(item.get("link"))}
        if item.get("package_name") or package:
            out["package_name"] = item.get("package_name") or package
        for key in ("advisory", "cve_id", "cve_name", "version_range"):
            if key in item:
                out[key] = item[key]
        return out

    def fire(self, unit: dict) -> None:
        """The unit's log line and stack_info, once per request."""
        with self._lock:
            if unit["name"] in self.fired:
                return
            self.fired.add(unit["name"])
            run = unit["run"]
            if run.get("log"):
                self.log(f"prescription {unit['name']}: {run['log']['type']}: {run['log']['message']}")
            self.fired_stack_info.extend(self.item(i) for i in run.get("stack_info", ()))

    def decided(self, package: str, unit: dict, text: str, kind: str = "WARNING") -> None:
        message = f"{text} (prescription {unit['name']})"
        item = {"type": kind, "message": message, "link": self._first_link(unit)}
        if package:
            item["package_name"] = package
        with self._lock:
            items = self.decisions.setdefault(package, [])
            if item not in items:
                items.append(item)

    def _first_link(self, unit: dict) -> str:
        for item in [*unit["run"].get("stack_info", ()), *unit["run"].get("justification", ())]:
            if item.get("link"):
                return self.link(item["link"])
        return ""

    @staticmethod
    def why(unit: dict) -> str:
        run = unit["run"]
        text = run.get("not_acceptable") or run.get("eager_stop_pipeline")
        if not text and run.get("stack_info"):
            text = run["stack_info"][0]["message"]
        return " ".join(str(text or "").split())

    # ------------------------------------------------------------ boots

    def run_boots(self, direct: set[str]) -> str | None:
        """Fire the boots of the request; the message that ends it, if one says so."""
        boots = {u["id"]: u for u in self.globals if u["type"] == "boot"}
        for name in sorted(direct):
            boots.update((u["id"], u) for u in self.of_type(name, "boot"))
        for unit in boots.values():
            wanted = [e["package_name"] for e in unit["match"] if e.get("package_name")]
            if wanted and not set(wanted) & direct:
                continue
            self.fire(unit)
            run = unit["run"]
            if run.get("not_acceptable"):
                return f"Prescription {unit['name']} does not accept this request: {self.why(unit)}"
            if run.get("eager_stop_pipeline"):
                return f"Prescription {unit['name']} stopped the request: {self.why(unit)}"
        return None

    # ------------------------------------------------------------ resolution hooks

    def admit(self, offer: Any) -> str | None:
        if offer.direct is not None or offer.index is None:
            return None
        package = (offer.name, offer.version, offer.index.url)
        for unit in self.of_type(offer.name, "sieve"):
            if any(pv_matches(e["package_version"], package, self.urls, prereleases=True) for e in unit["match"]):
                self.fire(unit)
                self.decided(offer.name, unit, f"{offer.name} {offer.version} removed: {self.why(unit)}")
                return f"removed by prescription {unit['name']}"
        return None

    def skip(self, requirement: Any, parent: Any, pinned: Mapping[str, Any]) -> str | None:
        name = requirement.name
        for unit in self.of_type(name, "sieve.SkipPackage"):
            if any(e.get("package_name") == name for e in unit["match"]):
                return self._skipped(unit, name, parent)
        steps = self.of_type(name, "step.SkipPackage")
        if not steps:
            return None
        stack = stack_of(pinned)
        if parent is not None:
            stack[parent.name] = (parent.name, parent.version, _index(parent))
        for unit in steps:
            for entry in unit["match"]:
                if entry["package_version"].get("name") not in (None, name):
                    continue
                introducers = lambda _n, p=parent: self.introducers(name) | ({p.name} if p is not None else set())  # noqa: E731
                if state_match(entry.get("state", {}), name, stack, self.urls, introducers) is not None:
                    return self._skipped(unit, name, parent)
        return None

    def _skipped(self, unit: dict, name: str, parent: Any) -> str:
        self.fire(unit)
        who = f" (a dependency of {parent.name} {parent.version})" if parent is not None else ""
        # Told with the package that needed it (or with the stack for a direct one): it is not in the stack.
        self.decided(parent.name if parent is not None else "", unit, f"{name}{who} left out: {self.why(unit)}")
        return f"left out by prescription {unit['name']}"

    def reject_stack(self, candidate: Any, pinned: Mapping[str, Any]) -> str | None:
        units = [u for u in self.of_type(candidate.name, "step", "step.Group")
                 if u["run"].get("not_acceptable") or u["run"].get("eager_stop_pipeline")]
        if not units:
            return None
        stack = stack_of(pinned)
        stack[candidate.name] = (candidate.name, candidate.version, _index(candidate))
        for unit in units:
            involved = self.matched(unit, stack, candidate.name)
            if involved is not None:
                self.fire(unit)
                self.decided(candidate.name, unit, f"{candidate.name} {candidate.version} not used with "
                             f"{', '.join(f'{n} {stack[n][1]}' for n in involved) or 'this stack'}: {self.why(unit)}")
                return Rejection.of(f"prescription {unit['name']}: {self.why(unit)}", involved)
        return None

    def matched(self, unit: dict, stack: dict, name: str) -> list[str] | None:
        """The other packages of ``stack`` a step or group matched together with ``name``, or None."""
        for entry in unit["match"]:
            if "group" in entry:
                members = entry["group"]
                if name in {m["name"] for m in members} and all(
                    m["name"] in stack and pv_matches(m, stack[m["name"]], self.urls) for m in members
                ):
                    return [m["name"] for m in members if m["name"] != name]
                continue
            pv = entry["package_version"]
            trigger = pv.get("name") or name
            if trigger not in stack or not pv_matches(pv, stack[trigger], self.urls):
                continue
            others = {k: v for k, v in stack.items() if k != trigger}
            relied = state_match(entry.get("state", {}), trigger, others, self.urls, self.introducers)
            if relied is not None and (trigger == name or name in relied):
                return [n for n in [trigger, *relied] if n != name]
        return None

    def ranks(self, name: str) -> bool:
        return any("score" in u["run"] for u in self.of_type(name, "step", "step.Group"))

    def score(self, offer: Any, pinned: Mapping[str, Any]) -> float:
        stack = stack_of(pinned)
        stack[offer.name] = (offer.name, offer.version, offer.index.url if offer.index is not None else None)
        total = 0.0
        for unit in self.of_type(offer.name, "step", "step.Group"):
            if "score" in unit["run"] and self.matched(unit, stack, offer.name) is not None:
                total += unit["run"]["score"]
        return total

    def added(self, candidate: Any, pinned: Mapping[str, Any]) -> list[dict]:
        """Packages step.AddPackage units add next to ``candidate`` (name, locked_version, index_url)."""
        out = []
        units = self.of_type(candidate.name, "step.AddPackage")
        if not units:
            return out
        stack = stack_of(pinned)
        stack[candidate.name] = (candidate.name, candidate.version, _index(candidate))
        for unit in units:
            wanted = unit["run"]["package_version"]
            if wanted["name"] in stack or self.matched(unit, stack, candidate.name) is None:
                continue
            self.fire(unit)
            self.decided(wanted["name"], unit, f"{wanted['name']}{wanted['locked_version']} added next to "
                         f"{candidate.name} {candidate.version}", "INFO")
            out.append(wanted)
        return out

    def _pseudonyms(self, name: str) -> list[dict]:
        key = ("fin", name)
        found = self._of_type.get(key)
        if found is None:  # routed with the final-stack units (fin:<name>), read here while resolving
            units = [unit for unit in self.knowledge.units(f"fin:{name}") if unit["type"] == "pseudonym"]
            found = self._of_type[key] = self._included_units(units)
        return found

    def has_alternatives(self, name: str) -> bool:
        return bool(self._pseudonyms(name))

    def alternatives(self, name: str, version: Any, index_url: str | None) -> list[Alternative]:
        out = []
        package = (name, version, index_url)
        for unit in self._pseudonyms(name):
            if not any(pv_matches(e["package_version"], package, self.urls, prereleases=True) for e in unit["match"]):
                continue
            wanted = unit["run"]["yield"]
            if wanted["yield_matched_version"]:
                versions = SpecifierSet(f"=={version}")
            else:
                versions = SpecifierSet(wanted["locked_version"]) if wanted.get("locked_version") else None
            index = wanted.get("index_url")
            accepts = (lambda url, i=index: self.urls.same(i, url)) if index else (lambda _url: True)
            self.fire(unit)
            out.append(Alternative(wanted["name"], versions, accepts, unit["name"]))
        return out

    # ------------------------------------------------------------ the product

    def justify(self, name: str, offer: Any) -> list[dict]:
        return self.settlement.for_package(name)

    def stack_info(self) -> list[dict]:
        return self.report_stack_info()

    def report_stack_info(self) -> list[dict]:
        """The releases used, units disabled by the server that were met, and the units' stack_info."""
        items = []
        for namespace, release in dict.fromkeys(self.knowledge.releases()):
            how = "used" if (namespace, release) in self.used else "consulted (none of its units applied)"
            items.append({"type": "INFO", "message": f"Prescriptions {namespace} release {release} {how}", "link": ""})
        for name, reason in sorted(self.denied_seen.items()):
            items.append({"type": "INFO", "message": f"Prescription {name} disabled by the server: {reason}", "link": ""})
        return items + self.fired_stack_info


def _index(candidate: Any) -> str | None:
    offer = candidate.offer
    return offer.index.url if offer.index is not None and offer.direct is None else None
