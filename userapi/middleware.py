"""ASGI middleware that runs before connexion: body size limit, token check, lenient query strings,
request bookkeeping for the idle timer.

These work on raw ASGI scopes so they apply to every route, including errors and the UI.
"""

from __future__ import annotations

import hmac
import json
import re
import time
from collections.abc import Callable
from urllib.parse import parse_qsl, urlencode

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adviser import wire

API_BASE = "/api/v1"

# Routes that submit analyses or read their results: these need the token when one is set.
_PROTECTED = re.compile(r"^/api/v1/(advise|provenance)/python(/.*)?$")


async def send_json(send: Send, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
    payload = json.dumps(body).encode("utf-8")
    raw_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
    ]
    raw_headers += [(key.lower().encode(), value.encode()) for key, value in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": payload})


class LenientQueryMiddleware:
    """Accept the query strings Thoth 1.x clients send.

    Those clients format Python values with str(): absent values arrive as the literal ``None``
    and booleans as ``True``/``False``. Dropping ``None`` and lower-casing booleans here lets
    the spec keep honest types (boolean, integer) and still accept those clients.
    """

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("query_string"):
            scope = dict(scope)
            scope["query_string"] = normalize_query(scope["query_string"])
        await self.app(scope, receive, send)


def normalize_query(raw: bytes) -> bytes:
    pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True)
    kept = []
    for key, value in pairs:
        if value == "None":
            continue
        if value in ("True", "False"):
            value = value.lower()
        kept.append((key, value))
    return urlencode(kept).encode("latin-1")


class BodyLimitMiddleware:
    """Answer 413 for bodies larger than the limit, before anything parses them.

    The body is read (up to the limit) and replayed to the app, so a client that sends no
    Content-Length or lies about it is stopped as well. An oversized body is read to its end
    (and thrown away) up to DRAIN_LIMIT, because most clients only read the answer once they
    have sent everything; beyond that the connection is closed.
    """

    DRAIN_LIMIT = 64 * 1024 * 1024

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None:
            try:
                declared_size = int(declared)
            except ValueError:
                await send_json(send, 400, wire.error_answer("the Content-Length header is not a number"))
                return
            if declared_size > self.DRAIN_LIMIT:
                await self._refuse(send, close=True)
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size <= self.max_bytes:
                chunks.append(chunk)
            elif size > self.DRAIN_LIMIT:
                await self._refuse(send, close=True)
                return
            if not message.get("more_body", False):
                break
        if size > self.max_bytes:
            await self._refuse(send)
            return
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send, close: bool = False) -> None:
        await send_json(
            send,
            413,
            wire.error_answer(
                f"the request body is larger than the {self.max_bytes} bytes this server accepts",
                {"max_request_bytes": self.max_bytes},
            ),
            {"connection": "close"} if close else None,
        )


class TokenAuthMiddleware:
    """Bearer-token check for submitting analyses and reading their results.

    The token is accepted from ``Authorization: Bearer <token>`` or ``X-Thoth-Token``. Whether
    the request carried the configured token is recorded in ``scope["state"]["authenticated"]``
    so the POST answer can tell the client.
    """

    def __init__(self, app: ASGIApp, token: str | None):
        self.app = app
        self.token = token

    def _presented(self, scope: Scope) -> str | None:
        authorization = _header(scope, b"authorization")
        if authorization:
            scheme, _, value = authorization.partition(" ")
            if scheme.lower() == "bearer" and value.strip():
                return value.strip()
        return _header(scope, b"x-thoth-token")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        presented = self._presented(scope)
        authenticated = bool(
            self.token and presented and hmac.compare_digest(presented.encode(), self.token.encode())
        )
        scope.setdefault("state", {})["authenticated"] = authenticated
        path = scope["path"]
        if self.token and not authenticated and _PROTECTED.match(path) and scope["method"] != "OPTIONS":
            message = (
                "this server requires a token: send it as 'Authorization: Bearer <token>'"
                if not presented
                else "the token sent is not valid for this server"
            )
            await send_json(send, 401, wire.error_answer(message), {"www-authenticate": "Bearer"})
            return
        await self.app(scope, receive, send)


class ActivityMiddleware:
    """Count requests in flight and note the time of the last one, for the idle timer."""

    def __init__(self, app: ASGIApp, on_activity: Callable[[int], None]):
        self.app = app
        self.on_activity = on_activity

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.on_activity(+1)
        try:
            await self.app(scope, receive, send)
        finally:
            self.on_activity(-1)


class ApiRootSlashMiddleware:
    """Serve ``/api/v1`` like ``/api/v1/`` (Thoth clients probe the base without a slash)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == API_BASE:
            scope = dict(scope)
            scope["path"] = API_BASE + "/"
            scope["raw_path"] = (API_BASE + "/").encode()
        await self.app(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


class ActivityClock:
    """Requests in flight and when the last one ended (monotonic seconds)."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.last = time.monotonic()

    def __call__(self, delta: int) -> None:
        self.in_flight += delta
        self.last = time.monotonic()
