"""Every Thoth wire document, shaped in one place.

openapi/openapi.yaml describes these documents and thamos clients (this project's and the released
1.x line) read them. Building each shape here, and nowhere else, keeps the adviser, the provenance
checker, the job runner and the HTTP handlers from drifting apart. The sections:

* report items: the justification / stack_info entry and the provenance finding;
* results: the adviser's product and report, the provenance report, and the one error result;
* the analysis document: metadata + result, completed with what 1.x clients require;
* the server's small answers: accepted (202), unfinished (202), status, log, version, errors.

The adviser imports this module, and the server imports it from here (never the reverse). Heavy
imports (distro, packaging) wait until a function needs them.
"""

from __future__ import annotations

import json
import os
import platform
import re
import socket
import sys
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from stackfiles.errors import StackFileError
from stackfiles.toml import load_toml

ADVISER = "adviser"
PROVENANCE = "provenance-checker"
ANALYZERS = {ADVISER: "thamos-adviser", PROVENANCE: "thamos-provenance-checker"}

# Unit lists Thoth's adviser reported in `report.pipeline`; 1.x clients require all six.
PIPELINE_UNIT_KINDS = ("boots", "pseudonyms", "sieves", "steps", "strides", "wraps")
DEPLOYMENT_NAME_VARIABLE = "THOTH_DEPLOYMENT_NAME"


# -- report items ------------------------------------------------------------------------------


# user[:password]@ in a URL: never in a message, a report or a log (the request keeps the real URL).
_URL_CREDENTIALS = re.compile(r"\b([a-z][a-z0-9+.-]*://)[^/@\s]+@", re.IGNORECASE)


def redact_urls(text: str) -> str:
    """``text`` with the credentials of every URL in it replaced by ***."""
    return _URL_CREDENTIALS.sub(r"\1***@", text) if "@" in text else text


def report_item(kind: str, message: str, link: str = "", package: str | None = None) -> dict[str, Any]:
    """A justification or stack_info entry: ``type`` (INFO/WARNING/ERROR), ``message``, ``link``."""
    item = {"type": kind, "message": redact_urls(message), "link": redact_urls(link or "")}
    if package is not None:
        item["package_name"] = package
    return item


def provenance_finding(
    kind: str,
    finding: str,
    justification: str,
    *,
    package_name: str | None = None,
    package_version: str | None = None,
    package_index: str | None = None,
    source: dict[str, Any] | None = None,
    link: str | None = None,
) -> dict[str, Any]:
    """One finding of a provenance check: ``type``, ``id`` (e.g. LOCK_HASH_MISMATCH) and the rest."""
    if isinstance(source, dict) and isinstance(source.get("url"), str):
        source = dict(source, url=redact_urls(source["url"]))
    return {
        "type": kind,
        "id": finding,
        "justification": redact_urls(justification),
        "package_name": package_name,
        "package_version": package_version,
        "package_index": package_index,
        "source": source,
        "link": redact_urls(link) if link else link,
    }


# -- results -----------------------------------------------------------------------------------


def project_def(
    requirements: dict[str, Any],
    requirements_locked: dict[str, Any],
    runtime_environment: dict[str, Any],
    constraints: list[Any],
) -> dict[str, Any]:
    """A resolved project as the Pipfile and Pipfile.lock hold it (the spec's ProjectDef)."""
    return {
        "requirements": requirements,
        "requirements_locked": requirements_locked,
        "runtime_environment": runtime_environment,
        "constraints": constraints,
    }


def product(
    project: dict[str, Any], score: float, justification: list[dict], nodes: list[str], edges: list[list[int]]
) -> dict[str, Any]:
    """One recommended stack; the fields the spec makes never-null are always filled."""
    return {
        "project": project,
        "score": score,
        "justification": justification,
        "advised_runtime_environment": None,
        "advised_manifest_changes": [],
        "dependency_graph": {"nodes": nodes, "edges": edges},
    }


def adviser_report(
    products: list[dict], stack_info: list[dict], pipeline: dict[str, Any], resolver_iterations: int
) -> dict[str, Any]:
    """The adviser's ``report``: products (best first, empty on failure) and stack_info."""
    return {
        "products": products,
        "stack_info": stack_info,
        "pipeline": pipeline,
        "resolver_iterations": resolver_iterations,
        "accepted_final_states_count": len(products),
    }


def result(parameters: dict[str, Any], report: Any, error_msg: str | None = None) -> dict[str, Any]:
    """The ``result`` part of an analysis document; an error message makes it a failed one."""
    return {
        "error": error_msg is not None,
        "error_msg": error_msg,
        "parameters": parameters,
        "report": report,
    }


def error_result(
    kind: str, parameters: dict[str, Any], message: str, gathered: Iterable[dict] = ()
) -> dict[str, Any]:
    """The result of a failed analysis, wherever it failed (input, resolution, index, worker).

    ``error`` is true and ``error_msg`` says why. ``gathered`` is what the run had found so far:
    an adviser's stack_info, which ends with the message as an ERROR item (clients list stack_info
    with the error); a provenance check's findings, kept as they are (the message is about the
    check, not a finding about the lock).
    """
    message = redact_urls(message)
    if kind == ADVISER:
        report: Any = adviser_report([], [*gathered, report_item("ERROR", message)], {}, 0)
    else:
        report = list(gathered)
    return result(parameters, report, message)


