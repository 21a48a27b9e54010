"""The product of a successful resolution: lock, dependency graph, justifications, score."""

from __future__ import annotations

from typing import Any

from packaging.version import Version

from adviser.policies import CUDA_AWARE


def _item(kind: str, message: str, link: str = "", package: str | None = None) -> dict[str, Any]:
    item = {"type": kind, "message": message, "link": link or ""}
    if package is not None:
        item["package_name"] = package
    return item


def _base(identifier: str) -> str:
    return identifier.split("[", 1)[0]


def _incoming_markers(result, provider, identifiers: list[str], roots_by_id: dict) -> str | None:
    """Markers under which a package is needed; None when some path needs it unconditionally."""
    markers: list[str] = []
    for identifier in identifiers:
        for parent in result.graph.iter_parents(identifier):
            if parent is None:
                root = roots_by_id.get(identifier)
                if root is None or root.marker is None:
                    return None
                markers.append(root.marker)
                continue
            if _base(parent) == _base(identifier):
                continue  # the edge from an extras node to its own base
            parent_candidate = result.mapping[parent]
            key = (parent_candidate.name, str(parent_candidate.version), parent_candidate.identifier)
            edges = [r for r in provider._dependencies.get(key, []) if r.identifier == identifier]
            if not edges or any(r.marker is None for r in edges):
                return None
            markers.extend(r.marker for r in edges)
    unique = list(dict.fromkeys(markers))
    if not unique:
        return None
    return unique[0] if len(unique) == 1 else " or ".join(f"({m})" for m in unique)


def _reachable(result, start: list[str]) -> set[str]:
    seen: set[str] = set()
    stack = [i for i in start if i in result.mapping]
    while stack:
        identifier = stack.pop()
        if identifier in seen:
            continue
        seen.add(identifier)
        stack.extend(child for child in result.graph.iter_children(identifier) if child not in seen)
    return {_base(i) for i in seen}


def _change_reason(provider, policy, name: str, old: str, requirements: list[Any]) -> str:
    package = provider._packages.get(name)
    if package is None:
        return "needed to satisfy the other packages"
    try:
        old_version = Version(old)
    except ValueError:
        return f"locked version {old} is not a valid version"
    offer = next((o for o in package.offers if o.version == old_version), None)
    if offer is None or not provider._judge(offer):
        reason = package.rejected.get(str(old_version))
        return (
            f"locked version cannot be used on the target ({reason})"
            if reason
            else "locked version is no longer on the index"
        )
    if offer.facts.yanked:
        return "locked version is yanked"
    unmet = [
        r.text or r.identifier
        for r in requirements
        if not r.specifier.contains(old_version, prereleases=True)
    ]
    if unmet:
        return f"locked version no longer satisfies {', '.join(unmet)}"
    if offer.facts.blocking_advisories and policy.name in ("security", "stable"):
        ids = ", ".join(a.id for a in offer.facts.blocking_advisories)
        return f"locked version has advisory {ids}"
    if offer.tier_reasons:
        return f"locked version does not meet the {policy.name} rules ({'; '.join(offer.tier_reasons)})"
    if offer.metadata_problem:
        return f"locked version's metadata cannot be used ({offer.metadata_problem})"
    return "needed to satisfy the other packages"


