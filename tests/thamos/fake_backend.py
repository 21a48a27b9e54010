"""A tiny stand-in for the User API over real HTTP, for failure modes the real server does not
produce on demand: answering 500, never finishing an analysis, and recording raw request lines."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ANALYSIS_ID = "adviser-240101120000-0123456789abcdef"


class FakeBackend:
    """Modes: ``"pending"`` (accepts, never finishes), ``"error500"`` (every call 500),
    ``"reject400"`` (every call 400), ``"done"`` (finishes with ``document``)."""

    def __init__(self, mode: str = "pending") -> None:
        self.mode = mode
        self.document: dict | None = None
        # What a POST answers (202) instead of a well-formed analysis response, when set.
        self.post_answer: object | None = None
        self.requests: list[tuple[str, str]] = []
        self.bodies: list[bytes] = []
        self.headers: list[dict[str, str]] = []
        backend = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return

            def _answer(self, status: int, payload: object) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _handle(self) -> None:
                backend.requests.append((self.command, self.path))
                backend.headers.append(dict(self.headers.items()))
                length = int(self.headers.get("Content-Length") or 0)
                backend.bodies.append(self.rfile.read(length) if length else b"")
                if backend.mode == "error500":
                    self._answer(500, {"error": "internal failure for the test"})
                elif backend.mode == "reject400":
                    self._answer(400, {"error": "bad request for the test"})
                elif self.command == "POST":
                    self._answer(202, backend.post_answer if backend.post_answer is not None else {
                        "analysis_id": ANALYSIS_ID, "cached": False, "authenticated": False, "parameters": {}})
                elif backend.mode == "done" and backend.document is not None:
                    self._answer(200, backend.document)
                else:
                    self._answer(202, {"error": "not finished", "parameters": {},
                                       "status": {"status": {"state": "running"}}})

            do_GET = do_POST = do_HEAD = _handle  # noqa: N815

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def posts(self) -> list[tuple[str, bytes]]:
        """(path, body) of every POST, in order."""
        return [(path, body) for (method, path), body in zip(self.requests, self.bodies, strict=True)
                if method == "POST"]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
