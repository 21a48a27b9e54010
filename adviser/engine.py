"""``advise``: from an AdviseInput request to the result document (products, justification, stack_info).

``advise`` runs the named stages of an ``AdviseRun``: plan the request (project, target, policy,
indexes, advisories, existing lock, root requirements), resolve it (resolvelib through
``adviser.resolution.provider.AdviserProvider``), build the product (the Pipfile.lock and why each
choice was made), or explain why no stack exists. Every failure the user can cause or meet (bad
input, unknown package, no version for the target, conflicts, an index down or slow, broken
metadata) becomes an error document in plain words, never a traceback.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
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
    from adviser.index.http import AnalysisDeadline
    from adviser.policies import UnknownRecommendationType
    from adviser.prescriptions.request import PrescriptionStop
    from adviser.project import ProjectError

    given = log or (lambda _message: None)
    log = lambda message: given(wire.redact_urls(str(message)))  # noqa: E731 - no credentials in logs
    parameters = _parameters(request if isinstance(request, dict) else {})
    run = AdviseRun(request, settings, log, parameters)
    try:
        plan = run.plan()
        result, rounds = run.resolve(plan)
        return run.product(plan, result, rounds)
    except (ProjectError, TargetEnvironmentError, AdvisoryDatabaseError, UnknownRecommendationType,
            PrescriptionStop) as exc:
        return run.error(str(exc))
    except ResolutionImpossible as exc:
        return run.error(run.explain(exc.causes))
    except ResolutionTooDeep:
        return run.error(f"The resolver gave up after {MAX_ROUNDS} rounds without a stack; relax some pins")
    except AnalysisDeadline as exc:
        return run.error(f"The analysis was stopped: {exc}; an index answering slowly, or a large project "
                         "(the deadline is the server's analysis_deadline setting)")
    except IndexUnreachable as exc:
        return run.error(f"Package index {exc.url} could not be read: {exc.cause}")
    except IndexAccessError as exc:
        return run.error(f"Package index problem: {exc}")
    except Exception as exc:  # a bug: still a document, with the traceback in the analysis log
        import traceback

        log(traceback.format_exc())
        return run.error(f"Internal adviser error ({type(exc).__name__}: {exc})")
    finally:
        run.close()


@dataclass
class Plan:
    """What the request asks for, read and checked before anything is resolved."""

    stack: dict
    runtime: dict
    labels: dict
    dev: bool
    policy: Any
    project: Any
    target: Any
    sources: list = field(default_factory=list)  # the project's sources (credentials expanded)
    known: list = field(default_factory=list)  # indexes the backend knows, consulted too
    pins: dict = field(default_factory=dict)  # package name -> the one source it is pinned to
    aliases: Any = None
    advisories: Any = None
    allowed_advisories: set = field(default_factory=set)
    lock: Any = None
    locked: dict = field(default_factory=dict)  # package name -> version in the existing lock
    roots: list = field(default_factory=list)  # the direct requirements whose markers hold
    prescriptions: Any = None  # adviser.prescriptions.evaluator.PrescriptionUnit when a knowledge base is set

    def sources_for(self, name: str) -> list:
        if name in self.pins:
            return [self.pins[name]]
        return self.sources + self.known

    def wanted(self) -> list:
        """The direct requirements resolved: [packages], and [dev-packages] when dev is on."""
        return self.project.packages + (self.project.dev_packages if self.dev else [])


class AdviseRun:
    """One advise run, stage by stage; attributes keep what the error paths need (the provider and
    the conflicts met, for explanations) and what ``close`` releases."""

    def __init__(self, request, settings: AdviserSettings, log: Log, parameters: dict) -> None:
        self.request = request
        self.settings = settings
        self.log = log
        self.parameters = parameters
        self.stack_info: list[dict] = []
        self.started = time.monotonic()
        self.provider = None
        self.client = None
        self.conflicts = None  # explain.ConflictHistory once resolution starts
        self.prescriptions = None  # the request's PrescriptionUnit, once planned

    def error(self, message: str) -> dict[str, Any]:
        """The error document, with the stack_info gathered so far (prescriptions' too)."""
        gathered = self.stack_info + (self.prescriptions.report_stack_info() if self.prescriptions else [])
        return _error_document(self.parameters, message, gathered)

    def close(self) -> None:
        if self.provider is not None:
            self.provider.close()
        if self.client is not None:
            self.client.close()

    # ------------------------------------------------------------ plan the request

    def plan(self) -> Plan:
        """Read the request: project, target, policy, indexes (whose pages start loading now),
        advisories, the existing lock and the root requirements."""
        # Only what the first page requests need is imported before they start (see _open_indexes).
        from adviser.index import default_index_source
        from adviser.policies import policy_for
        from adviser.project import ProjectError, Source, parse_project

        self.started = time.monotonic()
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
        target = self._plan_target(runtime, project)
        plan = Plan(stack, runtime, labels, dev, policy, project, target)
        self._open_indexes(plan, default)
        self._plan_rules(plan)
        self._plan_lock(plan)
        self._plan_roots(plan)
        self._plan_prescriptions(plan)
        return plan

    def _plan_prescriptions(self, plan: Plan) -> None:
        """The prescriptions of the request (when the settings name a knowledge base): boots run now."""
        from adviser.prescriptions.request import PrescriptionsUnavailable, prescriptions_for

        try:
            # Set before the boots run: a boot that ends the request still has its stack_info reported.
            plan.prescriptions = prescriptions_for(
                self.request, self.parameters, plan, self.settings, self.log,
                started=lambda unit: setattr(self, "prescriptions", unit),
            )
        except PrescriptionsUnavailable as exc:
            self.log(str(exc))
            self.stack_info.append(_item("WARNING", str(exc)))

    def _plan_target(self, runtime: dict, project: Any) -> Any:
        from adviser.environment import build_target, target_python

        python, disagreement = target_python(runtime.get("python_version"), project.python_version)
        if disagreement:
            self.stack_info.append(_item("WARNING", disagreement))
        target = build_target(dict(runtime, python_version=python), project.python_version)
        self.stack_info.extend(target.notes)
        return target

    def _open_indexes(self, plan: Plan, default: Any) -> None:
        """The project's sources plus (unless disabled) the indexes the backend knows; the index
        client opens on them and starts reading the direct requirements' pages."""
        from adviser.aliases import IndexAliases
        from adviser.credentials import index_sources
        from adviser.index import IndexClient
        from adviser.index.builds import BuildOptions

        project = plan.project
        # Written URLs with ${VAR} get the client's expansion to reach the index (fetch_url).
        plan.sources = index_sources(project.sources, self.request.get("expanded_sources"))
        by_name = {s.name: s for s in plan.sources}
        # A source that is another URL of an index the backend knows is read through that index.
        plan.aliases = IndexAliases(self.settings.index_aliases, [default, *self.settings.known_indexes], self.log)
        if not project.disable_index_adjustment:
            declared = {plan.aliases.declared_root(s.url).rstrip("/") for s in plan.sources}
            plan.known = [k for k in self.settings.known_indexes if k.url.rstrip("/") not in declared]
        for requirement in project.packages + project.dev_packages:
            if requirement.index:
                plan.pins[requirement.name] = by_name[requirement.index]
        everywhere = plan.sources + plan.known
        self.client = IndexClient(
            everywhere,
            self.settings.cache_dir,
            page_ttl=self.settings.page_ttl,
            force_refresh=self.settings.force_refresh,
            max_workers=self.settings.max_workers,
            timeout=self.settings.timeout,
            log=self.log,
            aliases=plan.aliases,
            response_budget=self.settings.response_budget,
            deadline=self.settings.analysis_deadline,
            # Build requirements come from the same indexes as the resolution.
            builds=BuildOptions.from_settings(self.settings, [s.network_url for s in everywhere]),
        )
        # Direct requirements' pages are read from now on, in the client's threads: the network
        # (and a cold run's DNS and TLS set-up) overlaps the imports and preparation that follow.
        for requirement in plan.wanted():
            if not requirement.direct:
                self.client.prefetch_pages([requirement.name], plan.sources_for(requirement.name), wait_for_all=False)

    def _plan_rules(self, plan: Plan) -> None:
        """The policy, the advisories and the labels, each named in the stack_info with the indexes."""
        from adviser.advisories import load_advisories, snapshot_notes
        from adviser.policies import allowed_advisory_ids
        from adviser.resolution.units import PolicyUnit

        project = plan.project
        if project.requirements_format != "pipenv":
            project.pipfile.setdefault("requires", {"python_version": plan.target.python_version})
        self.stack_info.extend(PolicyUnit(plan.policy).stack_info())
        plan.advisories = load_advisories(self.settings.advisory_db, self.settings.cache_dir)
        for level, message in snapshot_notes(plan.advisories, plan.policy.advisories_block):
            self.stack_info.append(_item(level, message))
        self.log(f"using {plan.advisories.describe()}")  # the analysis log names the snapshot too
        plan.allowed_advisories = allowed_advisory_ids(plan.labels)
        if plan.labels:
            echoed = ", ".join(f"{k}={v}" for k, v in sorted(plan.labels.items()))
            self.stack_info.append(_item("INFO", f"Labels: {echoed}"))
        if project.disable_index_adjustment:
            only = ", ".join(s.name for s in plan.sources)
            message = f"Index adjustment disabled ([thoth] disable_index_adjustment): only {only} are used"
            self.stack_info.append(_item("INFO", message))
        consulted = ", ".join(f"{s.name} ({s.url})" for s in plan.sources + plan.known)
        self.stack_info.append(_item("INFO", f"Indexes consulted: {consulted}"))

    def _plan_lock(self, plan: Plan) -> None:
        """The existing lock, a starting point (minimal change) when made for this Pipfile."""
        from adviser.project import parse_lock

        lock = parse_lock(plan.stack.get("requirements_lock"), plan.project.requirements_format)
        if lock is None:
            return
        if lock.pipfile_hash is not None and lock.pipfile_hash != pipfile_hash(plan.project.pipfile):
            message = "The existing lock was made for another Pipfile (hash differs); resolving afresh"
            self.stack_info.append(_item("INFO", message))
            return
        plan.lock = lock
        plan.locked = {name: entry.version for name, entry in lock.packages.items()}
        message = f"Existing lock with {len(plan.locked)} packages used as the starting point (minimal change)"
        self.stack_info.append(_item("INFO", message))

    def _plan_roots(self, plan: Plan) -> None:
        """The direct requirements as the resolver's roots, but those whose markers fail on the target."""
        from adviser.resolution.model import Requirement

        environment = dict(plan.target.markers, extra="")
        for requirement in plan.wanted():
            if requirement.marker is not None and not requirement.marker.evaluate(environment):
                message = f"{requirement.text} skipped: its markers ({requirement.marker}) do not hold on the target"
                self.stack_info.append(_item("INFO", message))
                continue
            marker = str(requirement.marker) if requirement.marker is not None else None
            plan.roots.append(
                Requirement(requirement.name, requirement.extras, requirement.specifier, marker=marker,
                            text=requirement.text)
            )
        if not plan.dev and plan.project.dev_packages:
            self.stack_info.append(_item("INFO", "[dev-packages] not resolved (dev is off)"))

    # ------------------------------------------------------------ resolve

    def resolve(self, plan: Plan) -> tuple[Any, int]:
        """The resolver's result and how many rounds it took."""
        from resolvelib import Resolver

        from adviser.explain import ConflictHistory
        from adviser.resolution.provider import AdviserProvider
        from adviser.resolution.reporter import AdviseReporter

        project, target = plan.project, plan.target
        self.provider = AdviserProvider(
            self.client,
            target,
            plan.policy,
            sources_for=plan.sources_for,
            advisories=plan.advisories,
            allowed_advisories=plan.allowed_advisories,
            prereleases_all=project.allow_prereleases_all,
            prerelease_packages=project.prerelease_packages,
            constraints=project.constraints,
            locked=plan.locked,
            log=self.log,
            prefetch_workers=self.settings.max_workers,
            own_sources=plan.sources,  # a package they have is never taken from a known index
            units=[unit for unit in (plan.prescriptions, self._cuda_unit(plan)) if unit is not None],
        )
        if plan.prescriptions is not None:
            plan.prescriptions.introducers = self.provider.introducers
        self.provider.add_direct(self._direct_packages(plan))
        self.log(
            f"resolving {len(plan.roots)} direct requirements for {target.platform} Python {target.python_full_version}"
        )
        try:
            self.provider.prefetch(plan.roots)
            self.conflicts = ConflictHistory(self.log)
            reporter = AdviseReporter(self.conflicts, self.log if self.request.get("debug") else None)
            self.provider.follow(reporter)
            result = Resolver(self.provider, reporter).resolve(plan.roots, max_rounds=MAX_ROUNDS)
        finally:  # aliases found by redirects are known once pages were read, failed or not
            self.stack_info.extend(_item("INFO", note) for note in plan.aliases.notes(plan.sources))
        elapsed = time.monotonic() - self.started
        self.log(f"resolved {len(result.mapping)} nodes in {reporter.rounds} rounds, {elapsed:.2f}s")
        return result, reporter.rounds

    @staticmethod
    def _cuda_unit(plan: Plan) -> Any:
        """For a target stating CUDA: builds needing a newer CUDA are left out or warned about."""
        from adviser.cuda import CudaUnit

        if not plan.target.cuda_version:
            return None
        return CudaUnit(plan.target.cuda_version, plan.policy.name, plan.target.markers)

    def _direct_packages(self, plan: Plan) -> dict[str, Any]:
        """Local path packages (metadata sent by the client) and git packages (built here)."""
        from adviser.direct import prepare_direct
        from adviser.index.builds import BuildOptions

        options = BuildOptions.from_settings(self.settings, [s.network_url for s in plan.sources + plan.known])
        packages = prepare_direct(plan.wanted(), self.request, cache=self.client.cache, options=options,
                                  python=plan.target.python_version, log=self.log)
        for package in packages.values():
            self.stack_info.append(_item("INFO", f"{package.describe()} (a direct reference, no index)"))
        return packages

    # ------------------------------------------------------------ build the product

    def product(self, plan: Plan, result: Any, rounds: int) -> dict[str, Any]:
        """The result document: the product (lock, graph, justification) and the pipeline used."""
        from adviser.policies import RULE_SET_VERSION
        from adviser.report import build_product

        target = plan.target
        if plan.prescriptions is not None:
            rejection = plan.prescriptions.settlement.settle(result.mapping)
            if rejection:
                return self.error(rejection)
        product = build_product(
            result=result,
            provider=self.provider,
            project=plan.project,
            target=target,
            policy=plan.policy,
            roots=plan.roots,
            dev=plan.dev,
            runtime=plan.runtime,
            known_indexes=plan.known,
            lock=plan.lock,
        )
        if plan.prescriptions is not None:
            product["justification"].extend(plan.prescriptions.settlement.stack_items)
            product["advised_manifest_changes"] = list(plan.prescriptions.settlement.manifest_changes)
            self.stack_info.extend(plan.prescriptions.report_stack_info())
            self.prescriptions = None  # reported: error() must not add them again
        resolved = len(product["dependency_graph"]["nodes"])
        self.stack_info.append(_item("INFO", f"Resolved {resolved} packages in {rounds} resolver rounds"))
        pipeline = {
            "recommendation_type": plan.policy.name,
            "rule_set": RULE_SET_VERSION,
            "advisory_snapshot": plan.advisories.describe(),
            "target": {
                "python_full_version": target.python_full_version,
                "platform": target.platform,
                "libc": target.libc,
            },
        }
        report = wire.adviser_report([product], self.stack_info, pipeline, rounds)
        return wire.result(self.parameters, report)

    # ------------------------------------------------------------ explain

    def explain(self, causes: Any) -> str:
        """Why no stack exists, in plain words (the causes resolvelib gave, with earlier conflicts)."""
        from adviser.explain import explain_conflict

        message = explain_conflict(self.provider, causes, self.conflicts)
        self.log(f"resolution impossible: {message}")
        return message
