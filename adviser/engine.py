"""``advise``: from an AdviseInput request to the result document (products, justification, stack_info).

The flow: parse the project and the target environment, load advisories, open the index client,
resolve with resolvelib through ``AdviserProvider``, then write the Pipfile.lock and explain each
choice. Every failure the user can cause or meet (bad input, unknown package, no version for the
target, conflicts, an index down or slow, broken metadata) becomes an error document in plain
words, never a traceback.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from adviser import wire
from adviser.settings import AdviserSettings
from adviser.wire import report_item as _item
from stackfiles.flags import parse_flag
from stackfiles.pipfile import pipfile_hash

Log = Callable[[str], None]
MAX_ROUNDS = 20000


def _dev(request: dict[str, Any], *, planned: bool = False) -> bool:
    """The request's ``dev`` (query-string words too: "True", "None"). Another word is a ProjectError
    when the run reads it, and no in the plan, which is not checked (as the recommendation type)."""
    from adviser.project import ProjectError

    try:
        return parse_flag(request.get("dev"), name="dev")
    except ValueError as exc:
        if planned:
            return False
        raise ProjectError(str(exc)) from None


def _parameters(request: dict[str, Any]) -> dict[str, Any]:
    """The plan of the request: its parameters with the defaults applied (once, here)."""
    from adviser.policies import planned_recommendation_type

    stack = request.get("application_stack") or {}
    runtime = request.get("runtime_environment") or {}
    return {
        "recommendation_type": planned_recommendation_type(request.get("recommendation_type"), runtime),
        "dev": _dev(request, planned=True),
        "labels": request.get("labels") or {},
        "requirements_format": stack.get("requirements_format") or "pipenv",
        "runtime_environment": runtime,
        "library_usage": request.get("library_usage"),
        "count": request.get("count"),
        "limit": request.get("limit"),
    }


def _error_document(parameters: dict, message: str, stack_info: list[dict]) -> dict[str, Any]:
    return wire.error_result(wire.ADVISER, parameters, message, stack_info)


def advise(request: dict[str, Any], settings: AdviserSettings, log: Log | None = None) -> dict[str, Any]:
    """Resolve the request's application stack; the ``result`` part of an adviser document."""
    from resolvelib.resolvers import ResolutionImpossible, ResolutionTooDeep

    from adviser.advisories import AdvisoryDatabaseError
    from adviser.environment import TargetEnvironmentError
    from adviser.index import IndexAccessError, IndexUnreachable
    from adviser.policies import UnknownRecommendationType
    from adviser.project import ProjectError

    log = log or (lambda _message: None)
    parameters = _parameters(request if isinstance(request, dict) else {})
    stack_info: list[dict] = []
    run = _Run(request, settings, log, stack_info, parameters)
    try:
        return run.execute()
    except (ProjectError, TargetEnvironmentError, AdvisoryDatabaseError, UnknownRecommendationType) as exc:
        return _error_document(parameters, str(exc), stack_info)
    except ResolutionImpossible as exc:
        from adviser.explain import explain_conflict

        message = explain_conflict(run.provider, exc.causes, run.conflicts)
        log(f"resolution impossible: {message}")
        return _error_document(parameters, message, stack_info)
    except ResolutionTooDeep:
        return _error_document(
            parameters,
            f"The resolver gave up after {MAX_ROUNDS} rounds without a stack; relax some pins",
            stack_info,
        )
    except IndexUnreachable as exc:
        message = f"Package index {exc.url} could not be read: {exc.cause}"
        return _error_document(parameters, message, stack_info)
    except IndexAccessError as exc:
        return _error_document(parameters, f"Package index problem: {exc}", stack_info)
    except Exception as exc:  # a bug: still a document, with the traceback in the analysis log
        import traceback

        log(traceback.format_exc())
        return _error_document(
            parameters, f"Internal adviser error ({type(exc).__name__}: {exc})", stack_info
        )
    finally:
        run.close()


