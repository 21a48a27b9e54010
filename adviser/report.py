"""The product of a successful resolution: lock, dependency graph, justifications, score."""

from __future__ import annotations

from typing import Any

from packaging.version import Version

from adviser import wire
from adviser.security_notes import advisory_choice_notes
from adviser.wire import report_item as _item
from stackfiles.pipfile_lock import build_pipfile_lock, direct_entry, package_entry


def _base(identifier: str) -> str:
    return identifier.split("[", 1)[0]


# A package reached along many conditional paths gets at most this many alternatives in its
# marker; past that it is locked unconditionally (wider than needed, never narrower).
_MAX_MARKER_TERMS = 16

Terms = set[frozenset[str]]  # a marker in disjunctive form: or of ands of marker texts; frozenset() = always


def _absorb(terms: Terms) -> Terms:
    """Drop alternatives implied by a weaker one (a and b is covered by a)."""
    if frozenset() in terms:
        return {frozenset()}
    kept = {t for t in terms if not any(other < t for other in terms)}
    return kept if len(kept) <= _MAX_MARKER_TERMS else {frozenset()}


def _needed_when(result, provider, roots) -> dict[str, Terms]:
    """For each resolved identifier, the conditions under which some path from the application needs it.

    A path's condition is the conjunction of the markers on its edges (the root's own marker
    included), so a dependency of a conditional package carries its parent's condition too.
    Conditions only grow while walking the graph, so the walk ends also on cycles.
    """
    needs: dict[str, Terms] = {}
    pending: list[str] = []

    def merge(identifier: str, terms: Terms) -> None:
        old = needs.get(identifier, set())
        new = _absorb(old | terms)
        if new != old:
            needs[identifier] = new
            pending.append(identifier)

    for root in roots:
        if root.identifier in result.mapping:
            merge(root.identifier, {frozenset([root.marker]) if root.marker else frozenset()})
    while pending:
        parent = pending.pop()
        parent_terms = needs[parent]
        candidate = result.mapping[parent]
        dependencies = provider.dependencies_of(candidate) or []
        for child in result.graph.iter_children(parent):
            # An edge the provider does not know is taken as unconditional (the safe side).
            edge_markers = [r.marker for r in dependencies if r.identifier == child] or [None]
            merge(
                child,
                {term | {marker} if marker else term for marker in edge_markers for term in parent_terms},
            )
    return needs


def _render_terms(terms: Terms) -> str | None:
    if not terms or frozenset() in terms:
        return None
    ordered = sorted(terms, key=lambda t: (len(t), sorted(t)))
    texts = [
        next(iter(term)) if len(term) == 1 else " and ".join(f"({m})" for m in sorted(term))
        for term in ordered
    ]
    return texts[0] if len(texts) == 1 else " or ".join(f"({t})" for t in texts)


def _lock_markers(needs: dict[str, Terms], identifiers: list[str]) -> str | None:
    """Markers under which a package is needed; None when some path needs it unconditionally."""
    terms: Terms = set()
    for identifier in identifiers:
        terms |= needs.get(identifier, {frozenset()})
    return _render_terms(_absorb(terms))


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
    package = provider.package(name)
    if package is None:
        return "needed to satisfy the other packages"
    try:
        old_version = Version(old)
    except ValueError:
        return f"locked version {old} is not a valid version"
    offer = next((o for o in package.offers if o.version == old_version), None)
    if offer is None or not provider.judge(offer):
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
    # Options outside pipenv's hash (constraints, pre-releases, [thoth]) may have changed since the lock.
    excluding = [f"{c.text} (constraints line {c.line})" for c in provider.constraints_for(name)
                 if not c.specifier.contains(old_version, prereleases=True)]
    if excluding:
        return f"locked version is excluded by the constraint {', '.join(excluding)}"
    if old_version.is_prerelease and not provider.prereleases_allowed(name, requirements):
        return ("locked version is a pre-release and pre-releases of it are not allowed now "
                "([pipenv] allow_prereleases, [thoth.allow_prereleases])")
    by_rule = policy.lock_change_reason(offer.facts.blocking_advisories, offer.tier_reasons)
    if by_rule:
        return by_rule
    if package.rejected.get(str(old_version)):
        return f"locked version is not admitted now ({package.rejected[str(old_version)]})"
    if offer.metadata_problem:
        return f"locked version's metadata cannot be used ({offer.metadata_problem})"
    return "needed to satisfy the other packages"


