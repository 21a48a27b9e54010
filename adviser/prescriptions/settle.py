"""Prescriptions on the final stack: strides, wraps, release notes, pseudonyms, step justifications.

Runs once the resolver returned a stack (``Settlement.settle``). What it finds is attached to
that stack: per package (the justification of the package's entry) or to the whole stack, plus
the advised manifest changes. A stride's ``not_acceptable`` rejects the stack.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adviser.prescriptions.matching import pv_matches, resolved_match, stack_of


class Settlement:
    def __init__(self, unit: Any) -> None:
        self.unit = unit
        self.by_package: dict[str, list[dict]] = {}
        self.stack_items: list[dict] = []
        self.manifest_changes: list[dict] = []
        self.rejection: str | None = None

    def for_package(self, name: str) -> list[dict]:
        return list(self.by_package.get(name, ()))

    def _add(self, name: str | None, item: dict) -> None:
        target = self.by_package.setdefault(name, []) if name else self.stack_items
        if item not in target:
            target.append(item)

    def settle(self, mapping: Mapping[str, Any]) -> str | None:
        """Apply the final-stack units to the resolved ``mapping``; a stride's rejection, if any."""
        unit = self.unit
        stack = stack_of(mapping)
        for item in unit.decisions.get("", ()):
            self._add(None, item)
        for candidate in mapping.values():
            if getattr(candidate, "replaces", None) is not None:
                self._swapped(candidate)
        prescriptions = []
        for name in sorted(stack):
            for item in unit.decisions.get(name, ()):
                self._add(name, item)
            prescriptions.extend(unit.units_for(name))  # steps: their justifications and scores
        seen: set[int] = set()
        for prescription in prescriptions + unit.final_units(stack):
            if prescription["id"] in seen:
                continue
            seen.add(prescription["id"])
            handler = _HANDLERS.get(prescription["type"])
            if handler is not None:
                handler(self, prescription, stack)
        return self.rejection

    def _justification(self, prescription: dict, default_package: str | None) -> None:
        self.unit.fire(prescription)
        for item in prescription["run"].get("justification", ()):
            self._add(item.get("package_name") or default_package, self.unit.item(item, item.get("package_name") or default_package))

    def step(self, prescription: dict, stack: dict) -> None:
        run = prescription["run"]
        if not run.get("justification") and "score" not in run:
            return
        for name in sorted(stack):
            involved = self.unit.matched(prescription, stack, name)
            if involved is not None:
                self._justification(prescription, name)
                if "score" in run:
                    self.unit.decided(name, prescription, f"{name} {stack[name][1]} scored {run['score']:+g}", "INFO")
                    for item in self.unit.decisions.get(name, ()):
                        self._add(name, item)
                return

    def wrap(self, prescription: dict, stack: dict) -> None:
        for entry in prescription["match"]:
            entries = entry.get("state", {}).get("resolved_dependencies", [])
            names = resolved_match(entries, stack, self.unit.urls)
            if names is None:
                continue
            self._justification(prescription, names[0] if names else None)
            for change in prescription["run"].get("advised_manifest_changes", ()):
                if change not in self.manifest_changes:
                    self.manifest_changes.append(change)
            return

    def release_notes(self, prescription: dict, stack: dict) -> None:
        notes = prescription["run"]["release_notes"]
        for entry in prescription["match"]:
            pv = entry["state"]["resolved_dependencies"][0]
            package = stack.get(pv["name"])
            if package is None or not pv_matches(pv, package, self.unit.urls):
                continue
            self.unit.fire(prescription)
            version = package[1]
            link = (f"https://github.com/{notes['organization']}/{notes['repository']}/releases/tag/"
                    f"{notes.get('tag_version_prefix', '')}{version}")
            message = f"Release notes for {pv['name']} {version} are available on GitHub"
            self._add(pv["name"], {"type": "INFO", "message": message, "link": link, "package_name": pv["name"]})
            return

    def _swapped(self, candidate: Any) -> None:
        """A pseudonym's alternative was taken: say what it replaced (on the package taken)."""
        swap = candidate.replaces
        prescription = self.unit.knowledge.named(swap.unit)
        message = (f"{swap.name} {swap.version} replaced by {candidate.name} {candidate.version} "
                   f"(prescription {swap.unit})")
        link = self.unit._first_link(prescription) if prescription is not None else ""
        self._add(candidate.name, {"type": "INFO", "message": message, "link": link, "package_name": candidate.name})

    def pseudonym(self, prescription: dict, stack: dict) -> None:
        alternative = prescription["run"]["yield"]
        for entry in prescription["match"]:
            pv = entry["package_version"]
            package = stack.get(pv["name"])
            if package is None or not pv_matches(pv, package, self.unit.urls, prereleases=True):
                continue
            self.unit.fire(prescription)
            if alternative.get("yield_matched_version"):
                version = f" {package[1]}"
            else:
                version = f" {alternative['locked_version'].lstrip('=')}" if alternative.get("locked_version") else ""
            message = (f"{alternative['name']}{version} is an alternative to {pv['name']} {package[1]} "
                       f"(prescription {prescription['name']}); it was offered and {pv['name']} {package[1]} was preferred")
            self._add(pv["name"], {"type": "INFO", "message": message, "link": self.unit._first_link(prescription),
                                   "package_name": pv["name"]})
            return

    def stride(self, prescription: dict, stack: dict) -> None:
        for entry in prescription["match"]:
            if resolved_match(entry.get("state", {}).get("resolved_dependencies", []), stack, self.unit.urls) is None:
                continue
            self.unit.fire(prescription)
            run = prescription["run"]
            if (run.get("not_acceptable") or run.get("eager_stop_pipeline")) and self.rejection is None:
                self.rejection = f"Prescription {prescription['name']} rejects the resolved stack: {self.unit.why(prescription)}"
            return


_HANDLERS = {
    "step": Settlement.step,
    "step.Group": Settlement.step,
    "wrap": Settlement.wrap,
    "wrap.GHReleaseNotes": Settlement.release_notes,
    "pseudonym": Settlement.pseudonym,
    "stride": Settlement.stride,
}
