"""The web view's routes: the list of analyses, an analysis (adviser or provenance), its live state,
its lock files, the difference of two analyses, a container image, login and the static files.

Pages are Jinja2 templates rendered by Starlette (autoescaping on: every string that came with a
request is printed as text). With a server token every route but the login form and the static
files answers only to a logged-in browser or a bearer token (see userapi.web.access).
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

from stackfiles.errors import StackFileError
from stackfiles.pipfile_lock import render_pipfile_lock
from stackfiles.requirements import render_requirements_txt
from userapi.runtime import WEB_BASE
from userapi.store import Analysis, is_analysis_id
from userapi.web import access, graph, views

BASE = WEB_BASE
HERE = Path(__file__).parent
STATIC = HERE / "static"
KINDS = {"advise": "adviser", "provenance": "provenance-checker"}
PATHS = {kind: path for path, kind in KINDS.items()}
PER_PAGE = 25
LOG_TAIL_LINES = 400
# No inline script and nothing from another origin; the graph library adds a style element.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:;"
        " connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

templates = Jinja2Templates(directory=str(HERE / "templates"))
Handler = Callable[[Request], Awaitable[Response]]


def _runtime(request: Request) -> Any:
    return request.scope["state"]["userapi"]


def _harden(response: Response) -> Response:
    for key, value in SECURITY_HEADERS.items():
        response.headers.setdefault(key, value)
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    common = {
        "base": BASE,
        "static": BASE + "static/",
        "protected": bool(access.token_of(request)),
        "paths": PATHS,
    }
    return _harden(templates.TemplateResponse(request, name, {**common, **context}, status_code=status))


def problem(request: Request, status: int, message: str) -> Response:
    return page(request, "problem.html", {"title": "Not shown", "message": message}, status)


def guarded(handler: Handler) -> Handler:
    """Answer only callers the server's token lets in; send browsers to the login form."""

    @functools.wraps(handler)
    async def check(request: Request) -> Response:
        if access.allowed(request):
            return await handler(request)
        if "text/html" in request.headers.get("accept", "") and request.method == "GET":
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return _harden(RedirectResponse(f"{BASE}login?next={quote(target, safe='')}", 303))
        answer = {"error": "this server requires a token: log in or send 'Authorization: Bearer <token>'"}
        return _harden(JSONResponse(answer, 401, headers={"WWW-Authenticate": "Bearer"}))

    return check


async def _analysis(request: Request, path_kind: str, analysis_id: str) -> Analysis | Response:
    kind = KINDS.get(path_kind)
    if kind is None or not is_analysis_id(analysis_id, kind):
        return problem(request, 404, f"{analysis_id!r} is not the id of an analysis of this kind")
    found = await asyncio.to_thread(_runtime(request).store.get, analysis_id)
    if found is None:
        return problem(request, 404, f"no analysis with id {analysis_id} is known to this server")
    return found


# Page numbers past this are past any store's end; larger ones would overflow the SQL offset.
MAX_PAGE = 1_000_000


def _int(value: str | None, default: int) -> int:
    try:
        return min(MAX_PAGE, max(1, int(value or default)))
    except ValueError:
        return default


# -- pages ---------------------------------------------------------------------------------------


