"""Operation handlers, one function per operationId of openapi/openapi.yaml.

They stay thin: parse parameters, talk to the store, the job runner or the adviser's
catalogue, and shape the answer the spec describes. Connexion validates both ways.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import parse_qs

from connexion import context

from adviser import __version__, wire
from adviser.policies import planned_recommendation_type
from stackfiles.flags import parse_flag
from userapi import listings
from userapi.jobs import fail_if_unfinished
from userapi.queue import QueueUnavailable
from userapi.request_checks import check_body
from userapi.runtime import ServerRuntime
from userapi.store import Analysis, StoreError, is_analysis_id
from userapi.withheld import split_request

LOGGER = logging.getLogger(__name__)

Answer = tuple[Any, int] | tuple[Any, int, dict[str, str]]


def _runtime() -> ServerRuntime:
    return context.scope["state"]["userapi"]


def _authenticated() -> bool:
    return bool(context.scope.get("state", {}).get("authenticated"))


def error(status: int, message: str, parameters: dict[str, Any] | None = None) -> Answer:
    return wire.error_answer(message, parameters), status


# -- service ---------------------------------------------------------------------------------


def _discovery_headers() -> dict[str, str]:
    runtime = _runtime()
    return {"X-Thoth-Version": __version__, "X-Thoth-Search-Ui-Url": runtime.search_ui_url(context.scope)}


def api_discovery(**_: Any) -> Answer:
    return _runtime().api_paths, 200, _discovery_headers()


def api_discovery_head(**_: Any) -> Answer:
    return None, 200, _discovery_headers()


def get_version(**_: Any) -> Answer:
    return wire.version_answer(_runtime().api_version, __version__), 200


def get_advisories(**_: Any) -> Answer:
    """The advisory data analyses use now (an unreadable database is reported, not an error)."""
    from userapi.advisories import advisory_info

    settings = _runtime().settings
    try:
        return advisory_info(settings), 200
    except ValueError as exc:
        info = {"source": None, "date": None, "age_days": None, "stale": False, "advisories": 0,
                "packages": 0, "signature": None, "configured": None, "refresh_interval": None}
        return dict(info, note=f"the advisory database cannot be read: {exc}"), 200


def list_prescriptions(**_: Any) -> Answer:
    """The prescription repositories analyses apply (a source that failed is reported in them)."""
    from userapi.prescriptions import listing

    return listing(_runtime().prescriptions), 200


# -- analyses --------------------------------------------------------------------------------


def _flag(params: dict[str, Any], name: str) -> bool:
    """A boolean query parameter. Connexion has converted it (True/False/None of Thoth 1.x clients
    are normalised by LenientQueryMiddleware) and answers another word with a 400 of its own."""
    return parse_flag(params.get(name), name=name)


def _submit(
    kind: str,
    request: dict[str, Any],
    decisive: dict[str, Any],
    extra: dict[str, Any],
    withheld: list[dict[str, str]] | None = None,
) -> Answer:
    """Store and queue an analysis, or answer with an identical recent one (unless force).

    `decisive` parameters change the outcome and form the cache key together with the body;
    `extra` ones (force, debug, origin) are kept with the analysis but do not split the cache.
    `withheld` (expanded index URLs, see userapi.withheld) go to the job only, never to the store;
    such an analysis is never answered from an earlier one (its credentials may differ).
    """
    runtime = _runtime()
    authenticated = _authenticated()
    parameters = {**decisive, **extra}
    if not extra.get("force") and withheld is None:
        earlier = runtime.store.find_reusable(kind, request, decisive, max_age=runtime.settings.result_ttl)
        if earlier is not None:
            return wire.accepted(earlier.id, True, authenticated, parameters), 202
    if withheld and not runtime.runner.carries_withheld:
        return error(400, WITHHELD_REFUSED, parameters)
    analysis = runtime.store.create(
        kind, request, parameters, cache_key=decisive, authenticated=authenticated
    )
    try:
        runtime.runner.submit(analysis.id, withheld)
    except QueueUnavailable as exc:
        _abandon(runtime, analysis.id, str(exc))
        raise  # answered 503 (userapi.app)
    LOGGER.info("accepted %s", analysis.id)
    return wire.accepted(analysis.id, False, authenticated, parameters), 202


WITHHELD_REFUSED = (
    "this server runs analyses on separate workers and does not pass them index credentials a "
    "client expanded from its environment: give the index its credentials on the workers "
    "(--known-index, settings file) and name it without them"
)


def _abandon(runtime: ServerRuntime, analysis_id: str, message: str) -> None:
    """Fail an analysis that could not be queued, so that nobody waits for it (if the store answers)."""
    try:
        fail_if_unfinished(runtime.store, analysis_id, f"the analysis could not be queued: {message}")
    except StoreError:
        pass


def _body(params: dict[str, Any], *names: str) -> dict[str, Any]:
    for name in (*names, "body"):
        if isinstance(params.get(name), dict):
            check_body(params[name])  # too deep or not valid Unicode: a 400 naming where
            return params[name]
    return {}


def _extra(params: dict[str, Any]) -> dict[str, Any]:
    return {
        "force": _flag(params, "force"),
        "debug": _flag(params, "debug"),
        "origin": params.get("origin"),
    }


def _recommendation_type(params: dict[str, Any], body: dict[str, Any]) -> str:
    """The adviser's plan (query > runtime environment > stable), known now for the answer and cache.

    connexion fills in the spec's default, so whether the query named it is read from the raw query.
    """
    query = parse_qs(context.scope.get("query_string", b"").decode("latin-1"))
    explicit = params.get("recommendation_type") if query.get("recommendation_type") else None
    return planned_recommendation_type(explicit, body.get("runtime_environment"))


def _stack_constraints_inside(body: dict[str, Any]) -> dict[str, Any]:
    """Thoth 1.x clients send constraints.txt beside the stack; the adviser reads it inside."""
    if "constraints" not in body:
        return body
    body = dict(body)
    constraints = body.pop("constraints")
    stack = body.get("application_stack")
    if constraints and isinstance(stack, dict) and not stack.get("constraints"):
        body["application_stack"] = {**stack, "constraints": constraints}
    return body


def post_advise_python(**params: Any) -> Answer:
    body, withheld = split_request(_stack_constraints_inside(_body(params, "input")))
    decisive = {
        "recommendation_type": _recommendation_type(params, body),
        "dev": _flag(params, "dev"),
        "count": params.get("count"),
        "limit": params.get("limit"),
    }
    return _submit("adviser", body, decisive, _extra(params), withheld)


def post_provenance_python(**params: Any) -> Answer:
    body = _body(params, "application_stack")
    if isinstance(body.get("application_stack"), dict):
        body = body["application_stack"]  # Thoth 1.x clients wrap the stack (ProvenanceInput)
    if not body.get("requirements"):
        return error(400, "a provenance check needs the Pipfile: requirements is empty")
    if not body.get("requirements_lock"):
        return error(400, "a provenance check needs the lock: requirements_lock is empty")
    return _submit("provenance-checker", {"application_stack": body}, {}, _extra(params))


def _lookup(kind: str, analysis_id: str) -> Analysis | Answer:
    if not is_analysis_id(analysis_id):
        return error(400, f"{analysis_id!r} is not an analysis id", {"analysis_id": analysis_id})
    if not is_analysis_id(analysis_id, kind):
        return error(
            400,
            f"{analysis_id} is not the id of a '{kind}' analysis (wrong prefix for this path)",
            {"analysis_id": analysis_id},
        )
    analysis = _runtime().store.get(analysis_id)
    if analysis is None:
        return error(404, f"no analysis with id {analysis_id} is known", {"analysis_id": analysis_id})
    return analysis


def _status(analysis: Analysis) -> dict[str, Any]:
    return wire.status(
        analysis.id, analysis.state, analysis.started_at, analysis.finished_at, analysis.reason
    )


def _document(kind: str, analysis_id: str) -> Answer:
    found = _lookup(kind, analysis_id)
    if not isinstance(found, Analysis):
        return found
    if not found.finished or found.result is None:
        return wire.unfinished(analysis_id, found.state, _status(found)), 202
    # Documents stored by an older server lack fields Thoth 1.x clients require: add them on read.
    return wire.complete_document(kind, found.result, analysis_id, found.request), 200


def _status_answer(kind: str, analysis_id: str) -> Answer:
    found = _lookup(kind, analysis_id)
    if not isinstance(found, Analysis):
        return found
    return _status(found), 200


def _log_answer(kind: str, analysis_id: str) -> Answer:
    found = _lookup(kind, analysis_id)
    if not isinstance(found, Analysis):
        return found
    return wire.log_answer(analysis_id, _runtime().store.log_text(analysis_id)), 200


async def _document_when_ready(kind: str, analysis_id: str, wait: float | None) -> Answer:
    """The document, or 202 once ``wait`` seconds have passed without it (see userapi.long_poll)."""
    answer = await asyncio.to_thread(_document, kind, analysis_id)
    if answer[1] == 202 and wait:
        await _runtime().finish_watch.wait(analysis_id, wait)
        answer = await asyncio.to_thread(_document, kind, analysis_id)
    return answer


async def get_advise_python(analysis_id: str, wait: float | None = None, **_: Any) -> Answer:
    return await _document_when_ready("adviser", analysis_id, wait)


def get_advise_python_status(analysis_id: str, **_: Any) -> Answer:
    return _status_answer("adviser", analysis_id)


def get_advise_python_log(analysis_id: str, **_: Any) -> Answer:
    return _log_answer("adviser", analysis_id)


async def get_provenance_python(analysis_id: str, wait: float | None = None, **_: Any) -> Answer:
    return await _document_when_ready("provenance-checker", analysis_id, wait)


def get_provenance_python_status(analysis_id: str, **_: Any) -> Answer:
    return _status_answer("provenance-checker", analysis_id)


def get_provenance_python_log(analysis_id: str, **_: Any) -> Answer:
    return _log_answer("provenance-checker", analysis_id)


# -- what the backend knows ----------------------------------------------------------------------


def list_python_environments(**_: Any) -> Answer:
    return {"environment": listings.environments(_runtime().settings)}, 200


def get_python_platform(**_: Any) -> Answer:
    return {"platform": listings.platforms(_runtime().settings)}, 200


def list_python_package_indexes(**_: Any) -> Answer:
    return {"indexes": listings.indexes(_runtime().settings)}, 200


def list_thoth_container_images(**params: Any) -> Answer:
    return listings.container_images(_runtime(), params)


def get_package_from_imported_packages(**params: Any) -> Answer:
    return listings.imported_packages(_runtime(), params)


def get_python_package_versions(**params: Any) -> Answer:
    return listings.package_versions(_runtime(), params)


def get_python_package_dependencies(**params: Any) -> Answer:
    return listings.package_dependencies(_runtime(), params)
