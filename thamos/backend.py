"""The backend facade: the User API calls thamos makes (submit, poll and fetch analyses; list what
the backend knows), with its retry policy and deadlines.

All calls go through the generated client's API classes (``Backend.apis``), with its models as
request bodies. Answers thamos only reads a field or two of (the analysis id of a submission, a log)
come back as the generated models; the documents thamos shows or stores as they are (analysis
results and statuses, listings, versions) are read as the JSON the backend sent, because Thoth
documents are loosely typed and a model would drop the fields it does not declare. Transient
failures (connection errors, 5xx answers) are retried THAMOS_RETRY_ON_ERROR_COUNT times with
THAMOS_RETRY_ON_ERROR_SLEEP seconds between tries; 4xx answers are never retried. Optional query
values are left out of the request when unset, never sent as the string "None".
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

from . import __version__, settings
from .api_client import build_api_client
from .config import Configuration, config
from .exceptions import (
    AnalysisFailedError,
    AnalysisTimeoutError,
    BackendRequestError,
    BackendUnreachableError,
    BadInputError,
)
from .progress import LogWatch
from .project_files import Stack
from .redact import redact_url_credentials

if TYPE_CHECKING:
    import swagger_client

_LOGGER = logging.getLogger(__name__)

# Polling starts fast so a finished (or cached) analysis adds little latency, then backs off.
# A result request may be held this long by the server until the document is ready (a long poll):
# the answer comes the moment the analysis ends, without polling.
LONG_POLL = 5.0
# A server that answers at once is polled: a small local analysis is done in ~50 ms, so every 10 ms
# at first, and the pause grows by a quarter each time, so a long analysis is polled once a second.
POLL_START = 0.01
POLL_MAX = 1.0
POLL_GROWTH = 1.25
# A single HTTP request never waits longer than this (the total deadline may cut it shorter).
REQUEST_TIMEOUT = 60.0

ADVISER_PREFIX = "adviser"
PROVENANCE_PREFIX = "provenance-checker"

ProgressCallback = Callable[[str], None]


def retry_count() -> int:
    return settings.count("THAMOS_RETRY_ON_ERROR_COUNT")


def retry_sleep() -> float:
    return settings.number("THAMOS_RETRY_ON_ERROR_SLEEP")


def default_timeout() -> float:
    return settings.number("THAMOS_TIMEOUT")


def without_none(values: dict[str, Any]) -> dict[str, Any]:
    """Drop unset optional values so they are omitted from the request instead of sent as "None"."""
    return {key: value for key, value in values.items() if value is not None}


def analysis_kind(analysis_id: str) -> str:
    """``adviser`` or ``provenance-checker``: the part of the id before its last two dashes."""
    parts = analysis_id.strip().rsplit("-", 2)
    if len(parts) != 3 or parts[0] not in (ADVISER_PREFIX, PROVENANCE_PREFIX):
        raise BadInputError(
            f"{analysis_id!r} is not an analysis id (expected adviser-... or provenance-checker-...)"
        )
    return parts[0]


@dataclass
class Response:
    status: int
    data: Any
    headers: dict[str, str] = field(default_factory=dict)


class Deadline:
    """A point in time after which waiting stops (None: no limit)."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.expires_at = None if not seconds else time.monotonic() + seconds

    def remaining(self) -> float | None:
        return None if self.expires_at is None else self.expires_at - time.monotonic()

    def expired(self) -> bool:
        remaining = self.remaining()
        return remaining is not None and remaining <= 0

    def request_timeout(self) -> tuple[float, float]:
        remaining = self.remaining()
        read = REQUEST_TIMEOUT if remaining is None else max(0.05, min(REQUEST_TIMEOUT, remaining))
        return (min(settings.seconds("THAMOS_API_CONNECTION_TIMEOUT"), read), read)


def _error_text(body: bytes | str | None) -> str | None:
    if not body:
        return None
    try:
        data = json.loads(body)
    except (ValueError, TypeError):
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
        return text.strip().splitlines()[0][:300] if text.strip() else None
    if isinstance(data, dict):
        for key in ("error", "detail", "title", "message"):
            if data.get(key):
                return str(data[key])
    return None