# -- the analysis document ---------------------------------------------------------------------


def deployment_name() -> str:
    """Name of this deployment as documents report it (THOTH_DEPLOYMENT_NAME, else the host name)."""
    return os.environ.get(DEPLOYMENT_NAME_VARIABLE) or f"thamos-userapi-{platform.node() or 'local'}"


def os_release() -> dict[str, str]:
    """The server's /etc/os-release as a mapping (empty where the system has none)."""
    try:
        return dict(platform.freedesktop_os_release())
    except OSError:
        return {}


def _distribution() -> dict[str, Any]:
    try:
        import distro

        return {
            "id": distro.id(),
            "version": distro.version(),
            "codename": distro.codename(),
            "like": distro.like(),
            "version_parts": dict(
                zip(("major", "minor", "build_number"), distro.version_parts(), strict=False)
            ),
        }
    except Exception:  # distro is optional detail; never fail an analysis over it
        return {"id": platform.system().lower(), "version": platform.release()}


def _python() -> dict[str, Any]:
    info = sys.version_info
    return {
        "major": info.major,
        "minor": info.minor,
        "micro": info.micro,
        "releaselevel": info.releaselevel,
        "serial": info.serial,
        "api_version": sys.api_version,
        "implementation_name": sys.implementation.name,
    }


def metadata(analysis_id: str, kind: str, parameters: dict[str, Any], started: datetime) -> dict[str, Any]:
    """Who produced a document, where and from what (Thoth's ``metadata`` block), finished now."""
    from adviser import __version__ as analyzer_version

    finished = datetime.now(timezone.utc)
    given = {
        "analyzer": ANALYZERS[kind],
        "analyzer_version": str(analyzer_version),
        "datetime": finished.isoformat(),
        "timestamp": int(finished.timestamp()),
        "document_id": analysis_id,
        "hostname": socket.gethostname(),
        "python": _python(),
        "distribution": _distribution(),
        "arguments": dict(parameters),
        "duration": round((finished - started).total_seconds(), 3),
        "os_release": os_release(),
        "thoth_deployment_name": deployment_name(),
    }
    return complete_metadata(given, analysis_id)


def analysis_document(
    kind: str, analysis_id: str, request: dict[str, Any], meta: dict[str, Any], outcome: dict[str, Any]
) -> dict[str, Any]:
    """The document of a finished analysis: ``metadata`` and ``result``, completed for 1.x clients."""
    return complete_document(kind, {"metadata": meta, "result": outcome}, analysis_id, request)


# -- what thamos 1.x clients require -------------------------------------------------------------
#
# The thamos 1.x line was generated by swagger-codegen from Thoth's spec. Its models refuse an
# answer in which a field that spec called required is missing or null ("Invalid value for
# `os_release`, must not be `None`"), so every such field has to be present with a value of the
# right type. The functions below fill those fields in without touching what is already there:
# they run when an analysis finishes and again when a stored document is read, so documents
# written before a field was added are completed too. compat/thoth1_client_check.py drives a real
# 1.x client against the server to keep this list honest.


def complete_distribution(distribution: Any) -> dict[str, Any]:
    """``metadata.distribution`` with every key 1.x reads, as strings."""
    given = distribution if isinstance(distribution, dict) else {}
    parts = given.get("version_parts") if isinstance(given.get("version_parts"), dict) else {}
    return {
        **given,
        **{key: str(given.get(key) or "") for key in ("id", "version", "codename", "like")},
        "version_parts": {
            **parts,
            **{key: str(parts.get(key) or "") for key in ("major", "minor", "build_number")},
        },
    }


def _timestamp(moment: Any) -> int:
    try:
        return int(datetime.fromisoformat(str(moment)).timestamp())
    except ValueError:
        return 0


def complete_metadata(metadata: Any, analysis_id: str) -> dict[str, Any]:
    """The document's ``metadata`` with every field 1.x requires non-null."""
    given = dict(metadata) if isinstance(metadata, dict) else {}
    moment = given.get("datetime") or ""
    python = given.get("python") if isinstance(given.get("python"), dict) else {}
    defaults: dict[str, Any] = {
        "analyzer": "thamos",
        "analyzer_version": "",
        "arguments": {},
        "datetime": moment,
        "document_id": analysis_id,
        "duration": 0,
        "hostname": "",
        "os_release": {},
        "thoth_deployment_name": "",
        "timestamp": _timestamp(moment),
    }
    completed = {**given, **{key: value for key, value in defaults.items() if given.get(key) is None}}
    completed["distribution"] = complete_distribution(given.get("distribution"))
    completed["python"] = {
        **python,
        **{key: python.get(key) or 0 for key in ("major", "minor", "micro", "serial", "api_version")},
        **{key: python.get(key) or "" for key in ("releaselevel", "implementation_name")},
    }
    return completed


