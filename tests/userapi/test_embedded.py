"""The embedded backend: thamos starts one local server on demand and it goes away when idle."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.userapi.conftest import REPO_ROOT, free_port, request, server_environment

ENSURE = "from thamos.embedded import ensure_local_server; print(ensure_local_server(timeout=60))"


@pytest.fixture
def embedded_env(tmp_path, sample_index):
    env = server_environment(tmp_path / "data", tmp_path / "cache", sample_index.url)
    env["THAMOS_EMBEDDED_PORT"] = str(free_port())
    yield env
    _stop_embedded(tmp_path / "data")


def _stop_embedded(data_dir: Path) -> None:
    pid_file = data_dir / "embedded-server.pid"
    if pid_file.exists():
        try:
            os.kill(int(pid_file.read_text()), signal.SIGTERM)
        except ProcessLookupError:
            pass


def _ensure(env: dict[str, str], *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", "".join(extra) + ENSURE],
        env=env,
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_two_clients_at_once_share_one_server(embedded_env):
    port = embedded_env["THAMOS_EMBEDDED_PORT"]
    first, second = _ensure(embedded_env), _ensure(embedded_env)
    outputs = [process.communicate(timeout=90) for process in (first, second)]
    assert [process.returncode for process in (first, second)] == [0, 0], outputs
    assert {out.strip() for out, _ in outputs} == {f"http://127.0.0.1:{port}"}
    data_dir = Path(embedded_env["THAMOS_DATA_DIR"])
    log = (data_dir / "embedded-server.log").read_text()
    assert log.count("Started server process") == 1
    status, headers, _ = request("GET", f"http://127.0.0.1:{port}/api/v1")
    from thamos import __version__

    assert status == 200 and headers["x-thoth-version"] == __version__
    # A third call reuses it without starting anything.
    third = _ensure(embedded_env)
    out, err = third.communicate(timeout=60)
    assert third.returncode == 0 and out.strip() == f"http://127.0.0.1:{port}", err
    assert (data_dir / "embedded-server.log").read_text().count("Started server process") == 1


def test_idle_server_exits_by_itself(embedded_env):
    embedded_env["THAMOS_EMBEDDED_IDLE_TIMEOUT"] = "2"
    process = _ensure(embedded_env)
    out, err = process.communicate(timeout=90)
    assert process.returncode == 0, err
    data_dir = Path(embedded_env["THAMOS_DATA_DIR"])
    pid = int((data_dir / "embedded-server.pid").read_text())
    deadline = time.monotonic() + 30
    while _pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _pid_alive(pid), "the embedded server is still running after its idle timeout"
    assert "idle for 2 seconds: stopping" in (data_dir / "embedded-server.log").read_text()


class _OtherVersion(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's naming
        self.send_response(200)
        self.send_header("X-Thoth-Version", "0.0.1")
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"[]")

    def log_message(self, *_args):
        pass


def test_a_server_of_another_version_is_not_reused(embedded_env):
    other = ThreadingHTTPServer(("127.0.0.1", int(embedded_env["THAMOS_EMBEDDED_PORT"])), _OtherVersion)
    thread = threading.Thread(target=other.serve_forever, daemon=True)
    thread.start()
    try:
        process = _ensure(embedded_env)
        out, err = process.communicate(timeout=60)
    finally:
        other.shutdown()
        other.server_close()
    assert process.returncode != 0
    assert "embedded server of thamos 0.0.1" in err and "THAMOS_EMBEDDED_PORT" in err
    assert not (Path(embedded_env["THAMOS_DATA_DIR"]) / "embedded-server.pid").exists()


def test_missing_server_extra_is_explained(embedded_env):
    blocker = "import sys; sys.modules['connexion'] = None; "
    process = _ensure(embedded_env, blocker)
    out, err = process.communicate(timeout=60)
    assert process.returncode != 0
    assert "pip install 'thamos[server]'" in err and "configure a host in .thoth.yaml" in err