class _Run:
    """One advise run; attributes keep what the error paths need (the provider for explanations)."""

    def __init__(
        self, request, settings: AdviserSettings, log: Log, stack_info: list, parameters: dict
    ) -> None:
        self.request = request
        self.settings = settings
        self.log = log
        self.stack_info = stack_info
        self.parameters = parameters
        self.provider = None
        self.client = None
        self.conflicts = None  # explain.ConflictHistory once resolution starts

    def close(self) -> None:
        if self.provider is not None:
            self.provider.close()
        if self.client is not None:
            self.client.close()

    def _direct_packages(self, requirements: list, target: Any, sources: list) -> dict[str, Any]:
        """Local path packages (metadata sent by the client) and git packages (built here)."""
        from adviser.direct import prepare_direct
        from adviser.index.builds import BuildOptions

        options = BuildOptions.from_settings(self.settings, [s.network_url for s in sources])
        packages = prepare_direct(requirements, self.request, cache=self.client.cache, options=options,
                                  python=target.python_version, log=self.log)
        for package in packages.values():
            self.stack_info.append(_item("INFO", f"{package.describe()} (a direct reference, no index)"))
        return packages

    # -------------------------------------------------------------------------------------------
    def execute(self) -> dict[str, Any]:
        # Only what the first page requests need is imported before they start (see below).
        from adviser.index import IndexClient, default_index_source
        from adviser.policies import allowed_advisory_ids, policy_for
        from adviser.project import ProjectError, Source, parse_lock, parse_project

        started = time.monotonic()
        request = self.request
        if not isinstance(request, dict) or not isinstance(request.get("application_stack"), dict):
            raise ProjectError("The request has no application_stack")
        stack = request["application_stack"]
        runtime = dict(request.get("runtime_environment") or {})
        labels = request.get("labels") or {}
        if not isinstance(labels, dict):
            raise ProjectError("labels must be an object of name: value pairs")
        dev = _dev(request)
        policy = policy_for(self.parameters["recommendation_type"])

        default = self.settings.default_index or default_index_source()
        project = parse_project(
            stack.get("requirements"),
            stack.get("requirements_format"),
            stack.get("constraints"),
            Source(default.name, default.url, default.verify_ssl),
        )
        self.stack_info.extend(project.notes)
        from adviser.environment import build_target, target_python

        python, disagreement = target_python(runtime.get("python_version"), project.python_version)
        if disagreement:
            self.stack_info.append(_item("WARNING", disagreement))
        target = build_target(dict(runtime, python_version=python), project.python_version)
        self.stack_info.extend(target.notes)
        # Indexes: the project's sources, plus (unless disabled) the indexes the backend knows.
        from adviser.credentials import index_sources

        # Written URLs with ${VAR} get the client's expansion to reach the index (fetch_url).
        project_sources = index_sources(project.sources, request.get("expanded_sources"))
        by_name = {s.name: s for s in project_sources}
        from adviser.aliases import IndexAliases

        # A source that is another URL of an index the backend knows is read through that index.
        aliases = IndexAliases(self.settings.index_aliases, [default, *self.settings.known_indexes], self.log)
        known = (
            []
            if project.disable_index_adjustment
            else [
                k
                for k in self.settings.known_indexes
                if k.url.rstrip("/") not in {aliases.declared_root(s.url).rstrip("/") for s in project_sources}
            ]
        )
        pins = {}
        for requirement in project.packages + project.dev_packages:
            if requirement.index:
                pins[requirement.name] = by_name[requirement.index]

        def sources_for(name: str) -> list:
            if name in pins:
                return [pins[name]]
            return project_sources + known

        from adviser.index.builds import BuildOptions

        self.client = IndexClient(
            project_sources + known,
            self.settings.cache_dir,
            page_ttl=self.settings.page_ttl,
            force_refresh=self.settings.force_refresh,
            max_workers=self.settings.max_workers,
            timeout=self.settings.timeout,
            log=self.log,
            aliases=aliases,
            # Build requirements come from the same indexes as the resolution.
            builds=BuildOptions.from_settings(self.settings, [s.network_url for s in project_sources + known]),
        )
        # Direct requirements' pages are read from now on, in the client's threads: the network
        # (and a cold run's DNS and TLS set-up) overlaps the imports and preparation below.
        direct_names = [r.name for r in project.packages + (project.dev_packages if dev else []) if not r.direct]
        for name in direct_names:
            self.client.prefetch_pages([name], sources_for(name), wait_for_all=False)

        from resolvelib import Resolver

        from adviser.advisories import load_advisories
        from adviser.resolution.model import Requirement
        from adviser.resolution.provider import AdviserProvider
        from adviser.resolution.reporter import AdviseReporter

        if project.requirements_format != "pipenv":
            project.pipfile.setdefault("requires", {"python_version": target.python_version})
        self.stack_info.append(_item("INFO", policy.summary()))
        advisories = load_advisories(self.settings.advisory_db, self.settings.cache_dir)
        description = advisories.describe()
        self.stack_info.append(_item("INFO", description[:1].upper() + description[1:]))
        allowed = allowed_advisory_ids(labels)
        if labels:
            echoed = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()))
            self.stack_info.append(_item("INFO", f"Labels: {echoed}"))

        if project.disable_index_adjustment:
            self.stack_info.append(
                _item(
                    "INFO",
                    "Index adjustment disabled ([thoth] disable_index_adjustment): only "
                    + ", ".join(s.name for s in project_sources)
                    + " are used",
                )
            )
        self.stack_info.append(
            _item(
                "INFO",
                "Indexes consulted: " + ", ".join(f"{s.name} ({s.url})" for s in project_sources + known),
            )
        )

        lock = parse_lock(stack.get("requirements_lock"), project.requirements_format)
        locked: dict[str, str] = {}
        if lock is not None:
            if lock.pipfile_hash is not None and lock.pipfile_hash != pipfile_hash(project.pipfile):
                self.stack_info.append(
                    _item(
                        "INFO",
                        "The existing lock was made for another Pipfile (hash differs); resolving afresh",
                    )
                )
                lock = None
            else:
                locked = {name: entry.version for name, entry in lock.packages.items()}
                self.stack_info.append(
                    _item(
                        "INFO",
                        f"Existing lock with {len(locked)} packages used as the starting point (minimal change)",
                    )
                )

        direct = [r for r in project.packages + (project.dev_packages if dev else [])]
        roots = []
        for requirement in direct:
            if requirement.marker is not None and not requirement.marker.evaluate(
                dict(target.markers, extra="")
            ):
                self.stack_info.append(
                    _item(
                        "INFO",
                        f"{requirement.text} skipped: its markers ({requirement.marker}) do not hold on the target",
                    )
                )
                continue
            roots.append(
                Requirement(
                    requirement.name,
                    requirement.extras,
                    requirement.specifier,
                    marker=str(requirement.marker) if requirement.marker is not None else None,
                    text=requirement.text,
                )
            )
        if not dev and project.dev_packages:
            self.stack_info.append(_item("INFO", "[dev-packages] not resolved (dev is off)"))
        provider = AdviserProvider(
            self.client,
            target,
            policy,
            sources_for=sources_for,
            advisories=advisories,
            allowed_advisories=allowed,
            prereleases_all=project.allow_prereleases_all,
            prerelease_packages=project.prerelease_packages,
            constraints=project.constraints,
            locked=locked,
            log=self.log,
            prefetch_workers=self.settings.max_workers,
        )
        self.provider = provider
        wanted = project.packages + (project.dev_packages if dev else [])
        provider.add_direct(self._direct_packages(wanted, target, project_sources + known))
        self.log(
            f"resolving {len(roots)} direct requirements for {target.platform} Python {target.python_full_version}"
        )
        try:
            provider.prefetch(roots)
            from adviser.explain import ConflictHistory

            self.conflicts = ConflictHistory(self.log)
            reporter = AdviseReporter(self.conflicts)
            result = Resolver(provider, reporter).resolve(roots, max_rounds=MAX_ROUNDS)
        finally:  # aliases found by redirects are known once pages were read, failed or not
            self.stack_info.extend(_item("INFO", note) for note in aliases.notes(project_sources))
        elapsed = time.monotonic() - started
        self.log(f"resolved {len(result.mapping)} nodes in {reporter.rounds} rounds, {elapsed:.2f}s")
        from adviser.policies import RULE_SET_VERSION
        from adviser.report import build_product

        product = build_product(
            result=result,
            provider=provider,
            project=project,
            target=target,
            policy=policy,
            roots=roots,
            dev=dev,
            runtime=runtime,
            known_indexes=known,
            lock=lock,
        )
        self.stack_info.append(
            _item(
                "INFO",
                f"Resolved {len(product['dependency_graph']['nodes'])} packages in {reporter.rounds} resolver rounds",
            )
        )
        pipeline = {
            "recommendation_type": policy.name,
            "rule_set": RULE_SET_VERSION,
            "advisory_snapshot": advisories.describe(),
            "target": {
                "python_full_version": target.python_full_version,
                "platform": target.platform,
                "libc": target.libc,
            },
        }
        report = wire.adviser_report([product], self.stack_info, pipeline, reporter.rounds)
        return wire.result(self.parameters, report)