def _generated() -> Any:
    # swagger_client (with urllib3) takes about 0.12 s to import: only commands that talk to a backend pay it.
    import swagger_client

    return swagger_client


@dataclass(frozen=True)
class Apis:
    """The generated client's API classes, sharing one configured ``ApiClient``."""

    advise: swagger_client.AdviseApi
    provenance: swagger_client.ProvenanceApi
    python_packages: swagger_client.PythonPackagesApi
    container_images: swagger_client.ContainerImagesApi
    service: swagger_client.ServiceApi

    @classmethod
    def on(cls, api_client: swagger_client.ApiClient) -> Apis:
        generated = _generated()
        return cls(
            advise=generated.AdviseApi(api_client),
            provenance=generated.ProvenanceApi(api_client),
            python_packages=generated.PythonPackagesApi(api_client),
            container_images=generated.ContainerImagesApi(api_client),
            service=generated.ServiceApi(api_client),
        )


class _Retry(Exception):
    """A transient failure (connection error, 5xx answer): worth another try."""


class Backend:
    """One backend connection with thamos' retry policy.

    ``call`` runs one operation of the generated client (a ``*_with_http_info`` method of ``apis``):
    it retries connection errors and 5xx answers, bounds every request by the deadline, and turns
    every failure into a thamos exception.
    """

    def __init__(self, configuration: Configuration | None = None) -> None:
        self.configuration = configuration or config
        self._api_client = None
        self._apis: Apis | None = None
        self.base_url: str | None = None

    @property
    def api_client(self) -> swagger_client.ApiClient:
        if self._api_client is None:
            self._api_client = build_api_client(self.configuration)
            # For messages: the host without credentials (the client configuration keeps the real one).
            self.base_url = redact_url_credentials(self._api_client.configuration.host)
        return self._api_client

    @property
    def apis(self) -> Apis:
        """The typed API classes; the first use resolves the backend (and may start the embedded one)."""
        if self._apis is None:
            self._apis = Apis.on(self.api_client)
        return self._apis

    def call(
        self,
        operation: Callable[..., Any],
        *args: Any,
        deadline: Deadline | None = None,
        query: dict[str, Any] | None = None,
        typed: bool = False,
    ) -> Response:
        """Run ``operation``; ``typed``: the answer as the generated model, else as the JSON sent."""
        deadline = deadline or Deadline(None)
        attempts = retry_count() + 1
        for attempt in range(1, attempts + 1):
            if deadline.expired():
                raise AnalysisTimeoutError(self._timeout_message(deadline))
            try:
                return self._attempt(operation, args, without_none(query or {}), deadline, typed)
            except _Retry as retry:
                last_problem = str(retry)
            if attempt < attempts:
                pause = retry_sleep()
                remaining = deadline.remaining()
                if remaining is not None and remaining <= pause:
                    raise AnalysisTimeoutError(self._timeout_message(deadline, last_problem))
                _LOGGER.warning(
                    "%s failed (%s), retrying in %.1fs (%d/%d)",
                    self.base_url, last_problem, pause, attempt, attempts - 1,
                )
                time.sleep(pause)
        raise BackendUnreachableError(f"Backend at {self.base_url} is unreachable or failing: {last_problem}")

    def _attempt(
        self, operation: Callable[..., Any], args: tuple[Any, ...], query: dict[str, Any], deadline: Deadline,
        typed: bool,
    ) -> Response:
        """One request: its Response, or _Retry for a transient failure, or a thamos exception."""
        import urllib3  # 30 ms at the top of the module; here swagger_client has loaded it already

        errors = _generated().exceptions
        try:
            answer = operation(*args, **query, _preload_content=typed, _request_timeout=deadline.request_timeout())
        except (errors.ApiTypeError, errors.ApiValueError) as exc:
            raise BadInputError(f"invalid request: {exc}") from None
        except errors.ApiException as exc:
            raise self._http_failure(exc) from None
        except AttributeError as exc:
            # The generated client fails with AttributeError while decoding the body of its own
            # body-less ApiException (TLS failures); the real error is the exception's context.
            context = exc.__context__
            if isinstance(context, errors.ApiException) and not context.status:
                raise BackendUnreachableError(_talk_failure(self.base_url, context.reason)) from None
            raise
        except urllib3.exceptions.HTTPError as exc:
            raise _Retry(_describe_connection_error(exc)) from None
        except ValueError as exc:  # a generated model refused the answer (a required field missing...)
            raise BackendUnreachableError(f"The backend's answer does not match the User API: {exc}") from None
        if typed:
            data, status, headers = answer
            return Response(status=status, data=data, headers=dict(headers or {}))
        return Response(status=answer.status, data=_json_body(answer), headers=dict(answer.headers or {}))

    def _http_failure(self, exc: Any) -> Exception:
        """The thamos exception (or _Retry) for an ApiException of the generated client."""
        status = exc.status or 0
        server_text = _error_text(exc.body)
        if status == 0:  # TLS failure or a malformed answer: retrying will not help
            return BackendUnreachableError(_talk_failure(self.base_url, exc.reason))
        if 400 <= status < 500:
            hint = " (set THAMOS_TOKEN to the backend's token)" if status in (401, 403) else ""
            return BackendRequestError(
                f"The backend rejected the request (HTTP {status}): {server_text or exc.reason}{hint}",
                status=status,
            )
        return _Retry(f"HTTP {status}" + (f": {server_text}" if server_text else ""))

    @staticmethod
    def _timeout_message(deadline: Deadline, problem: str = "") -> str:
        extra = f" (last error: {problem})" if problem else ""
        return f"Timed out after {deadline.seconds:g}s (THAMOS_TIMEOUT){extra}"