def build_product(
    *, result, provider, project, target, policy, roots, dev, runtime, known_indexes, lock
) -> dict:
    from adviser.lockfile import build_lock, lock_entry

    pipfile = project.pipfile
    roots_by_id = {r.identifier: r for r in roots}
    # Group resolved identifiers by package.
    identifiers_of: dict[str, list[str]] = {}
    for identifier in result.mapping:
        identifiers_of.setdefault(_base(identifier), []).append(identifier)

    default_packages = {p.name for p in project.packages}
    default_roots = [r.identifier for r in roots if r.name in default_packages]
    dev_roots = [r.identifier for r in roots if r.name not in default_packages]
    default_names = _reachable(result, default_roots)
    develop_names = _reachable(result, dev_roots) - default_names if dev else set()

    # Indexes taken from the backend's known list join the Pipfile's sources.
    source_urls = {s.get("url", "").rstrip("/") for s in pipfile.get("source") or []}
    justification: list[dict] = []
    for name in sorted(identifiers_of):
        index = result.mapping[name].offer.index if name in result.mapping else None
        if index is not None and index.url.rstrip("/") not in source_urls:
            pipfile.setdefault("source", []).append(
                {"url": index.url, "verify_ssl": index.verify_ssl, "name": index.name}
            )
            source_urls.add(index.url.rstrip("/"))
            justification.append(
                _item(
                    "INFO",
                    f"Index {index.name} ({index.url}) added to the sources: it carries {name} (index adjustment)",
                )
            )

    default: dict[str, dict] = {}
    develop: dict[str, dict] = {}
    tier0 = 0
    requirements_of: dict[str, list[Any]] = {}
    for requirement_list in provider._dependencies.values():
        for requirement in requirement_list:
            requirements_of.setdefault(requirement.name, []).append(requirement)
    for root in roots:
        requirements_of.setdefault(root.name, []).append(root)

    for name in sorted(identifiers_of):
        if name not in result.mapping:
            continue
        candidate = result.mapping[name]
        offer = candidate.offer
        extras = sorted({e for i in identifiers_of[name] for e in (result.mapping[i].extras or ())})
        markers = _incoming_markers(result, provider, identifiers_of[name], roots_by_id)
        entry = lock_entry(
            str(offer.version),
            [f.hashes["sha256"] for f in offer.files if f.hashes.get("sha256")],
            offer.index.name,
            markers,
            extras,
        )
        if name in default_names or name not in develop_names:
            default[name] = entry
        else:
            develop[name] = entry
        version = str(offer.version)
        # Why this version.
        if offer.tier == 0 and not offer.metadata_demotion:
            tier0 += 1
            justification.append(_item("INFO", f"{name} {version}: {policy.description}", package=name))
        else:
            reasons = offer.tier_reasons + ([offer.metadata_demotion] if offer.metadata_demotion else [])
            justification.append(
                _item(
                    "WARNING",
                    f"{name} {version}: no version that fits met every {policy.name} rule; the chosen one fails on: "
                    + "; ".join(reasons),
                    package=name,
                )
            )
        for advisory in offer.advisories:
            allowed = advisory not in offer.facts.blocking_advisories
            kind = "INFO" if allowed else policy.advisory_severity()
            note = " (let through by the allow-cve label)" if allowed else ""
            justification.append(
                _item(
                    kind,
                    f"{name} {version} is affected by {advisory.id}{note}: {advisory.summary}",
                    advisory.link,
                    name,
                )
            )
        if offer.facts.yanked:
            justification.append(
                _item(
                    "WARNING",
                    f"{name} {version} is yanked; used only because it is pinned with ==",
                    package=name,
                )
            )
        if offer.version.is_prerelease:
            if name in provider.prerelease_fallback:
                message = f"{name} {version} is a pre-release: no final release fits the requirements"
                justification.append(_item("WARNING", message, package=name))
            else:
                justification.append(
                    _item("INFO", f"{name} {version} is a pre-release (pre-releases allowed)", package=name)
                )
        if target.cuda_version and policy.name == "performance" and name in CUDA_AWARE:
            wheel = next((f.filename for f in offer.usable if f.is_wheel), None)
            justification.append(
                _item(
                    "INFO",
                    f"{name} {version}: target states CUDA {target.cuda_version}; selected "
                    f"{wheel or 'the sdist'} from {offer.index.name} (the index decides which CUDA release its builds use)",
                    package=name,
                )
            )
        if known_indexes and offer.index.url in {k.url for k in known_indexes}:
            justification.append(
                _item(
                    "INFO",
                    f"{name} {version} taken from index {offer.index.name} known to the backend",
                    package=name,
                )
            )

    if lock is not None:
        for name, locked in sorted(lock.packages.items()):
            new = default.get(name) or develop.get(name)
            if new is None:
                if locked.dev and not dev:
                    continue
                justification.append(
                    _item("INFO", f"{name} {locked.version} removed: no longer needed", package=name)
                )
                continue
            new_version = new["version"].lstrip("=")
            if new_version != locked.version:
                reason = _change_reason(provider, policy, name, locked.version, requirements_of.get(name, []))
                justification.append(
                    _item("INFO", f"{name} {locked.version} -> {new_version}: {reason}", package=name)
                )

    requirements_locked = build_lock(pipfile, default, develop)
    names = sorted(identifiers_of)
    position = {n: i for i, n in enumerate(names)}
    edges = set()
    for parent, child in result.graph.iter_edges():
        if parent is None or _base(parent) == _base(child):
            continue
        edges.add((position[_base(parent)], position[_base(child)]))
    runtime_out = dict(runtime)
    runtime_out.setdefault("python_version", target.python_version)
    runtime_out.setdefault("platform", target.platform)
    return {
        "project": {
            "requirements": pipfile,
            "requirements_locked": requirements_locked,
            "runtime_environment": runtime_out,
            "constraints": [c.text for c in project.constraints],
        },
        "score": round(tier0 / len(names), 4) if names else 1.0,
        "justification": justification,
        "advised_runtime_environment": None,
        "advised_manifest_changes": [],
        "dependency_graph": {"nodes": names, "edges": sorted([list(e) for e in edges])},
    }
