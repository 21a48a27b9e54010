"""Fixtures of the server tests: real `python -m userapi` processes on free ports.

Every server gets its own data directory and adviser cache, and resolves against a local test
index passed as its default index (and as PIP_INDEX_URL), so nothing reaches the network.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
API = "/api/v1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_environment(data_dir: Path, cache_dir: Path, index_url: str | None) -> dict[str, str]:
    """The environment of a test server: isolated directories, no proxies, only the local index."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("THAMOS_", "PIP_")) and key.lower() not in ("http_proxy", "https_proxy")
    }
    env["THAMOS_DATA_DIR"] = str(data_dir)
    env["THAMOS_CACHE_DIR"] = str(cache_dir)
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["NO_PROXY"] = "127.0.0.1,localhost"
    # Nothing from the user's pip configuration: the index is the test's.
    env["PIP_CONFIG_FILE"] = os.devnull
    if index_url:
        env["PIP_INDEX_URL"] = index_url
    return env


@dataclass
class ServerProcess:
    """One running `python -m userapi` and how to reach it."""

    port: int
    data_dir: Path
    cache_dir: Path
    args: list[str]
    env: dict[str, str]
    scheme: str = "http"
    process: subprocess.Popen | None = None
    log_path: Path | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return self.base_url + API

    def start(self, timeout: float = 30.0, ssl_context: Any = None) -> ServerProcess:
        self.log_path = self.data_dir.parent / f"server-{self.port}-{time.time_ns()}.log"
        command = [
            sys.executable,
            "-m",
            "userapi",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            *self.args,
        ]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=REPO_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log()}")
            if self.ready(ssl_context):
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server not ready within {timeout} s:\n{self.log()}")

    def ready(self, ssl_context: Any = None) -> bool:
        try:
            status, _, _ = request("GET", self.base_url + "/readiness", ssl_context=ssl_context, timeout=2)
        except OSError:
            return False
        return status == 200

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            return self.process.wait(5)

    def kill(self) -> None:
        """SIGKILL the server process only (its workers notice and exit by themselves)."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)


def request(
    method: str,
    url: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    *,
    ssl_context: Any = None,
    timeout: float = 30.0,
    raw_body: bytes | None = None,
) -> tuple[int, dict[str, str], Any]:
    """One raw HTTP request (no client library): (status, headers, JSON body or text or None)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme == "https":
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=timeout, context=ssl_context
        )
    else:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    payload = raw_body if raw_body is not None else (json.dumps(body).encode() if body is not None else None)
    all_headers = {"Accept": "application/json"}
    if payload is not None:
        all_headers["Content-Type"] = "application/json"
    all_headers.update(headers or {})
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request(method, target, body=payload, headers=all_headers)
        response = connection.getresponse()
        data = response.read()
        answer_headers = {key.lower(): value for key, value in response.getheaders()}
    finally:
        connection.close()
    if not data:
        return response.status, answer_headers, None
    try:
        return response.status, answer_headers, json.loads(data)
    except ValueError:
        return response.status, answer_headers, data.decode(errors="replace")


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Factory: start_server(*args, index_url=..., data_dir=..., port=..., env=...) -> ServerProcess."""
    started: list[ServerProcess] = []

    def start(
        *args: str,
        index_url: str | None = None,
        data_dir: Path | None = None,
        cache_dir: Path | None = None,
        port: int | None = None,
        env: dict[str, str] | None = None,
        scheme: str = "http",
        ssl_context: Any = None,
        wait: bool = True,
    ) -> ServerProcess:
        data_dir = data_dir or tmp_path / f"data{len(started)}"
        cache_dir = cache_dir or tmp_path / f"cache{len(started)}"
        arguments = list(args)
        if index_url:
            arguments += ["--default-index", f"main={index_url}"]
        environment = server_environment(data_dir, cache_dir, index_url)
        environment.update(env or {})
        server = ServerProcess(
            port=port or free_port(),
            data_dir=data_dir,
            cache_dir=cache_dir,
            args=arguments,
            env=environment,
            scheme=scheme,
        )
        started.append(server)
        if wait:
            server.start(ssl_context=ssl_context)
        return server

    yield start
    for server in started:
        server.stop()


def pipfile(index_url: str, packages: dict[str, str], python_version: str = "3.11") -> str:
    """A Pipfile whose only source is the test index."""
    lines = ["[[source]]", f'url = "{index_url}"', "verify_ssl = false", 'name = "main"', "", "[packages]"]
    lines += [f'{name} = "{spec}"' for name, spec in packages.items()]
    lines += ["", "[dev-packages]", "", "[requires]", f'python_version = "{python_version}"', ""]
    return "\n".join(lines)


def advise_body(index_url: str, packages: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "application_stack": {
            "requirements": pipfile(index_url, packages or {"webapp-framework": "*"}),
            "requirements_format": "pipenv",
        },
        "runtime_environment": {
            "name": "test",
            "operating_system": {"name": "debian", "version": "12"},
            "python_version": "3.11",
            "platform": "linux-x86_64",
        },
    }


def wait_for_document(base_api: str, kind_path: str, analysis_id: str, timeout: float = 60.0, **kw: Any):
    """Poll GET <kind_path>/<id> until it answers 200; return the document."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, _, body = request("GET", f"{base_api}{kind_path}/{analysis_id}", **kw)
        if status == 200:
            return body
        assert status == 202, (status, body)
        time.sleep(0.2)
    raise AssertionError(f"{analysis_id} did not finish within {timeout} s")


@pytest.fixture(scope="module")
def shared_server(sample_index, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for the read-mostly tests of a module, resolving against the sample index."""
    root = tmp_path_factory.mktemp("shared-server")
    data_dir, cache_dir = root / "data", root / "cache"
    server = ServerProcess(
        port=free_port(),
        data_dir=data_dir,
        cache_dir=cache_dir,
        args=["--default-index", f"main={sample_index.url}"],
        env=server_environment(data_dir, cache_dir, sample_index.url),
    )
    server.start()
    yield server
    server.stop()


def api_client(base_api: str, *, token: str | None = None, ca_file: str | None = None):
    """The generated client, configured for a server."""
    import swagger_client

    configuration = swagger_client.Configuration()
    configuration.host = base_api
    if token:
        configuration.access_token = token
    if ca_file:
        configuration.ssl_ca_cert = ca_file
    return swagger_client.ApiClient(configuration)