def _json_body(raw: Any) -> Any:
    data = raw.data
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:
        raise BackendUnreachableError("The backend answered with something that is not JSON") from None


_SSL_SOURCE_RE = re.compile(r"\s*\(_ssl\.c:\d+\)")


def _talk_failure(base_url: str | None, reason: Any) -> str:
    """One line for a failure the generated client reports without an HTTP status (mostly TLS)."""
    text = _SSL_SOURCE_RE.sub("", " ".join(str(reason).split()))
    where = urlsplit(base_url or "").netloc or base_url
    lowered = text.lower()
    if "certificate verify failed" in lowered or "hostname mismatch" in lowered or "doesn't match" in lowered:
        cause = text.split("certificate verify failed:", 1)[-1].strip() if "verify failed:" in text else text
        return (
            f"The TLS certificate of {where} cannot be verified ({cause}): set tls_ca_bundle in .thoth.yaml "
            "to the CA certificate (PEM) that signed it, or tls_verify: false to skip the check"
        )
    if "ssl" in lowered or "tls" in lowered:
        return (
            f"TLS connection to {where} failed ({text}); check the host's scheme and port, and tls_verify "
            "and tls_ca_bundle in .thoth.yaml"
        )
    return f"Cannot talk to {base_url}: {text}"


def _describe_connection_error(exc: Exception) -> str:
    reason = getattr(exc, "reason", None) or exc
    text = str(reason)
    lowered = text.lower()
    if type(reason).__name__ == "NameResolutionError" or "name or service not known" in lowered \
            or "failed to resolve" in lowered or "nodename nor servname" in lowered:
        return "the host name cannot be resolved"
    if "connection refused" in lowered:
        return "connection refused"
    if "timed out" in lowered:
        return "request timed out"
    if "remote end closed connection" in lowered or "connection aborted" in lowered:
        return "the connection was closed without an answer"
    return text.split(": ", 1)[-1][:200]


class AnalysisOperations(NamedTuple):
    """The generated operations on one kind of analysis (``*_with_http_info``: status and headers too)."""

    result: Callable[..., Any]
    status: Callable[..., Any]
    log: Callable[..., Any]


def analysis_operations(backend: Backend, analysis_id: str) -> AnalysisOperations:
    """The operations for the analysis' kind; a malformed id is refused before the backend is reached."""
    if analysis_kind(analysis_id) == ADVISER_PREFIX:
        advise = backend.apis.advise
        return AnalysisOperations(advise.get_advise_python_with_http_info,
                                  advise.get_advise_python_status_with_http_info,
                                  advise.get_advise_python_log_with_http_info)
    provenance = backend.apis.provenance
    return AnalysisOperations(provenance.get_provenance_python_with_http_info,
                              provenance.get_provenance_python_status_with_http_info,
                              provenance.get_provenance_python_log_with_http_info)