def _metadata_notes(provider, name: str, offer) -> list[dict]:
    """Where the chosen version's dependencies came from when a build told them, and why newer
    versions the resolver looked at were left out for their metadata (a failed build, ...)."""
    notes = []
    package = provider.package(name)
    for newer in package.offers if package is not None else ():
        if newer.version > offer.version and newer.checked and newer.metadata is None:
            problem = newer.metadata_problem or "its metadata cannot be read"
            notes.append(_item("WARNING", f"{name} {newer.version} was not used: {problem}", package=name))
    if offer.metadata_borrowed_from:
        notes.append(
            _item(
                "WARNING",
                f"{name} {offer.version}: no file for the target tells its dependencies, so they were read from "
                f"the wheel {offer.metadata_borrowed_from}; installing it on the target builds its sdist",
                package=name,
            )
        )
    build = getattr(offer.metadata, "build", None)
    if build is None:
        return notes
    version = str(offer.version)
    cached = " (kept from an earlier build)" if build.from_cache else ""
    notes.append(
        _item(
            "INFO",
            f"{name} {version}: dependencies read by building its sdist's metadata with "
            f"{build.interpreter}{cached}",
            package=name,
        )
    )
    if not build.matched:
        notes.append(
            _item(
                "WARNING",
                f"{name} {version}: no Python {build.target_python} interpreter was available to build its "
                f"sdist's metadata; Python {build.interpreter_version} was used, so dependencies its "
                "setup.py computes for the running Python may differ on the target",
                package=name,
            )
        )
    return notes


def build_product(
    *, result, provider, project, target, policy, roots, dev, runtime, known_indexes, lock
) -> dict:
    """The product of a resolution: the Pipfile (with the indexes the resolution added), its
    Pipfile.lock, the dependency graph, why each version was chosen and the score. Nothing it is
    given is changed (the Pipfile is copied when sources are added)."""
    identifiers_of: dict[str, list[str]] = {}  # resolved identifiers by package
    for identifier, candidate in result.mapping.items():
        if candidate.replaces is None:  # a pseudonym's stand-in is listed under its real project
            identifiers_of.setdefault(_base(identifier), []).append(identifier)
    names = sorted(identifiers_of)
    pipfile, justification = _with_adjusted_sources(project.pipfile, result, names)
    default, develop = _lock_sections(result, provider, project, roots, dev, identifiers_of)
    tier0 = 0
    requirements_of = _requirements_by_name(provider, roots)
    for name in names:
        if name in result.mapping:
            offer = _offer_of(result, name)
            tier0 += offer.direct is not None or (offer.tier == 0 and not offer.metadata_demotion)
            justification.extend(_choice_notes(name, offer, provider, policy, target, known_indexes))
            justification.extend(advisory_choice_notes(name, offer, provider, policy, requirements_of.get(name, [])))
    if lock is not None:
        justification.extend(_lock_changes(lock, default, develop, dev, provider, policy, requirements_of))
    runtime_out = dict(runtime)
    runtime_out.setdefault("python_version", target.python_version)
    runtime_out.setdefault("platform", target.platform)
    resolved = wire.project_def(
        pipfile, build_pipfile_lock(pipfile, default, develop), runtime_out, [c.text for c in project.constraints]
    )
    score = round(tier0 / len(names), 4) if names else 1.0
    return wire.product(resolved, score, justification, names, _graph_edges(result, names))


def _offer_of(result, name: str):
    """The offer resolved for ``name``: a pseudonym's stand-in for it if any (it names the index
    the alternative was allowed from), else the package's own."""
    for candidate in result.mapping.values():
        if candidate.replaces is not None and candidate.name == name:
            return candidate.offer
    return result.mapping[name].offer


def _with_adjusted_sources(pipfile: dict, result, names: list[str]) -> tuple[dict, list[dict]]:
    """The Pipfile with the indexes taken from the backend's known list joined to its sources (a
    copy when there are any), and a justification item for each added index."""
    sources = list(pipfile.get("source") or [])
    source_urls = {s.get("url", "").rstrip("/") for s in sources}
    justification: list[dict] = []
    for name in names:
        offer = _offer_of(result, name) if name in result.mapping else None
        index = offer.index if offer is not None and offer.direct is None else None
        if index is None or index.url.rstrip("/") in source_urls:
            continue
        sources.append({"url": index.url, "verify_ssl": index.verify_ssl, "name": index.name})
        source_urls.add(index.url.rstrip("/"))
        message = f"Index {index.name} ({index.url}) added to the sources: it carries {name} (index adjustment)"
        justification.append(_item("INFO", message))
    if not justification:
        return pipfile, justification
    return {**pipfile, "source": sources}, justification


def _lock_sections(result, provider, project, roots, dev, identifiers_of) -> tuple[dict, dict]:
    """The lock entries of the resolved packages: (default, develop)."""
    needs = _needed_when(result, provider, roots)
    default_packages = {p.name for p in project.packages}
    default_names = _reachable(result, [r.identifier for r in roots if r.name in default_packages])
    dev_roots = [r.identifier for r in roots if r.name not in default_packages]
    develop_names = _reachable(result, dev_roots) - default_names if dev else set()
    default: dict[str, dict] = {}
    develop: dict[str, dict] = {}
    for name in sorted(identifiers_of):
        if name not in result.mapping:
            continue
        offer = _offer_of(result, name)
        extras = sorted({e for i in identifiers_of[name] for e in (result.mapping[i].extras or ())})
        markers = _lock_markers(needs, identifiers_of[name])
        if offer.direct is not None:  # local path or git: pipenv's entry, no version, no hashes
            entry = direct_entry(offer.direct.lock_entry, markers, extras)
        else:
            hashes = [f.hashes["sha256"] for f in offer.files if f.hashes.get("sha256")]
            entry = package_entry(str(offer.version), hashes, offer.index.name, markers, extras)
        if name in default_names or name not in develop_names:
            default[name] = entry
        else:
            develop[name] = entry
    return default, develop


