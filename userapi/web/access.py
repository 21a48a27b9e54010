"""Who may see the pages: with a server token, only a browser that logged in with it (a cookie) or a
client that sends it as a bearer token (TokenAuthMiddleware has already compared that one).

The cookie holds a keyed digest of the token, never the token itself: a stolen cookie does not
give the token away, and changing the server's token ends every session.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response

COOKIE = "thamos_web"
COOKIE_PATH = "/web/"
_PURPOSE = b"thamos web view session v1"


def session_value(token: str) -> str:
    return hmac.new(token.encode("utf-8"), _PURPOSE, hashlib.sha256).hexdigest()


def token_of(request: Request) -> str | None:
    return request.scope["state"]["userapi"].settings.token


def allowed(request: Request) -> bool:
    """True when the server has no token, or the request carries it (bearer or session cookie)."""
    token = token_of(request)
    if not token:
        return True
    if request.scope.get("state", {}).get("authenticated"):
        return True
    cookie = request.cookies.get(COOKIE)
    return bool(cookie) and hmac.compare_digest(cookie.encode(), session_value(token).encode())


def token_matches(request: Request, presented: str) -> bool:
    token = token_of(request)
    return bool(token) and hmac.compare_digest(presented.encode("utf-8"), token.encode("utf-8"))


async def form_fields(request: Request) -> dict[str, str]:
    """An urlencoded form body (the login form), first value per field."""
    body = (await request.body()).decode("utf-8", errors="replace")
    return {key: values[0] for key, values in parse_qs(body, keep_blank_values=True).items()}


def safe_next(target: str | None, base: str) -> str:
    """Where to go after logging in: a page of this view only (never another site)."""
    if target and target.startswith(base) and not target.startswith("//") and "\\" not in target:
        return target
    return base


def set_session(response: Response, request: Request) -> None:
    response.set_cookie(
        COOKIE,
        session_value(token_of(request) or ""),
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def clear_session(response: Response) -> None:
    response.delete_cookie(COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict")