def constraint_entry(line: Any) -> dict[str, str]:
    """One constraint line as Thoth's ``{name, version, markers}`` (markers empty when none)."""
    if isinstance(line, dict):
        return {
            "name": str(line.get("name") or ""),
            "version": str(line.get("version") or "*"),
            "markers": str(line.get("markers") or ""),
        }
    from packaging.requirements import InvalidRequirement, Requirement

    text = str(line).strip()
    try:
        requirement = Requirement(text)
    except InvalidRequirement:  # the adviser validated constraints already; keep the text visible
        return {"name": text, "version": "*", "markers": ""}
    return {
        "name": requirement.name,
        "version": str(requirement.specifier) or "*",
        "markers": str(requirement.marker) if requirement.marker else "",
    }


def _complete_project(project: Any) -> None:
    if isinstance(project, dict) and isinstance(project.get("constraints"), list):
        project["constraints"] = [constraint_entry(line) for line in project["constraints"]]


def _complete_adviser_result(result: dict[str, Any]) -> None:
    report = result.get("report")
    if not isinstance(report, dict):
        return
    pipeline = report.get("pipeline")
    if isinstance(pipeline, dict):
        for kind in PIPELINE_UNIT_KINDS:
            if not isinstance(pipeline.get(kind), list):
                pipeline[kind] = []
    for offered in report.get("products") or []:
        if isinstance(offered, dict):
            _complete_project(offered.get("project"))


def provenance_project(request: dict[str, Any]) -> dict[str, Any]:
    """The checked stack as a ProjectDef (1.x reads it from ``result.parameters.project``)."""
    stack = request.get("application_stack") if isinstance(request.get("application_stack"), dict) else {}
    try:
        requirements = load_toml(stack.get("requirements") or "", "Pipfile")
    except StackFileError:  # the check itself reports it
        requirements = {}
    try:
        locked = json.loads(stack.get("requirements_lock") or "{}")
    except ValueError:
        locked = {}
    return project_def(requirements, locked if isinstance(locked, dict) else {}, {}, [])


def complete_document(
    kind: str, document: dict[str, Any], analysis_id: str, request: dict[str, Any]
) -> dict[str, Any]:
    """``document`` (a finished analysis) with the fields 1.x clients require filled in; in place."""
    if not isinstance(document, dict) or not isinstance(document.get("result"), dict):
        return document
    document["metadata"] = complete_metadata(document.get("metadata"), analysis_id)
    result = document["result"]
    if not isinstance(result.get("parameters"), dict):
        result["parameters"] = {}
    if kind == ADVISER:
        _complete_adviser_result(result)
    else:
        if not isinstance(result.get("report"), list):
            result["report"] = []
        if not isinstance(result["parameters"].get("project"), dict):
            result["parameters"]["project"] = provenance_project(request)
    return document


# -- the server's small answers ------------------------------------------------------------------


def accepted(
    analysis_id: str, cached: bool, authenticated: bool, parameters: dict[str, Any]
) -> dict[str, Any]:
    """The 202 answer to a submitted advise or provenance check (AnalysisResponse)."""
    return {
        "analysis_id": analysis_id,
        "cached": cached,
        "authenticated": authenticated,
        "parameters": parameters,
    }


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).isoformat()


def status(
    analysis_id: str, state: str, started_at: float | None, finished_at: float | None, reason: str | None
) -> dict[str, Any]:
    """An analysis' status (AnalysisStatusResponse) from the store's state and epoch times.

    The store's ``succeeded`` is Thoth's ``terminated`` (exit code 0), ``failed`` keeps its name
    (exit code 1); pending and running runs have no exit code yet.
    """
    exit_code = {"succeeded": 0, "failed": 1}.get(state)
    return {
        "status": {
            "state": "terminated" if state == "succeeded" else state,
            "started_at": _iso(started_at),
            "finished_at": _iso(finished_at),
            "reason": reason,
            "exit_code": exit_code,
        },
        "parameters": {"analysis_id": analysis_id},
    }


def unfinished(analysis_id: str, state: str, status_answer: dict[str, Any]) -> dict[str, Any]:
    """The 202 answer to reading a document that is not ready (AnalysisUnfinishedResultResponse)."""
    return {
        "error": f"the analysis {analysis_id} has not finished yet ({state})",
        "parameters": {"analysis_id": analysis_id},
        "status": status_answer,
    }


def log_answer(analysis_id: str, text: str | None) -> dict[str, Any]:
    """An analysis' log (AnalysisLogResponse); null until something was logged."""
    return {"log": text or None, "parameters": {"analysis_id": analysis_id}}


def version_answer(api_version: str, service_version: str) -> dict[str, Any]:
    """The contract's version and the serving software's (ServiceVersion)."""
    return {"version": api_version, "service_version": service_version}


def error_answer(message: str, parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    """The body of every 4xx/5xx answer (AnalysisResponseError)."""
    return {"error": message, "parameters": parameters}