def _choice_notes(name: str, offer, provider, policy, target, known_indexes) -> list[dict]:
    """Why this version of ``name`` was chosen, and what to know about it."""
    version = str(offer.version)
    if offer.direct is not None:
        message = f"{name} {version} from {offer.direct.origin}: a direct reference, not taken from an index"
        notes = [_item("INFO", message, package=name)]
    elif offer.tier == 0 and not offer.metadata_demotion:
        notes = [_item("INFO", policy.chosen(name, version), package=name)]
    else:
        reasons = offer.tier_reasons + ([offer.metadata_demotion] if offer.metadata_demotion else [])
        notes = [_item("WARNING", policy.fallback(name, version, reasons), package=name)]
    notes.extend(_advisory_notes(name, offer, policy))
    if offer.facts.yanked:
        message = f"{name} {version} is yanked; used only because it is pinned with =="
        notes.append(_item("WARNING", message, package=name))
    if offer.version.is_prerelease:
        if provider.took_prerelease_fallback(name):
            message = f"{name} {version} is a pre-release: no final release fits the requirements"
            notes.append(_item("WARNING", message, package=name))
        else:
            message = f"{name} {version} is a pre-release (pre-releases allowed)"
            notes.append(_item("INFO", message, package=name))
    wheel = next((f.filename for f in offer.usable if f.is_wheel), None)
    note = policy.build_note(name, version, target.cuda_version, wheel, offer.index.name)
    if note:
        notes.append(_item("INFO", note, package=name))
    if known_indexes and offer.index.url in {k.url for k in known_indexes}:
        # Not one of the project's indexes: worth a look (dependency confusion), so a warning.
        message = (f"{name} {version} taken from index {offer.index.name} ({offer.index.url}) known to the backend: "
                   "the project's sources do not provide it")
        notes.append(_item("WARNING", message, package=name))
    notes.extend(_metadata_notes(provider, name, offer))
    notes.extend(provider.unit.justify(name, offer))  # further decision units (adviser.resolution.units)
    return notes


def _advisory_notes(name: str, offer, policy) -> list[dict]:
    notes = []
    for advisory in offer.advisories:
        allowed = advisory not in offer.facts.blocking_advisories
        kind = "INFO" if allowed else policy.advisory_severity()
        note = " (let through by the allow-cve label)" if allowed else ""
        message = f"{name} {offer.version} is affected by {advisory.id}{note}: {advisory.summary}"
        notes.append(_item(kind, message, advisory.link, name))
    return notes


def _requirements_by_name(provider, roots) -> dict[str, list[Any]]:
    """Every requirement met in the resolution (the application's and each candidate's), by package."""
    requirements_of: dict[str, list[Any]] = {}
    for requirement in provider.all_dependencies():
        requirements_of.setdefault(requirement.name, []).append(requirement)
    for root in roots:
        requirements_of.setdefault(root.name, []).append(root)
    return requirements_of


def _lock_changes(lock, default, develop, dev, provider, policy, requirements_of) -> list[dict]:
    """What changed against the existing lock, and why."""
    notes = []
    for name, locked in sorted(lock.packages.items()):
        new = default.get(name) or develop.get(name)
        if new is None:
            if not (locked.dev and not dev):
                message = f"{name} {locked.version} removed: no longer needed"
                notes.append(_item("INFO", message, package=name))
            continue
        new_version = (new.get("version") or "").lstrip("=")  # none for local path and git packages
        if new_version and new_version != locked.version:
            reason = _change_reason(provider, policy, name, locked.version, requirements_of.get(name, []))
            notes.append(_item("INFO", f"{name} {locked.version} -> {new_version}: {reason}", package=name))
    return notes


def _graph_edges(result, names: list[str]) -> list[list[int]]:
    """Edges between packages (positions in ``names``); extras and the application left out."""
    position = {n: i for i, n in enumerate(names)}
    # A pseudonym's stand-in is drawn as its real project.
    real = {_base(i): c.name for i, c in result.mapping.items() if c.replaces is not None}
    edges = set()
    for parent, child in result.graph.iter_edges():
        if parent is None:
            continue
        parent, child = real.get(_base(parent), _base(parent)), real.get(_base(child), _base(child))
        if parent != child:
            edges.add((position[parent], position[child]))
    return sorted([list(e) for e in edges])