def _model(model_class: Any, values: dict[str, Any]) -> Any:
    """A generated model from a JSON object; keys the model does not declare are left out (the User API
    ignores them)."""
    return model_class(**{attribute: values[key] for attribute, key in model_class.attribute_map.items()
                          if key in values})


def _request_model(build: Callable[[], Any]) -> Any:
    """Build a request body; a value the generated model refuses is bad input, named by the model."""
    try:
        return build()
    except (TypeError, ValueError) as exc:
        raise BadInputError(f"invalid request: {exc}") from None


def runtime_environment_payload(runtime_environment: dict[str, Any], recommendation_type: str | None) -> dict[str, Any]:
    """The runtime environment as sent: the configured entry without client-only keys."""
    payload = {key: value for key, value in runtime_environment.items() if key != "labels"}
    for key, value in list(payload.items()):
        if value == "":
            payload[key] = None  # `base_image: ''` in a config means "none"
    if recommendation_type:
        payload["recommendation_type"] = recommendation_type
    return payload


def get_analysis_status(analysis_id: str, backend: Backend | None = None) -> dict[str, Any]:
    backend = backend or Backend()
    response = backend.call(analysis_operations(backend, analysis_id).status, analysis_id)
    return response.data or {}


def get_analysis_log(analysis_id: str, backend: Backend | None = None, deadline: Deadline | None = None) -> str:
    backend = backend or Backend()
    response = backend.call(analysis_operations(backend, analysis_id).log, analysis_id, deadline=deadline, typed=True)
    return (response.data.log if response.data is not None else None) or ""


def get_analysis_results(analysis_id: str, backend: Backend | None = None) -> dict[str, Any] | None:
    """The finished document, or None while the analysis is still pending or running."""
    backend = backend or Backend()
    response = backend.call(analysis_operations(backend, analysis_id).result, analysis_id)
    if response.status == 202:
        state = (((response.data or {}).get("status") or {}).get("status") or {}).get("state")
        if state == "failed":
            reason = (((response.data or {}).get("status") or {}).get("status") or {}).get("reason")
            raise AnalysisFailedError(f"Analysis {analysis_id} failed on the backend: {reason or 'no reason given'}")
        return None
    return response.data or {}


