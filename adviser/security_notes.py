"""Why advisories moved a choice: the newer versions skipped for an advisory, and when the chosen
version is affected too, which advisory and which requirement or constraint keep the user there."""

from __future__ import annotations

from typing import Any

from packaging.version import Version

from adviser.wire import report_item as _item


def _cited(advisory: Any, version: Version) -> str:
    fixed = advisory.fixed_in(version)
    return f"{advisory.id}, fixed in {fixed}" if fixed else f"{advisory.id}, no fixed version known"


def _limit_text(limit: Any) -> str:
    if hasattr(limit, "who"):  # a requirement of the graph
        return f"{limit.text or limit.identifier} (from {limit.who()})"
    return f"{limit.text} (constraints line {limit.line})"


def advisory_choice_notes(name: str, offer: Any, provider: Any, policy: Any, requirements: list) -> list[dict]:
    """Notes of a policy that avoids advisories; none for the others (they do not skip versions)."""
    package = provider.package(name)
    if not policy.advisories_block or package is None or offer.direct is not None:
        return []
    limits = list(requirements) + list(provider.constraints_for(name))

    def allowed(version: Version) -> bool:
        return all(limit.specifier.contains(version, prereleases=True) for limit in limits)

    notes = []
    for newer in package.offers:
        if newer.version <= offer.version or not newer.judged or not newer.installable:
            continue
        if newer.version.is_prerelease and not offer.version.is_prerelease:
            continue
        if newer.facts.blocking_advisories and allowed(newer.version):
            cited = "; ".join(_cited(a, newer.version) for a in newer.facts.blocking_advisories)
            notes.append(_item("INFO", f"{name} {newer.version} skipped: {cited}", package=name))
    for advisory in offer.facts.blocking_advisories:
        notes.append(_item(policy.advisory_severity(), _held_there(name, offer, advisory, limits, package),
                           advisory.link, name))
    return notes


def _held_there(name: str, offer: Any, advisory: Any, limits: list, package: Any) -> str:
    """Which advisory and which requirement or constraint keep an affected version in the stack."""
    fixed = advisory.fixed_in(offer.version)
    prefix = f"{name} {offer.version} kept although {advisory.id} affects it: every allowed version is affected"
    if fixed is None:
        return f"{prefix}, and no fixed version is known"
    excluding = [_limit_text(limit) for limit in limits if not limit.specifier.contains(Version(fixed), prereleases=True)]
    if excluding:
        return f"{prefix}; the fix ({fixed}) is excluded by {', '.join(excluding)}"
    reason = package.rejected.get(fixed) if package is not None else None
    if reason:
        return f"{prefix}; the fix ({fixed}) cannot be used on the target ({reason})"
    return f"{prefix}; the fix ({fixed}) or a later version did not fit the other requirements"
