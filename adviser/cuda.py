"""CUDA: a build that needs a newer CUDA than the target states is not recommended.

A wheel tells the CUDA release it needs by its local version label (``2.5.0+cu126``: CUDA 12.6)
or by its dependencies on NVIDIA's CUDA packages (``nvidia-cuda-runtime-cu13``: CUDA 13; a pin
``nvidia-cuda-runtime-cu12==12.6.77``: CUDA 12.6). For a target with ``cuda_version``, the
``performance`` and ``stable`` types leave such versions out (the report says which and why);
the other types keep them, with a WARNING on the chosen one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from adviser.resolution.units import DecisionUnit
from adviser.wire import report_item

STRICT_TYPES = ("performance", "stable")
_LABEL = re.compile(r"(?:^|\.)cu(\d{2,3})(?:\.|$)")
_NVIDIA = re.compile(r"^nvidia-[a-z0-9-]*-cu(\d+)$")
_PINNED = re.compile(r"^==\s*(\d+)\.(\d+)")

Release = tuple[int, int | None]  # (major, minor or None when only the major is known)


def parse_cuda(text: str | None) -> Release | None:
    """``"12.4"`` -> (12, 4); ``"12"`` -> (12, None); anything else None."""
    found = re.match(r"^\s*(\d+)(?:\.(\d+))?", str(text or ""))
    return (int(found.group(1)), int(found.group(2)) if found.group(2) else None) if found else None


def _from_label(local: str | None) -> Release | None:
    found = _LABEL.search(local or "")
    if not found:
        return None
    digits = found.group(1)  # cu124 -> 12.4, cu118 -> 11.8, cu92 -> 9.2
    return int(digits[:-1]), int(digits[-1])


def _from_dependencies(requires_dist: tuple[str, ...], markers: Mapping[str, str]) -> tuple[Release, str] | None:
    """The newest CUDA the dependencies ask for, and the requirement saying so."""
    newest: tuple[Release, str] | None = None
    for text in requires_dist:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue
        if requirement.marker is not None and not requirement.marker.evaluate(dict(markers, extra="")):
            continue
        found = _NVIDIA.match(canonicalize_name(requirement.name))
        if not found:
            continue
        release: Release = (int(found.group(1)), None)
        pinned = _PINNED.match(str(requirement.specifier))
        if pinned and int(pinned.group(1)) == release[0] and "cuda-runtime" in requirement.name.lower():
            release = (release[0], int(pinned.group(2)))
        if newest is None or _newer(release, newest[0]):
            newest = (release, text.split(";")[0].strip())
    return newest


def _newer(needed: Release, available: Release) -> bool:
    if needed[0] != available[0]:
        return needed[0] > available[0]
    return needed[1] is not None and available[1] is not None and needed[1] > available[1]


def _shown(release: Release) -> str:
    return f"{release[0]}" if release[1] is None else f"{release[0]}.{release[1]}"


class CudaUnit(DecisionUnit):
    """Versions needing a newer CUDA than the target: left out (performance, stable) or warned about."""

    name = "cuda"

    def __init__(self, cuda_version: str, policy_name: str, markers: Mapping[str, str]) -> None:
        self.target = parse_cuda(cuda_version)
        self.cuda_version = cuda_version
        self.strict = policy_name in STRICT_TYPES
        self.markers = dict(markers)
        self.left_out: dict[str, dict[str, str]] = {}  # package -> version -> why

    def needs_newer(self, offer: Any) -> str | None:
        """Why the version needs a newer CUDA than the target, or None."""
        if self.target is None or offer is None:
            return None
        label = _from_label(offer.version.local)
        if label is not None and _newer(label, self.target):
            return f"built for CUDA {_shown(label)} (+{offer.version.local}), newer than the target's CUDA {self.cuda_version}"
        requires = getattr(offer.metadata, "requires_dist", None) or ()
        found = _from_dependencies(tuple(requires), self.markers)
        if found is not None and _newer(found[0], self.target):
            return f"needs CUDA {_shown(found[0])} (depends on {found[1]}), newer than the target's CUDA {self.cuda_version}"
        return None

    def _leave_out(self, offer: Any) -> str | None:
        if not self.strict:
            return None
        reason = self.needs_newer(offer)
        if reason:
            self.left_out.setdefault(offer.name, {})[str(offer.version)] = reason
        return reason

    def admit(self, offer: Any) -> str | None:
        return self._leave_out(offer) if _from_label(offer.version.local) else None

    def reject_stack(self, candidate: Any, pinned: Mapping[str, Any]) -> str | None:
        return self._leave_out(candidate.offer)

    def justify(self, name: str, offer: Any) -> list[dict]:
        items = []
        for version, reason in sorted(self.left_out.get(name, {}).items()):
            items.append(report_item("INFO", f"{name} {version} not recommended: {reason}", package=name))
        if not self.strict:
            reason = self.needs_newer(offer)
            if reason:
                items.append(report_item("WARNING", f"{name} {offer.version} {reason}", package=name))
        return items
