"""The backend facade: the User API calls thamos makes (submit, poll and fetch analyses; list what
the backend knows), with its retry policy and deadlines.

All calls go through the generated ``swagger_client``; answers are read as plain JSON (so extra keys
the backend adds are kept). Transient failures (connection errors, 5xx answers) are retried
THAMOS_RETRY_ON_ERROR_COUNT times with THAMOS_RETRY_ON_ERROR_SLEEP seconds between tries; 4xx
answers are never retried. Optional query values are left out of the request when unset, never sent
as the string "None".
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from . import __version__
from .api_client import build_api_client
from .config import Configuration, config
from .exceptions import (
    AnalysisFailedError,
    AnalysisTimeoutError,
    BackendRequestError,
    BackendUnreachableError,
    BadInputError,
    ConfigurationError,
)
from .project_files import Stack

_LOGGER = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 2000.0
# Polling starts fast so a finished (or cached) analysis adds little latency, then backs off.
POLL_START = 0.05
POLL_MAX = 1.0
POLL_GROWTH = 1.5
# A single HTTP request never waits longer than this (the total deadline may cut it shorter).
REQUEST_TIMEOUT = 60.0
CONNECT_TIMEOUT = 10.0

ADVISER_PREFIX = "adviser"
PROVENANCE_PREFIX = "provenance-checker"

ProgressCallback = Callable[[str], None]


def _env_number(name: str, default: float, kind: type = float) -> Any:
    value = os.getenv(name)
    if value is None or not value.strip():
        return kind(default)
    try:
        number = kind(value)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number, got {value!r}") from None
    if number < 0:
        raise ConfigurationError(f"{name} must not be negative, got {value!r}")
    return number


def retry_count() -> int:
    return _env_number("THAMOS_RETRY_ON_ERROR_COUNT", 3, int)


def retry_sleep() -> float:
    return _env_number("THAMOS_RETRY_ON_ERROR_SLEEP", 3.0)


def default_timeout() -> float:
    return _env_number("THAMOS_TIMEOUT", DEFAULT_TIMEOUT)


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
        return (min(CONNECT_TIMEOUT, read), read)


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


class Backend:
    """One backend connection with thamos' retry policy."""

    def __init__(self, configuration: Configuration | None = None) -> None:
        self.configuration = configuration or config
        self._api_client = None
        self.base_url: str | None = None

    @property
    def api_client(self):
        if self._api_client is None:
            self._api_client = build_api_client(self.configuration)
            self.base_url = self._api_client.configuration.host
        return self._api_client

    def api(self, name: str):
        import swagger_client

        return getattr(swagger_client, name)(self.api_client)

    def call(
        self,
        api_name: str,
        method_name: str,
        *args: Any,
        deadline: Deadline | None = None,
        query: dict[str, Any] | None = None,
    ) -> Response:
        """Call one generated method; retry transient failures; map errors to thamos' exceptions."""
        import urllib3

        from swagger_client.exceptions import ApiException, ApiTypeError, ApiValueError

        deadline = deadline or Deadline(None)
        method = getattr(self.api(api_name), method_name)
        attempts = retry_count() + 1
        last_problem = ""
        for attempt in range(1, attempts + 1):
            if deadline.expired():
                raise AnalysisTimeoutError(self._timeout_message(deadline))
            try:
                raw = method(
                    *args,
                    **without_none(query or {}),
                    _preload_content=False,
                    _request_timeout=deadline.request_timeout(),
                )
            except (ApiTypeError, ApiValueError) as exc:
                raise BadInputError(f"invalid request: {exc}") from None
            except ApiException as exc:
                status = exc.status or 0
                server_text = _error_text(exc.body)
                if status == 0:  # TLS failure or a malformed answer: retrying will not help
                    raise BackendUnreachableError(_talk_failure(self.base_url, exc.reason)) from None
                if 400 <= status < 500:
                    hint = " (set THAMOS_TOKEN to the backend's token)" if status in (401, 403) else ""
                    raise BackendRequestError(
                        f"The backend rejected the request (HTTP {status}): {server_text or exc.reason}{hint}",
                        status=status,
                    ) from None
                last_problem = f"HTTP {status}" + (f": {server_text}" if server_text else "")
            except AttributeError as exc:
                # The generated client fails with AttributeError while decoding the body of its own
                # body-less ApiException (TLS failures); the real error is the exception's context.
                context = exc.__context__
                if isinstance(context, ApiException) and not context.status:
                    raise BackendUnreachableError(_talk_failure(self.base_url, context.reason)) from None
                raise
            except urllib3.exceptions.HTTPError as exc:
                last_problem = _describe_connection_error(exc)
            else:
                return Response(status=raw.status, data=_json_body(raw), headers=dict(raw.headers or {}))
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


_APIS = {
    ADVISER_PREFIX: ("AdviseApi", "get_advise_python", "get_advise_python_status", "get_advise_python_log"),
    PROVENANCE_PREFIX: (
        "ProvenanceApi",
        "get_provenance_python",
        "get_provenance_python_status",
        "get_provenance_python_log",
    ),
}


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
    api_name, _, status_method, _ = _APIS[analysis_kind(analysis_id)]
    response = backend.call(api_name, status_method, analysis_id)
    return response.data or {}


def get_analysis_log(analysis_id: str, backend: Backend | None = None, deadline: Deadline | None = None) -> str:
    backend = backend or Backend()
    api_name, _, _, log_method = _APIS[analysis_kind(analysis_id)]
    response = backend.call(api_name, log_method, analysis_id, deadline=deadline)
    return (response.data or {}).get("log") or ""


