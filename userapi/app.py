"""The app factory: the spec served by connexion with validation both ways, plus the glue
(store, job runner, middleware, error answers, liveness and readiness)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from connexion import AsyncApp, ConnexionMiddleware
from connexion.exceptions import ProblemException
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from connexion.middleware import MiddlewarePosition
from connexion.options import SwaggerUIOptions
from connexion.resolver import Resolver
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from adviser import wire
from userapi import handlers, web
from userapi.advisories import log_snapshot, start_refresher
from userapi.backends import open_backends
from userapi.listings import load_container_images
from userapi.middleware import (
    API_BASE,
    ActivityMiddleware,
    ApiRootSlashMiddleware,
    BodyLimitMiddleware,
    LenientQueryMiddleware,
    TokenAuthMiddleware,
)
from userapi.prescriptions import start_prescriptions
from userapi.queue import QueueUnavailable
from userapi.request_checks import ContentTypeMiddleware, nested_answer, quiet_unknown_parameters
from userapi.runtime import ServerRuntime
from userapi.settings import ServerSettings
from userapi.spec import SPEC_PATH, load_spec
from userapi.store import StoreError, StoreUnavailable

LOGGER = logging.getLogger(__name__)


def _resolve_operation(operation_id: str) -> Callable[..., Any]:
    """operationId -> the function of that name in userapi.handlers; 501 when there is none."""
    name = operation_id.rsplit(".", 1)[-1]
    function = getattr(handlers, name, None)
    if function is not None:
        return function

    def not_implemented(**_: Any):
        return wire.error_answer(f"this server does not implement {name}"), 501

    not_implemented.__name__ = name
    return not_implemented


class RuntimeMiddleware:
    """Hand the server runtime to the handlers through the request scope."""

    def __init__(self, app: ASGIApp, runtime: ServerRuntime):
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope.setdefault("state", {})["userapi"] = self.runtime
        await self.app(scope, receive, send)


def _error_response(status: int, message: str, headers: dict[str, str] | None = None) -> ConnexionResponse:
    return ConnexionResponse(
        status_code=status,
        mimetype="application/json",
        content_type="application/json",
        body=json.dumps(wire.error_answer(message)),
        headers=headers or {},
    )


def _problem_answer(_request: ConnexionRequest, exc: ProblemException) -> ConnexionResponse:
    """Validation and routing problems as the spec's error body instead of problem+json."""
    message = exc.detail or exc.title or "the request cannot be processed"
    if exc.status >= 500:
        LOGGER.error("problem answer %s: %s", exc.status, message)
        message = "the server could not answer this request"
    return _error_response(exc.status, str(message), dict(exc.headers or {}))


def _http_answer(_request: ConnexionRequest, exc: HTTPException) -> ConnexionResponse:
    messages = {404: "no such path on this server", 405: "this method is not allowed on this path"}
    return _error_response(
        exc.status_code, messages.get(exc.status_code, str(exc.detail)), dict(exc.headers or {})
    )


def _undecodable_answer(_request: ConnexionRequest, _exc: UnicodeDecodeError) -> ConnexionResponse:
    return _error_response(400, "the request body is not UTF-8 encoded JSON")


