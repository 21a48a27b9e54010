"""A real Python package index for tests, served over HTTP on 127.0.0.1.

``build_index(dists, root=...)`` builds wheels and sdists (see :mod:`tests.support.dist_builder`)
and starts an :class:`IndexServer` in a background thread. It speaks the simple repository API:

* ``GET /simple/`` lists projects; ``GET /simple/<project>/`` lists files, as PEP 691 JSON when
  the Accept header asks for ``application/vnd.pypi.simple.v1+json`` and as PEP 503 HTML
  otherwise (api-version 1.1: yanked, requires-python, core-metadata, size, upload-time,
  versions). Names that are not normalized answer 301 to the normalized page; unknown ones 404.
* ``GET/HEAD /files/<project>/<filename>`` serves the file with HTTP range support
  (``bytes=a-b``, ``bytes=a-``, ``bytes=-n``; 206 or 416), and ``<filename>.metadata`` the PEP 658
  core metadata of wheels whose Dist has ``metadata_file=True``.

Failure modes for tests: ``delay`` (seconds slept before every answer), ``fail_status`` (every
request answers that status), ``range_requests=False`` (ranges ignored, full 200 answers). All can
be changed while the server runs. Every request is recorded in ``server.requests``.
``set_redirect(other.url)`` makes the index an alias of another one (301 to the same page there).

``basic_auth=(user, password)`` protects every path with HTTP basic authentication (401 with a
``WWW-Authenticate`` challenge otherwise), as private indexes do. ``add_wheel_files(paths)``
serves wheels built elsewhere (e.g. setuptools, for build-requirement installs) beside the Dists.

File URLs in the pages are relative (``../../files/<project>/<filename>``) unless
``absolute_urls=True``: clients must resolve them against the page URL, as the simple API allows.

``SAMPLE_DISTS`` (defined and documented in :mod:`tests.support.sample_index`, re-exported here) is
the graph behind the ``sample_index`` fixture.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import html
import json
import re
import shutil
import socket
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import NamedTuple
from urllib.parse import quote, unquote, urlsplit

from packaging.version import Version

from tests.support.dist_builder import BuiltFile, Dist, build_dist_files, normalize_name

__all__ = [
    "Dist",
    "BuiltFile",
    "IndexServer",
    "RequestRecord",
    "ServedFile",
    "build_index",
    "normalize_name",
    "SAMPLE_DISTS",
]

JSON_CONTENT_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_CONTENT_TYPE = "application/vnd.pypi.simple.v1+html"
API_VERSION = "1.1"
# Default upload times: the oldest release of a project on this date, each later one 30 days on.
UPLOAD_EPOCH = dt.datetime(2022, 1, 3, 9, 0, 0, tzinfo=dt.timezone.utc)


class RequestRecord(NamedTuple):
    """One request the server saw: ``(method, path, range header or None)``."""

    method: str
    path: str
    range: str | None


@dataclass(frozen=True)
class ServedFile:
    """A file as one index serves it: the built file plus per-index facts (URL, upload time)."""

    built: BuiltFile
    project: str  # normalized project name
    upload_time: str

    @property
    def dist(self) -> Dist:
        return self.built.dist

    @property
    def filename(self) -> str:
        return self.built.filename

    @property
    def sha256(self) -> str:
        return self.built.sha256

    @property
    def size(self) -> int:
        return self.built.size

    @property
    def path(self) -> Path:
        return self.built.path

    @property
    def serves_metadata(self) -> bool:
        return self.built.kind == "wheel" and self.dist.metadata_file

    @property
    def url_path(self) -> str:
        return f"/files/{self.project}/{quote(self.filename)}"


# ---------------------------------------------------------------- content negotiation


def _parse_accept(header: str | None) -> list[tuple[str, float]]:
    if not header:
        return []
    accepted = []
    for item in header.split(","):
        media_type, *params = (piece.strip() for piece in item.split(";"))
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media_type:
            accepted.append((media_type.lower(), quality))
    return accepted


def _choose_format(accept: str | None, json_api: bool, html_api: bool) -> str | None:
    """Pick "json", "html" (+ the HTML content type) or None (nothing acceptable: 406)."""
    if not json_api:
        return "html"  # an HTML-only index ignores Accept, as old indexes do
    offers = {
        JSON_CONTENT_TYPE: "json",
        "application/vnd.pypi.simple.latest+json": "json",
    }
    if html_api:
        offers.update(
            {
                HTML_CONTENT_TYPE: "html",
                "application/vnd.pypi.simple.latest+html": "html",
                "text/html": "html",
            }
        )
    accepted = _parse_accept(accept)
    if not accepted:
        return "html" if html_api else "json"
    best: tuple[float, int, str] | None = None
    for media_type, quality in accepted:
        if quality <= 0:
            continue
        if media_type in ("*/*", "application/*", "text/*"):
            fallback = "html" if html_api and media_type != "application/*" else "json"
            candidate = (quality, 0, fallback)  # wildcards lose ties against explicit types
        elif media_type in offers:
            candidate = (quality, 1, offers[media_type])
        else:
            continue
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    return best[2] if best else None


# ---------------------------------------------------------------- range requests


def _parse_range(header: str, size: int) -> tuple[int, int] | None | str:
    """Return (first, last) inclusive, None to ignore the header, or "unsatisfiable"."""
    match = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", header)
    if not match or (not match.group(1) and not match.group(2)):
        return None  # malformed or multi-range: a server may answer the whole file
    first_text, last_text = match.groups()
    if not first_text:  # suffix range: the last n bytes
        length = int(last_text)
        if length == 0 or size == 0:
            return "unsatisfiable"
        return max(0, size - length), size - 1
    first = int(first_text)
    if last_text and int(last_text) < first:
        return None  # invalid range: ignored, the whole file is sent
    if first >= size:
        return "unsatisfiable"
    last = int(last_text) if last_text else size - 1
    return first, min(last, size - 1)


# ---------------------------------------------------------------- page rendering


def _json_file(served: ServedFile, url: str) -> dict:
    metadata: dict | bool = False
    if served.serves_metadata:
        metadata = {"sha256": served.built.metadata_sha256}
    yanked = served.dist.yanked
    return {
        "filename": served.filename,
        "url": url,
        "hashes": {"sha256": served.sha256},
        "requires-python": served.dist.requires_python,
        "yanked": yanked if isinstance(yanked, str) else bool(yanked),
        "core-metadata": metadata,
        "dist-info-metadata": metadata,
        "size": served.size,
        "upload-time": served.upload_time,
    }


def _html_anchor(served: ServedFile, url: str) -> str:
    attributes = [f'href="{html.escape(url)}#sha256={served.sha256}"']
    if served.dist.requires_python:
        attributes.append(f'data-requires-python="{html.escape(served.dist.requires_python)}"')
    if served.dist.yanked is not False:
        reason = served.dist.yanked if isinstance(served.dist.yanked, str) else ""
        attributes.append(f'data-yanked="{html.escape(reason)}"')
    if served.serves_metadata:
        value = f"sha256={served.built.metadata_sha256}"
        attributes.append(f'data-core-metadata="{value}"')
        attributes.append(f'data-dist-info-metadata="{value}"')
    return f"    <a {' '.join(attributes)}>{html.escape(served.filename)}</a><br/>"


def _html_document(title: str, body_lines: list[str]) -> str:
    return "\n".join(
        [
            "<!DOCTYPE html>",
            "<html>",
            "  <head>",
            f'    <meta name="pypi:repository-version" content="{API_VERSION}">',
            f"    <title>{html.escape(title)}</title>",
            "  </head>",
            "  <body>",
            f"    <h1>{html.escape(title)}</h1>",
            *body_lines,
            "  </body>",
            "</html>",
            "",
        ]
    )


# ---------------------------------------------------------------- the server


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every answer carries Content-Length
    server: _IndexHTTPServer
    # An idle keep-alive connection is dropped after this long, so handler threads end.
    timeout = 30

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (base class name)
        pass  # tests read server.requests instead of stderr noise

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        self.server.index.handle(self, head=False)

    def do_HEAD(self) -> None:  # noqa: N802
        self.server.index.handle(self, head=True)

    def send(
        self, status: int, body: bytes = b"", headers: dict[str, str] | None = None, *, head: bool = False
    ) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head and body:
            self.wfile.write(body)


class _IndexHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # The default backlog of 5 drops connections when parallel clients open many at once.
    request_queue_size = 128

    def __init__(self, index: IndexServer) -> None:
        self.index = index
        self.open_connections: set[socket.socket] = set()
        self.accepted = 0  # connections opened by clients so far
        self.connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def get_request(self) -> tuple[socket.socket, object]:
        connection, address = super().get_request()
        with self.connections_lock:
            self.open_connections.add(connection)
            self.accepted += 1
        return connection, address

    def shutdown_request(self, request: socket.socket) -> None:  # type: ignore[override]
        with self.connections_lock:
            self.open_connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: object, client_address: object) -> None:
        # A client hanging up mid-answer (timeouts in failure-mode tests) is expected, not an error.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    def drop_connections(self) -> None:
        with self.connections_lock:
            connections = list(self.open_connections)
            self.open_connections.clear()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class IndexServer:
    """A running test index. Use :func:`build_index` to create one."""

    def __init__(
        self,
        dists: Iterable[Dist],
        *,
        name: str = "main",
        root: Path | None = None,
        json_api: bool = True,
        html_api: bool = True,
        delay: float = 0.0,
        fail_status: int | None = None,
        range_requests: bool = True,
        absolute_urls: bool = False,
        basic_auth: tuple[str, str] | None = None,
    ) -> None:
        if not json_api and not html_api:
            raise ValueError("an index must serve JSON, HTML or both")
        self.name = name
        self._owns_root = root is None
        self.root = (
            Path(tempfile.mkdtemp(prefix=f"test-index-{name}-")) if root is None else _fresh_dir(root, name)
        )
        self.json_api = json_api
        self.html_api = html_api
        self.absolute_urls = absolute_urls
        self.basic_auth = basic_auth
        self._authorization = (
            "Basic " + base64.b64encode(f"{basic_auth[0]}:{basic_auth[1]}".encode()).decode()
            if basic_auth
            else None
        )
        self._lock = threading.Lock()
        self._delay = delay
        self._fail_status = fail_status
        self._range_requests = range_requests
        self._redirect: str | None = None
        self._requests: list[RequestRecord] = []
        self._files: dict[str, ServedFile] = {}  # by filename
        self._dists: list[Dist] = []
        self.add_dists(dists)
        self._httpd = _IndexHTTPServer(self)
        host, port = self._httpd.server_address[:2]
        self.base_url = f"http://{host}:{port}"
        self.url = f"{self.base_url}/simple/"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name=f"test-index-{name}", daemon=True
        )
        self._thread.start()
        self._stopped = False

    def __repr__(self) -> str:
        return f"<IndexServer {self.name} {self.url} projects={len(self.projects())}>"

    def __enter__(self) -> IndexServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ------------------------------------------------------------ content

    def add_dists(self, dists: Iterable[Dist]) -> None:
        """Build and publish more releases (e.g. to test that a cached page goes stale)."""
        new_dists = list(dists)
        built_files: list[BuiltFile] = []
        for dist in new_dists:
            built_files += build_dist_files(dist, self.root / "files" / dist.normalized_name)
        with self._lock:
            for built in built_files:
                if built.filename in self._files:
                    raise ValueError(f"index {self.name!r} already has a file named {built.filename}")
            self._dists += new_dists
            for built in built_files:
                self._files[built.filename] = ServedFile(built, built.dist.normalized_name, "")
            self._assign_upload_times()

    def add_wheel_files(self, paths: Iterable[Path]) -> None:
        """Serve wheels built elsewhere (their name and version read from the file name)."""
        built_files = []
        for path in paths:
            path = Path(path)
            name, version = path.name.split("-")[:2]
            with zipfile.ZipFile(path) as archive:
                metadata_name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
                metadata = archive.read(metadata_name)
            data = path.read_bytes()
            dist = Dist(name, version, sdist=False)
            target = self.root / "files" / dist.normalized_name / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            built_files.append(
                BuiltFile(dist, path.name, target, hashlib.sha256(data).hexdigest(), len(data), "wheel", metadata)
            )
        with self._lock:
            for built in built_files:
                self._dists.append(built.dist)
                self._files[built.filename] = ServedFile(built, built.dist.normalized_name, "")
            self._assign_upload_times()

    def _assign_upload_times(self) -> None:
        """Explicit Dist.upload_time wins; otherwise older versions get older times, per project."""
        by_project: dict[str, list[Version]] = {}
        for served in self._files.values():
            by_project.setdefault(served.project, []).append(Version(served.dist.version))
        for filename, served in list(self._files.items()):
            if served.dist.upload_time:
                upload_time = served.dist.upload_time
            else:
                versions = sorted(set(by_project[served.project]))
                rank = versions.index(Version(served.dist.version))
                siblings = sorted(f for f, s in self._files.items() if s.dist is served.dist)
                moment = UPLOAD_EPOCH + dt.timedelta(days=30 * rank, seconds=siblings.index(filename))
                upload_time = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            self._files[filename] = ServedFile(served.built, served.project, upload_time)

    @property
    def dists(self) -> list[Dist]:
        with self._lock:
            return list(self._dists)

    @property
    def files(self) -> dict[str, ServedFile]:
        """Every served file by filename (sha256, size, path on disk, upload time, ...)."""
        with self._lock:
            return dict(self._files)

    def projects(self) -> list[str]:
        with self._lock:
            return sorted({served.project for served in self._files.values()})

    def project_files(self, name: str) -> list[ServedFile]:
        project = normalize_name(name)
        with self._lock:
            chosen = [served for served in self._files.values() if served.project == project]
        return sorted(chosen, key=lambda s: (Version(s.dist.version), s.filename))

    def file_url(self, filename: str) -> str:
        """Absolute URL of a served file (append ``.metadata`` for its PEP 658 file)."""
        return self.base_url + self.files[filename].url_path

    def project_url(self, name: str) -> str:
        return f"{self.url}{normalize_name(name)}/"

    # ------------------------------------------------------------ runtime switches

    def set_delay(self, seconds: float) -> None:
        with self._lock:
            self._delay = seconds

    def set_fail_status(self, status: int | None) -> None:
        with self._lock:
            self._fail_status = status

    def set_range_requests(self, enabled: bool) -> None:
        with self._lock:
            self._range_requests = enabled

    def set_redirect(self, index_url: str | None) -> None:
        """Answer every ``/simple/...`` request with a 301 to the same path under ``index_url`` (another
        index's ``url``), as an alias host of an index does; None serves this index's own pages again."""
        with self._lock:
            self._redirect = index_url

    @property
    def requests(self) -> list[RequestRecord]:
        """A snapshot of the requests seen so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    @property
    def connections_accepted(self) -> int:
        with self._httpd.connections_lock:
            return self._httpd.accepted

    def stop(self) -> None:
        """Stop serving, drop open keep-alive connections and close the listening socket."""
        if self._stopped:
            return
        self._stopped = True
        self._httpd.shutdown()
        self._httpd.server_close()
        self._httpd.drop_connections()
        self._thread.join(timeout=5)
        if self._owns_root:
            shutil.rmtree(self.root, ignore_errors=True)

    # ------------------------------------------------------------ request handling

    def handle(self, request: _Handler, *, head: bool) -> None:
        path = request.path
        range_header = request.headers.get("Range")
        with self._lock:
            self._requests.append(RequestRecord(request.command, path, range_header))
            delay, fail_status, ranges_on = self._delay, self._fail_status, self._range_requests
            redirect = self._redirect
        if delay > 0:
            time.sleep(delay)
        if self._authorization and request.headers.get("Authorization") != self._authorization:
            challenge = {"Content-Type": "text/plain", "WWW-Authenticate": 'Basic realm="test index"'}
            request.send(401, b"401 Unauthorized\n", challenge, head=head)
            return
        if fail_status is not None:
            body = f"{fail_status} {_reason(fail_status)} (test index failure mode)\n".encode()
            if fail_status < 200 or fail_status in (204, 304):
                body = b""  # these statuses never carry a body
            request.send(fail_status, body, {"Content-Type": "text/plain"}, head=head)
            return

        route = unquote(urlsplit(path).path)
        if redirect is not None and route.startswith("/simple"):
            location = redirect.rstrip("/") + "/" + route[len("/simple") :].lstrip("/")
            request.send(301, b"", {"Location": location}, head=head)
            return
        if route in ("/simple", "/simple/"):
            self._serve_root(request, head)
        elif route.startswith("/simple/"):
            self._serve_project(request, route[len("/simple/") :], head)
        elif route.startswith("/files/"):
            self._serve_file(request, route[len("/files/") :], head, ranges_on)
        else:
            self._not_found(request, head)

    def _not_found(self, request: _Handler, head: bool) -> None:
        request.send(404, b"404 Not Found\n", {"Content-Type": "text/plain"}, head=head)

    def _serve_root(self, request: _Handler, head: bool) -> None:
        chosen = _choose_format(request.headers.get("Accept"), self.json_api, self.html_api)
        projects = self.projects()
        if chosen is None:
            request.send(406, b"406 Not Acceptable\n", {"Content-Type": "text/plain"}, head=head)
        elif chosen == "json":
            document = {"meta": {"api-version": API_VERSION}, "projects": [{"name": p} for p in projects]}
            self._send_page(request, json.dumps(document, indent=1).encode(), JSON_CONTENT_TYPE, head)
        else:
            anchors = [f'    <a href="{quote(p)}/">{html.escape(p)}</a><br/>' for p in projects]
            body = _html_document(f"Simple index {self.name}", anchors).encode()
            self._send_page(request, body, self._html_type(request), head)

    def _serve_project(self, request: _Handler, rest: str, head: bool) -> None:
        name = rest.rstrip("/")
        if not name or "/" in name:
            self._not_found(request, head)
            return
        project = normalize_name(name)
        if project not in self.projects():
            self._not_found(request, head)
            return
        if name != project or not rest.endswith("/"):
            request.send(301, b"", {"Location": f"/simple/{project}/"}, head=head)
            return
        chosen = _choose_format(request.headers.get("Accept"), self.json_api, self.html_api)
        files = self.project_files(project)
        if chosen is None:
            request.send(406, b"406 Not Acceptable\n", {"Content-Type": "text/plain"}, head=head)
        elif chosen == "json":
            versions = sorted({Version(s.dist.version) for s in files})
            document = {
                "meta": {"api-version": API_VERSION},
                "name": project,
                "versions": [str(v) for v in versions],
                "files": [_json_file(s, self._file_link(s)) for s in files],
            }
            self._send_page(request, json.dumps(document, indent=1).encode(), JSON_CONTENT_TYPE, head)
        else:
            anchors = [_html_anchor(s, self._file_link(s)) for s in files]
            body = _html_document(f"Links for {project}", anchors).encode()
            self._send_page(request, body, self._html_type(request), head)

    def _html_type(self, request: _Handler) -> str:
        accept = request.headers.get("Accept") or ""
        return HTML_CONTENT_TYPE if HTML_CONTENT_TYPE in accept else "text/html; charset=utf-8"

    def _file_link(self, served: ServedFile) -> str:
        # Relative links (the default) exercise the client's URL joining, as some indexes do.
        if self.absolute_urls:
            return self.base_url + served.url_path
        return "../.." + served.url_path

    def _send_page(self, request: _Handler, body: bytes, content_type: str, head: bool) -> None:
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        headers = {"Content-Type": content_type, "Vary": "Accept", "ETag": etag}
        if request.headers.get("If-None-Match") == etag:
            request.send(304, b"", {"ETag": etag, "Vary": "Accept"}, head=True)
            return
        request.send(200, body, headers, head=head)

    def _serve_file(self, request: _Handler, rest: str, head: bool, ranges_on: bool) -> None:
        project, _, filename = rest.partition("/")
        metadata_requested = filename.endswith(".metadata")
        lookup = filename[: -len(".metadata")] if metadata_requested else filename
        served = self.files.get(lookup)
        if served is None or served.project != project:
            self._not_found(request, head)
            return
        if metadata_requested:
            if not served.serves_metadata:
                self._not_found(request, head)
                return
            data = served.built.metadata or b""
            content_type = "text/plain; charset=utf-8"
        else:
            data = served.path.read_bytes()
            content_type = "application/zip" if filename.endswith(".whl") else "application/gzip"
        headers = {"Content-Type": content_type, "ETag": f'"{hashlib.sha256(data).hexdigest()[:32]}"'}
        if ranges_on:
            headers["Accept-Ranges"] = "bytes"
        range_header = request.headers.get("Range")
        if not ranges_on or not range_header:
            request.send(200, data, headers, head=head)
            return
        wanted = _parse_range(range_header, len(data))
        if wanted is None:
            request.send(200, data, headers, head=head)
        elif wanted == "unsatisfiable":
            headers["Content-Range"] = f"bytes */{len(data)}"
            request.send(416, b"", headers, head=head)
        else:
            first, last = wanted
            headers["Content-Range"] = f"bytes {first}-{last}/{len(data)}"
            request.send(206, data[first : last + 1], headers, head=head)


def _fresh_dir(root: Path, name: str) -> Path:
    """``root/name``, or ``root/name-2``, ... if taken: two servers must never share (and overwrite) files."""
    candidate, number = Path(root) / name, 1
    while candidate.exists():
        number += 1
        candidate = Path(root) / f"{name}-{number}"
    candidate.mkdir(parents=True)
    return candidate


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Test Failure"


def build_index(
    dists: Iterable[Dist],
    *,
    name: str = "main",
    json_api: bool = True,
    html_api: bool = True,
    delay: float = 0.0,
    fail_status: int | None = None,
    root: Path | None = None,
    range_requests: bool = True,
    absolute_urls: bool = False,
    basic_auth: tuple[str, str] | None = None,
) -> IndexServer:
    """Build the files of ``dists`` under ``root/name`` and serve them; call ``stop()`` when done.

    Several indexes can run at once (give each its own ``name``); each has its own port and URL.
    """
    return IndexServer(
        dists,
        name=name,
        root=root,
        json_api=json_api,
        html_api=html_api,
        delay=delay,
        fail_status=fail_status,
        range_requests=range_requests,
        absolute_urls=absolute_urls,
        basic_auth=basic_auth,
    )


# ---------------------------------------------------------------- the sample graph

# Kept in its own module for readability; re-exported here because tests import it from here.
from tests.support.sample_index import SAMPLE_DISTS  # noqa: E402