def get_analysis_results(analysis_id: str, backend: Backend | None = None) -> dict[str, Any] | None:
    """The finished document, or None while the analysis is still pending or running."""
    backend = backend or Backend()
    api_name, result_method, _, _ = _APIS[analysis_kind(analysis_id)]
    response = backend.call(api_name, result_method, analysis_id)
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
    """Poll until the document is ready (50 ms at first, backing off to 1 s).

    ``progress`` gets the state, with the sdist build in progress when the analysis log tells one
    (see thamos.progress: the log is read only for analyses running a while, every few seconds).
    """
    from .progress import LogWatch

    backend = backend or Backend()
    deadline = deadline or Deadline(default_timeout())
    api_name, result_method, _, _ = _APIS[analysis_kind(analysis_id)]
    pauses = poll_delays()
    # A status detail is not worth a long wait: its reads get a few seconds, never the whole deadline.
    watch = LogWatch(lambda: get_analysis_log(analysis_id, backend, Deadline(5.0))) if progress else None
    polls = 0
    while True:
        response = backend.call(api_name, result_method, analysis_id, deadline=deadline)
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
        pause = next(pauses)
        time.sleep(pause if remaining is None else min(pause, max(remaining, 0.01)))
        if deadline.expired():
            raise AnalysisTimeoutError(
                f"Analysis {analysis_id} did not finish within {deadline.seconds:g}s (THAMOS_TIMEOUT); "
                f"see `thamos status {analysis_id}`"
            )


def poll_delays() -> Iterator[float]:
    """Pauses between polls: 50 ms first, growing by half each time up to 1 s."""
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
    body = without_none(
        {
            "application_stack": stack.to_dict(),
            "runtime_environment": runtime_environment_payload(runtime_environment, recommendation_type),
            "labels": labels or None,
            "library_usage": library_usage,
            # Only in this request, never in a file: the [[source]] URLs expanded from the environment.
            "expanded_sources": expanded_sources or None,
            "local_packages": local_packages or None,
        }
    )
    query = {
        "recommendation_type": recommendation_type,
        "dev": dev or None,
        "force": force or None,
        "debug": debug or None,
        "origin": origin,
    }
    response = backend.call("AdviseApi", "post_advise_python", body, query=query, deadline=deadline)
    data = response.data or {}
    if not data.get("analysis_id"):
        raise BackendUnreachableError("The backend accepted the request but returned no analysis id")
    return Submitted(data["analysis_id"], bool(data.get("cached")), data.get("parameters") or {})


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
    body = stack.to_dict()
    query = {"force": force or None, "debug": debug or None, "origin": origin}
    response = backend.call("ProvenanceApi", "post_provenance_python", body, query=query, deadline=deadline)
    data = response.data or {}
    if not data.get("analysis_id"):
        raise BackendUnreachableError("The backend accepted the request but returned no analysis id")
    return Submitted(data["analysis_id"], bool(data.get("cached")), data.get("parameters") or {})



# ---------------------------------------------------------------------- listings
def _paged(backend: Backend, api_name: str, method_name: str, key: str, query: dict[str, Any]) -> list[Any]:
    """Fetch pages until an empty one (the backend answers an empty page past the end)."""
    items: list[Any] = []
    page = 0
    while True:
        response = backend.call(api_name, method_name, query={**query, "page": page})
        batch = (response.data or {}).get(key) or []
        if not batch:
            return items
        items.extend(batch)
        page += 1
        if page > 10_000:  # a misbehaving backend must not loop us forever
            return items


def list_environments(backend: Backend | None = None) -> list[dict[str, Any]]:
    backend = backend or Backend()
    response = backend.call("PythonPackagesApi", "list_python_environments")
    return (response.data or {}).get("environment") or []


def list_images(
    *,
    os_name: str | None = None,
    os_version: str | None = None,
    python_version: str | None = None,
    cuda_version: str | None = None,
    image_name: str | None = None,
    backend: Backend | None = None,
) -> list[dict[str, Any]]:
    backend = backend or Backend()
    query = {
        "os_name": os_name,
        "os_version": os_version,
        "python_version": python_version,
        "cuda_version": cuda_version,
        "image_name": image_name,
    }
    return _paged(backend, "ContainerImagesApi", "list_thoth_container_images", "container_images", query)


def list_indexes(backend: Backend | None = None) -> list[dict[str, Any]]:
    backend = backend or Backend()
    response = backend.call("PythonPackagesApi", "list_python_package_indexes")
    return (response.data or {}).get("indexes") or []


def whatprovides(import_name: str, backend: Backend | None = None) -> list[dict[str, Any]]:
    backend = backend or Backend()
    try:
        response = backend.call("PythonPackagesApi", "get_package_from_imported_packages", import_name)
    except BackendRequestError as exc:
        if exc.status == 404:  # "no known package provides it" is an empty answer, not a failure
            return []
        raise
    data = response.data or {}
    return data.get("package_names") or []


def get_versions(backend: Backend | None = None) -> dict[str, Any]:
    """Client version, and the server's (from /version, else the X-Thoth-Version header)."""
    backend = backend or Backend()
    versions: dict[str, Any] = {"client_version": __version__, "server_version": None, "api_version": None}
    response = backend.call("ServiceApi", "get_version")
    data = response.data or {}
    versions["server_version"] = data.get("service_version") or response.headers.get("X-Thoth-Version")
    versions["api_version"] = data.get("version")
    versions["host"] = backend.base_url
    return versions