def _unavailable_answer(_request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    """The database (store or queue) does not answer: 503, the client may try again shortly."""
    LOGGER.error("answering 503: %s", exc)
    message = "the analyses database does not answer; try again in a moment"
    return _error_response(503, message, {"Retry-After": "5"})


def _unexpected_answer(_request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    """Last resort: log the details, answer without internals."""
    LOGGER.error("unexpected error while answering a request", exc_info=exc)
    return _error_response(500, "the server hit an unexpected error; details are in its log")


async def _watch_idle(runtime: ServerRuntime, idle_timeout: float, on_idle: Callable[[], None]) -> None:
    """Call on_idle once nothing happened for idle_timeout seconds (no request, no analysis)."""
    clock = runtime.clock
    while True:
        await asyncio.sleep(min(1.0, idle_timeout / 4))
        busy = clock.in_flight > 0 or runtime.runner.busy() or runtime.store.count_unfinished() > 0
        if busy:
            clock.last = time.monotonic()
            continue
        if time.monotonic() - clock.last >= idle_timeout:
            LOGGER.info("idle for %.0f seconds: stopping", idle_timeout)
            on_idle()
            return


def create_app(
    settings: ServerSettings,
    *,
    on_idle: Callable[[], None] | None = None,
    spec_path: Path = SPEC_PATH,
) -> AsyncApp:
    """Build the ASGI app for `settings`. `on_idle` is called when idle_timeout elapses."""
    runtime, store_claim = _prepare_runtime(settings, spec_path)
    # Tokens are checked by TokenAuthMiddleware (the spec marks them optional); connexion would
    # warn once per operation that it has no verifier of its own for the bearer scheme.
    logging.getLogger("connexion.security").setLevel(logging.ERROR)
    quiet_unknown_parameters()  # any client can send unknown query parameters: not an ERROR line
    app = AsyncApp(__name__, specification_dir=spec_path.parent, lifespan=_lifespan(runtime, on_idle))
    _add_api(app, load_spec(spec_path))
    _add_probes(app, runtime)
    web.register(app)  # the web view of analyses at /web/
    _add_error_handlers(app)
    _add_middleware(app, runtime)
    app.runtime = runtime  # type: ignore[attr-defined]  # for run_server and tests
    app.store_claim = store_claim  # type: ignore[attr-defined]  # keeps the store's lock held
    return app


def _prepare_runtime(settings: ServerSettings, spec_path: Path) -> tuple[ServerRuntime, Any]:
    """The directories, the claimed store, the job runner and the spec's facts; and the store's claim."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.cache_dir.mkdir(parents=True, exist_ok=True)
    spec = load_spec(spec_path)
    # SQLite and the in-process pool, or PostgreSQL and the workers' queue (userapi.backends).
    store, runner, store_claim = open_backends(settings)
    runtime = ServerRuntime(
        settings=settings,
        store=store,
        runner=runner,
        api_version=str(spec.get("info", {}).get("version", "")),
        api_paths=sorted(API_BASE + path.rstrip("/") for path in spec.get("paths", {})),
        container_images=load_container_images(settings.container_images),
    )
    return runtime, store_claim


def _lifespan(runtime: ServerRuntime, on_idle: Callable[[], None] | None):
    """Start the job runner (and the idle watch) with the server; stop them and the store after it."""
    settings = runtime.settings

    @asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[dict[str, Any]]:
        # Prescriptions compiled (first start) or checked in the background, then kept fresh;
        # before the runner, so analyses left pending by the last stop have them.
        runtime.prescriptions = await asyncio.to_thread(start_prescriptions, settings)
        await asyncio.to_thread(runtime.runner.start)
        await asyncio.to_thread(log_snapshot, settings)
        refresher = start_refresher(settings)  # an --advisory-db URL is fetched and kept fresh
        watcher = None
        if settings.idle_timeout and on_idle is not None:
            watcher = asyncio.create_task(_watch_idle(runtime, settings.idle_timeout, on_idle))
        LOGGER.info("serving the User API at %s%s", settings.base_url, API_BASE)
        try:
            yield {"userapi": runtime}
        finally:
            if watcher is not None:
                watcher.cancel()
            if refresher is not None:
                refresher.stop()
            if runtime.prescriptions is not None:
                runtime.prescriptions.stop()
            runtime.runner.stop()
            runtime.store.close()

    return lifespan


def _add_api(app: AsyncApp, spec: dict[str, Any]) -> None:
    app.add_api(
        spec,
        base_path=API_BASE,
        resolver=Resolver(function_resolver=_resolve_operation),
        validate_responses=True,
        strict_validation=False,
        pythonic_params=False,
        swagger_ui_options=SwaggerUIOptions(
            swagger_ui=True, swagger_ui_path="/ui", spec_path="/openapi.json"
        ),
    )


def _add_probes(app: AsyncApp, runtime: ServerRuntime) -> None:
    """/liveness and /readiness, outside the API (for orchestrators and the embedded client)."""

    async def liveness(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "alive", "version": runtime.api_version})

    async def readiness(_request: Request) -> JSONResponse:
        try:
            await asyncio.to_thread(runtime.store.ping)
        except StoreError as exc:  # StoreUnavailable included
            LOGGER.error("not ready: %s", exc)
            return JSONResponse({"status": "not ready", "error": "the analyses store does not answer"}, 503)
        return JSONResponse({"status": "ready", "version": runtime.api_version})

    app.add_url_rule("/liveness", "liveness", liveness, methods=["GET"])
    app.add_url_rule("/readiness", "readiness", readiness, methods=["GET"])


def _add_error_handlers(app: AsyncApp) -> None:
    app.add_error_handler(ProblemException, _problem_answer)
    app.add_error_handler(HTTPException, _http_answer)
    app.add_error_handler(UnicodeDecodeError, _undecodable_answer)
    app.add_error_handler(RecursionError, nested_answer)
    app.add_error_handler(StoreUnavailable, _unavailable_answer)
    app.add_error_handler(QueueUnavailable, _unavailable_answer)
    app.add_error_handler(Exception, _unexpected_answer)


def _add_middleware(app: AsyncApp, runtime: ServerRuntime) -> None:
    settings = runtime.settings
    # Outermost first: each add at BEFORE_EXCEPTION goes after (inside) the previous ones.
    outer = MiddlewarePosition.BEFORE_EXCEPTION
    app.add_middleware(ActivityMiddleware, position=outer, on_activity=runtime.clock)
    app.add_middleware(
        CORSMiddleware,
        position=outer,
        allow_origins=list(settings.cors_origins),
        allow_methods=["GET", "HEAD", "POST", "OPTIONS"],
        allow_headers=["*"],
        expose_headers=["X-Thoth-Version", "X-Thoth-Search-Ui-Url"],
    )
    app.add_middleware(BodyLimitMiddleware, position=outer, max_bytes=settings.max_request_bytes)
    app.add_middleware(ContentTypeMiddleware, position=outer)
    app.add_middleware(TokenAuthMiddleware, position=outer, token=settings.token)
    app.add_middleware(LenientQueryMiddleware, position=outer)
    app.add_middleware(ApiRootSlashMiddleware, position=outer)
    app.add_middleware(RuntimeMiddleware, position=outer, runtime=runtime)


__all__ = ["create_app", "ConnexionMiddleware"]
