"""Bad requests answered as such: a body without Content-Type (415), JSON nested too deeply (400),
text with a lone surrogate (400); and connexion's complaint about unknown query parameters, which
any client can trigger, logged at DEBUG and shortened instead of at ERROR."""

from __future__ import annotations

import json
import logging
from typing import Any

from connexion.exceptions import ProblemException
from connexion.lifecycle import ConnexionResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from adviser import wire
from userapi.middleware import API_BASE, send_json

MAX_DEPTH = 64  # no request of the API nests deeper than a few levels
QUERY_LOGGER = "connexion.decorators.parameter"
LOGGED_CHARS = 120


class ContentTypeMiddleware:
    """415 for an API request with a body but no Content-Type (its body would be ignored)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers") or ()) if scope["type"] == "http" else {}
        has_body = headers.get(b"content-length", b"0").strip() not in (b"0", b"") or b"transfer-encoding" in headers
        if (scope["type"] == "http" and scope["method"] in ("POST", "PUT", "PATCH") and has_body
                and scope["path"].startswith(API_BASE) and not headers.get(b"content-type", b"").strip()):
            message = "the request body needs the header Content-Type: application/json"
            await send_json(send, 415, wire.error_answer(message))
            return
        await self.app(scope, receive, send)


def check_body(value: Any, where: str = "body", depth: int = 0) -> None:
    """Raise a 400 ProblemException for JSON nested deeper than MAX_DEPTH or a string that is not
    valid Unicode (a lone surrogate such as \\ud800); the message says where."""
    if depth > MAX_DEPTH:
        raise ProblemException(status=400, title="Bad Request",
                               detail=f"the request body nests deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            bad = value[exc.start]
            raise ProblemException(status=400, title="Bad Request",
                                   detail=f"{where}: a lone surrogate (\\u{ord(bad):04x}) is not valid text") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            check_body(key, where, depth + 1)
            check_body(item, f"{where}.{key}" if isinstance(key, str) and key.isidentifier() else where, depth + 1)
    elif isinstance(value, list):
        for item in value:
            check_body(item, where, depth + 1)


def nested_answer(_request: Any, _exc: RecursionError) -> ConnexionResponse:
    """Connexion's JSON parsing or validation recursed too deep: the body nests too deeply."""
    return ConnexionResponse(status_code=400, mimetype="application/json", content_type="application/json",
                             body=json.dumps(wire.error_answer("the request body nests too deeply")))


class _QuietUnknownParameters(logging.Filter):
    """Connexion's "Function argument ... not defined in specification": DEBUG, shortened."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno <= logging.DEBUG:
            return True
        message = record.getMessage()
        if "not defined in specification" not in message:
            return True
        if not logging.getLogger(record.name).isEnabledFor(logging.DEBUG):
            return False
        record.msg, record.args = message[:LOGGED_CHARS] + ("..." if len(message) > LOGGED_CHARS else ""), ()
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


def quiet_unknown_parameters() -> None:
    logger = logging.getLogger(QUERY_LOGGER)
    if not any(isinstance(f, _QuietUnknownParameters) for f in logger.filters):
        logger.addFilter(_QuietUnknownParameters())
