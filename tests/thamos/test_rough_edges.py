"""Rough edges a new user hit (issue 14): each one as it behaves now."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.thamos.test_project_files import PIPFILE, _lock_for
from thamos import exit_codes
from thamos.project_files import ProjectFiles


@pytest.mark.parametrize("requirements_format", ["pip", "pip-tools", "pip-compile"])
def test_a_requirements_txt_input_is_kept_in_requirements_in(tmp_path: Path, requirements_format: str) -> None:
    (tmp_path / "requirements.txt").write_text("# my pins\nflask>=2\n")
    files = ProjectFiles(tmp_path, requirements_format)
    assert files.input_file == tmp_path / "requirements.txt"
    written = files.write_advised({}, _lock_for(PIPFILE), dev=False)
    assert written == [tmp_path / "requirements.in", tmp_path / "requirements.txt"]
    assert (tmp_path / "requirements.in").read_text() == "# my pins\nflask>=2\n"
    assert "edit requirements.in instead" in (tmp_path / "requirements.txt").read_text()
    assert files.input_file == tmp_path / "requirements.in"  # the next advise reads the user's file


@pytest.fixture
def foreign_server() -> Iterator[tuple[int, dict[str, str]]]:
    """Something on a port: a web server that is not thamos, or (with a version) another thamos."""
    headers: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return

        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200 if headers else 404)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], headers
    server.shutdown()
    server.server_close()


def test_the_port_in_use_message_says_what_holds_it(foreign_server, tmp_path: Path, run_thamos) -> None:
    port, headers = foreign_server
    result = run_thamos("environments", cwd=tmp_path, THAMOS_EMBEDDED_PORT=str(port))
    assert result.returncode == exit_codes.BACKEND_UNREACHABLE, result.stderr
    line = " ".join(result.stderr.split())
    assert (f"port {port} (http://127.0.0.1:{port}) is taken by a program that is not a thamos server; "
            "choose another port with THAMOS_EMBEDDED_PORT, or set a host in .thoth.yaml") in line
    headers["X-Thoth-Version"] = "0.9.0"
    result = run_thamos("environments", cwd=tmp_path, THAMOS_EMBEDDED_PORT=str(port))
    line = " ".join(result.stderr.split())
    assert "is taken by the embedded server of thamos 0.9.0, and this is thamos " in line
    assert "stop it" in line and "Traceback" not in result.stderr