def wait_for_results(
    analysis_id: str,
    *,
    backend: Backend | None = None,
    deadline: Deadline | None = None,
    progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    """Ask until the document is ready: each request may be held by the server (LONG_POLL); a server
    that answers at once is polled every 10 ms at first, backing off to 1 s.

    ``progress`` gets the state, with the sdist build in progress when the analysis log tells one
    (see thamos.progress: the log is read only for analyses running a while, every few seconds).
    """
    backend = backend or Backend()
    deadline = deadline or Deadline(default_timeout())
    result = analysis_operations(backend, analysis_id).result
    pauses = poll_delays()
    # A status detail is not worth a long wait: its reads get a few seconds, never the whole deadline.
    watch = LogWatch(lambda: get_analysis_log(analysis_id, backend, Deadline(5.0))) if progress else None
    polls = 0
    while True:
        hold = _long_poll(deadline)
        asked = time.monotonic()
        response = backend.call(result, analysis_id, deadline=deadline, query={"wait": hold or None})
        polls += 1
        if response.status != 202:
            _LOGGER.debug("Analysis %s finished after %d polls", analysis_id, polls)
            return response.data or {}
        status = ((response.data or {}).get("status") or {}).get("status") or {}
        if status.get("state") == "failed":
            raise AnalysisFailedError(
                f"Analysis {analysis_id} failed on the backend: {status.get('reason') or 'no reason given'}"
            )
        if progress and watch is not None:
            progress(watch.describe(status.get("state") or "pending"))
        remaining = deadline.remaining()
        if remaining is not None and remaining <= 0:
            raise AnalysisTimeoutError(
                f"Analysis {analysis_id} did not finish within {deadline.seconds:g}s (THAMOS_TIMEOUT); "
                f"see `thamos status {analysis_id}`"
            )
        if hold and time.monotonic() - asked >= hold / 2:
            continue  # the server held the request (a long poll): ask again at once
        # A server without long polls (thamos before 2.0, Thoth) answered at once: pause.
        pause = next(pauses)
        time.sleep(pause if remaining is None else min(pause, max(remaining, 0.01)))
        if deadline.expired():
            raise AnalysisTimeoutError(
                f"Analysis {analysis_id} did not finish within {deadline.seconds:g}s (THAMOS_TIMEOUT); "
                f"see `thamos status {analysis_id}`"
            )


def _long_poll(deadline: Deadline) -> float:
    """Seconds the server may hold a result request (its `wait`): LONG_POLL, less near the deadline."""
    remaining = deadline.remaining()
    if remaining is None:
        return LONG_POLL
    return round(max(0.0, min(LONG_POLL, remaining - 1.0)), 2)


def poll_delays() -> Iterator[float]:
    """Pauses between polls: 10 ms first, growing by a quarter each time up to 1 s."""
    pause = POLL_START
    while True:
        yield pause
        pause = min(POLL_MAX, pause * POLL_GROWTH)


@dataclass
class Submitted:
    analysis_id: str
    cached: bool
    parameters: dict[str, Any]


def submit_advise(
    stack: Stack,
    runtime_environment: dict[str, Any],
    *,
    recommendation_type: str | None = None,
    dev: bool = False,
    labels: dict[str, str] | None = None,
    force: bool = False,
    debug: bool = False,
    origin: str | None = None,
    library_usage: dict[str, Any] | None = None,
    backend: Backend | None = None,
    deadline: Deadline | None = None,
    expanded_sources: list[dict[str, str]] | None = None,
    local_packages: list[dict[str, Any]] | None = None,
) -> Submitted:
    backend = backend or Backend()
    body = _request_model(lambda: advise_input(
        stack,
        runtime_environment_payload(runtime_environment, recommendation_type),
        labels=labels,
        library_usage=library_usage,
        expanded_sources=expanded_sources,
        local_packages=local_packages,
    ))
    query = {
        "recommendation_type": recommendation_type,
        "dev": dev or None,
        "force": force or None,
        "debug": debug or None,
        "origin": origin,
    }
    response = backend.call(backend.apis.advise.post_advise_python_with_http_info, body, query=query,
                            deadline=deadline, typed=True)
    return _submitted(response)


def submit_provenance_check(
    stack: Stack,
    *,
    force: bool = False,
    debug: bool = False,
    origin: str | None = None,
    backend: Backend | None = None,
    deadline: Deadline | None = None,
) -> Submitted:
    backend = backend or Backend()
    generated = _generated()
    body = _request_model(lambda: generated.ProvenanceInput(  # the stack wrapped, as the spec requires
        application_stack=_model(generated.ProvenanceStack, stack.to_dict())))
    query = {"force": force or None, "debug": debug or None, "origin": origin}
    response = backend.call(backend.apis.provenance.post_provenance_python_with_http_info, body, query=query,
                            deadline=deadline, typed=True)
    return _submitted(response)


def _submitted(response: Response) -> Submitted:
    answer = response.data  # an AnalysisResponse
    if answer is None or not answer.analysis_id:
        raise BackendUnreachableError("The backend accepted the request but returned no analysis id")
    return Submitted(answer.analysis_id, bool(answer.cached), answer.parameters or {})


def advise_input(
    stack: Stack,
    runtime_environment: dict[str, Any],
    *,
    labels: dict[str, str] | None = None,
    library_usage: dict[str, Any] | None = None,
    expanded_sources: list[dict[str, str]] | None = None,
    local_packages: list[dict[str, Any]] | None = None,
) -> swagger_client.AdviseInput:
    """The body of an advise request as the generated model (unset values are left out of the JSON)."""
    models = _generated()
    environment = dict(runtime_environment)
    for key, model_class in (("operating_system", models.OperatingSystem), ("hardware", models.Hardware)):
        if isinstance(environment.get(key), dict):
            environment[key] = _model(model_class, environment[key])
    return models.AdviseInput(
        application_stack=_model(models.PythonStack, stack.to_dict()),
        runtime_environment=_model(models.RuntimeEnvironment, environment),
        labels=labels or None,
        library_usage=_model(models.LibraryUsage, library_usage) if library_usage else None,
        # Only in this request, never in a file: the [[source]] URLs expanded from the environment.
        expanded_sources=[_model(models.ExpandedSource, item) for item in expanded_sources or []] or None,
        local_packages=[_model(models.LocalPackage, item) for item in local_packages or []] or None,
    )



# ---------------------------------------------------------------------- listings
# The listings are read as the JSON the backend sent: the commands print its items as they are, and a
# Thoth backend's items carry fields the generated models do not declare (they would be dropped).
def _paged(backend: Backend, operation: Callable[..., Any], key: str, query: dict[str, Any]) -> list[Any]:
    """Fetch pages until an empty one (the backend answers an empty page past the end)."""
    items: list[Any] = []
    page = 0
    while True:
        response = backend.call(operation, query={**query, "page": page})
        batch = (response.data or {}).get(key) or []
        if not batch:
            return items
        items.extend(batch)
        page += 1
        if page > 10_000:  # a misbehaving backend must not loop us forever
            return items


def list_environments(backend: Backend | None = None) -> list[dict[str, Any]]:
    backend = backend or Backend()
    response = backend.call(backend.apis.python_packages.list_python_environments_with_http_info)
    return (response.data or {}).get("environment") or []


def list_images(
    *,
    os_name: str | None = None,
    os_version: str | None = None,
    python_version: str | None = None,
    cuda_version: str | None = None,
    image_name: str | None = None,
    library_name: str | None = None,
    symbol: str | None = None,
    package_name: str | None = None,
    rpm_package_name: str | None = None,
    backend: Backend | None = None,
) -> list[dict[str, Any]]:
    """Container images; every filter is a query parameter, as thamos 1.x sent them."""
    backend = backend or Backend()
    query = {
        "os_name": os_name,
        "os_version": os_version,
        "python_version": python_version,
        "cuda_version": cuda_version,
        "image_name": image_name,
        "library_name": library_name,
        "symbol": symbol,
        "package_name": package_name,
        "rpm_package_name": rpm_package_name,
    }
    operation = backend.apis.container_images.list_thoth_container_images_with_http_info
    return _paged(backend, operation, "container_images", query)


def list_indexes(backend: Backend | None = None) -> list[dict[str, Any]]:
    backend = backend or Backend()
    response = backend.call(backend.apis.python_packages.list_python_package_indexes_with_http_info)
    return (response.data or {}).get("indexes") or []


def whatprovides(import_name: str, backend: Backend | None = None) -> list[dict[str, Any]]:
    backend = backend or Backend()
    try:
        operation = backend.apis.python_packages.get_package_from_imported_packages_with_http_info
        response = backend.call(operation, import_name)
    except BackendRequestError as exc:
        if exc.status == 404:  # "no known package provides it" is an empty answer, not a failure
            return []
        raise
    data = response.data or {}
    return data.get("package_names") or []


def get_advisories(backend: Backend | None = None) -> dict[str, Any]:
    """The advisory data the backend uses (GET /advisories): source, date, staleness, counts."""
    backend = backend or Backend()
    response = backend.call(backend.apis.service.get_advisories_with_http_info)
    return dict(response.data or {})


def list_prescriptions(backend: Backend | None = None) -> dict[str, Any]:
    """The prescription repositories the backend applies (GET /prescriptions)."""
    backend = backend or Backend()
    response = backend.call(backend.apis.service.list_prescriptions_with_http_info)
    return dict(response.data or {})


def get_versions(backend: Backend | None = None) -> dict[str, Any]:
    """Client version, and the server's (from /version, else the X-Thoth-Version header).

    Read as JSON: a Thoth backend's /version may lack ``service_version``, which the generated model
    requires; the header is the fallback for exactly those."""
    backend = backend or Backend()
    versions: dict[str, Any] = {"client_version": __version__, "server_version": None, "api_version": None}
    response = backend.call(backend.apis.service.get_version_with_http_info)
    data = response.data or {}
    versions["server_version"] = data.get("service_version") or response.headers.get("X-Thoth-Version")
    versions["api_version"] = data.get("version")
    versions["host"] = backend.base_url
    return versions