@guarded
async def analyses_page(request: Request) -> Response:
    number = _int(request.query_params.get("page"), 1)
    rows, total = await asyncio.to_thread(_runtime(request).store.recent, PER_PAGE, (number - 1) * PER_PAGE)
    for row in rows:
        row["path"] = f"{BASE}{PATHS[row['kind']]}/{row['id']}"
        row["state_text"] = views.STATE_WORDS.get(row["state"], row["state"])
        row["created"] = views.when(row["created_at"])
        row["finished"] = views.when(row["finished_at"])
    pages = max(1, -(-total // PER_PAGE))
    context = {"title": "Analyses", "rows": rows, "page": number, "pages": pages, "total": total}
    return page(request, "analyses.html", context)


def _analysis_context(analysis: Analysis, log: str) -> dict[str, Any]:
    document = analysis.result or {}
    stack_info, justification = views.report_items(document)
    picture = graph.graph_of(document) if analysis.kind == "adviser" else {"nodes": [], "edges": []}
    return {
        "title": f"Analysis {analysis.id}",
        "analysis": analysis,
        "path_kind": PATHS[analysis.kind],
        "state_text": views.STATE_WORDS.get(analysis.state, analysis.state),
        "times": {
            "created": views.when(analysis.created_at),
            "started": views.when(analysis.started_at),
            "finished": views.when(analysis.finished_at),
        },
        "log": log,
        "error": views.error_text(analysis, document) if analysis.finished else "",
        "stack": views.stack_rows(views.locked_of(document)),
        "stack_info": stack_info,
        "justification": justification,
        "findings": views.findings(document) if analysis.kind == "provenance-checker" else [],
        "facts": views.facts(document, analysis),
        "graph": picture,
        "requires": graph.requires_table(picture),
        "graph_json": json.dumps(picture, separators=(",", ":")),
    }


@guarded
async def analysis_page(request: Request) -> Response:
    found = await _analysis(request, request.path_params["kind"], request.path_params["analysis_id"])
    if not isinstance(found, Analysis):
        return found
    store = _runtime(request).store
    log = await asyncio.to_thread(store.log_text, found.id)
    context = _analysis_context(found, log)
    if found.kind == "adviser" and found.finished:
        recent, _ = await asyncio.to_thread(store.recent, 20, 0, "adviser")
        context["others"] = [
            {"id": row["id"], "created": views.when(row["created_at"])}
            for row in recent
            if row["id"] != found.id and row["state"] == "succeeded"
        ]
    return page(request, "analysis.html", context)


@guarded
async def analysis_state(request: Request) -> Response:
    """The live status the analysis page polls while the analysis runs."""
    found = await _analysis(request, request.path_params["kind"], request.path_params["analysis_id"])
    if not isinstance(found, Analysis):
        return _harden(JSONResponse({"error": "no such analysis"}, found.status_code))
    log = await asyncio.to_thread(_runtime(request).store.log_text, found.id)
    tail = "\n".join(log.splitlines()[-LOG_TAIL_LINES:])
    answer = {
        "state": found.state,
        "state_text": views.STATE_WORDS.get(found.state, found.state),
        "finished": found.finished,
        "log": tail,
    }
    return _harden(JSONResponse(answer))


@guarded
async def lock_file(request: Request) -> Response:
    found = await _analysis(request, "advise", request.path_params["analysis_id"])
    if not isinstance(found, Analysis):
        return found
    locked = views.locked_of(found.result or {})
    if not locked:
        return problem(request, 404, f"the analysis {found.id} holds no advised lock")
    name = request.url.path.rsplit("/", 1)[-1]
    try:
        if name == "Pipfile.lock":
            text = render_pipfile_lock(locked)
        else:
            text = render_requirements_txt(locked, dev=bool(found.parameters.get("dev")))
    except StackFileError as exc:
        return problem(request, 500, str(exc))
    disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
    media = "application/json" if name == "Pipfile.lock" else "text/plain"
    return _harden(PlainTextResponse(text, headers=disposition, media_type=media))


@guarded
async def diff_page(request: Request) -> Response:
    """The lock of one analysis against another's (what `thamos diff` prints), as a table."""
    ids = [request.query_params.get("base", "").strip(), request.query_params.get("other", "").strip()]
    if not all(ids):
        return problem(request, 400, "name two analyses to compare: ?base=<analysis id>&other=<analysis id>")
    found = []
    for analysis_id in ids:
        analysis = await _analysis(request, "advise", analysis_id)
        if not isinstance(analysis, Analysis):
            return analysis
        if not views.locked_of(analysis.result or {}):
            return problem(request, 409, f"the analysis {analysis_id} holds no advised lock (yet)")
        found.append(analysis)
    base, other = found
    same = views.direct_names(base.result) == views.direct_names(other.result)
    context = {
        "title": "Difference of two analyses",
        "base": base,
        "other": other,
        "rows": views.lock_changes(base.result, other.result),
        "same_project": same,
    }
    return page(request, "diff.html", {**context, "base_id": base.id, "other_id": other.id})


@guarded
async def image_page(request: Request) -> Response:
    """A container image of the catalogue (thamos 1.x links `<base>image/<name>`)."""
    name = request.path_params["name"]
    images = [
        image
        for image in _runtime(request).container_images
        if name in (image.get("environment_name"), image.get("image_name"),
                    f"{image.get('image_name')}:{image.get('image_tag')}")
    ]
    if not images:
        return problem(request, 404, f"no container image named {name!r} is in this server's catalogue")
    rows = [views.flatten(image) for image in images]
    return page(request, "image.html", {"title": f"Container image {name}", "name": name, "images": rows})


async def login_form(request: Request) -> Response:
    target = access.safe_next(request.query_params.get("next"), BASE)
    return page(request, "login.html", {"title": "Log in", "next": target, "failed": False})


async def login(request: Request) -> Response:
    fields = await access.form_fields(request)
    target = access.safe_next(fields.get("next"), BASE)
    if not access.token_of(request):
        return _harden(RedirectResponse(target, 303))
    if not access.token_matches(request, fields.get("token", "")):
        return page(request, "login.html", {"title": "Log in", "next": target, "failed": True}, 401)
    response = RedirectResponse(target, 303)
    access.set_session(response, request)
    return _harden(response)


async def logout(request: Request) -> Response:
    response = RedirectResponse(BASE + "login", 303)
    access.clear_session(response)
    return _harden(response)


async def static_file(request: Request) -> Response:
    """Files under static/ only (no directory listing, nothing outside it)."""
    wanted = (STATIC / request.path_params["path"]).resolve()
    if STATIC.resolve() not in wanted.parents or not wanted.is_file() or wanted.suffix not in (".js", ".css"):
        return PlainTextResponse("no such file", 404)
    media = "text/javascript" if wanted.suffix == ".js" else "text/css"
    response = FileResponse(wanted, media_type=media)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "max-age=3600"
    return response


async def to_base(_request: Request) -> Response:
    return RedirectResponse(BASE, 308)


ROUTES: list[tuple[str, Handler, list[str]]] = [
    ("/web", to_base, ["GET"]),
    (BASE, analyses_page, ["GET"]),
    (BASE + "diff", diff_page, ["GET"]),
    (BASE + "login", login_form, ["GET"]),
    (BASE + "login", login, ["POST"]),
    (BASE + "logout", logout, ["POST"]),
    (BASE + "static/{path:path}", static_file, ["GET"]),
    (BASE + "image/{name:path}", image_page, ["GET"]),
    (BASE + "advise/{analysis_id}/Pipfile.lock", lock_file, ["GET"]),
    (BASE + "advise/{analysis_id}/requirements.txt", lock_file, ["GET"]),
    (BASE + "{kind}/{analysis_id}/state", analysis_state, ["GET"]),
    (BASE + "{kind}/{analysis_id}", analysis_page, ["GET"]),
]


def register(app: Any) -> None:
    """Add the web view's routes to the server's app (anything with Flask-style add_url_rule)."""
    for number, (rule, handler, methods) in enumerate(ROUTES):
        app.add_url_rule(rule, f"web-{number}-{handler.__name__}", handler, methods=methods)
