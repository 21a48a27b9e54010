"""The embedded backend: a User API server on 127.0.0.1 that thamos starts by itself.

With no host configured, thamos needs a server to talk to. `ensure_local_server()` reuses one
already answering on the embedded port, or starts `python -m userapi` in the background (it
exits by itself after some idle time). Concurrent callers are serialised by a file lock in the
data directory, so two commands started together share one server.

A server of a *different* thamos version on the embedded port is not reused: its answers might
not match this client. The caller gets an error that says how to stop it (or to pick another
port with THAMOS_EMBEDDED_PORT).
"""

from __future__ import annotations

import http.client
import importlib.util
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from thamos import __version__, settings

if sys.platform != "win32":
    import fcntl  # POSIX only: the lock serialising the embedded backend's start

LOGGER = logging.getLogger(__name__)

EMBEDDED_HOST = "127.0.0.1"

# Settings of a team server that must not leak into the private embedded one.
_SERVER_ONLY_VARIABLES = (
    "THAMOS_SERVER_TOKEN",
    "THAMOS_SERVER_CERTFILE",
    "THAMOS_SERVER_KEYFILE",
    "THAMOS_SERVER_HOST",
    "THAMOS_SERVER_PORT",
    "THAMOS_SERVER_CONFIG",
    "THAMOS_IDLE_TIMEOUT",
)


class EmbeddedServerError(RuntimeError):
    """The embedded backend cannot be used; the message tells the user what to do."""


def embedded_port() -> int:
    """THAMOS_EMBEDDED_PORT; a bad value is a ConfigurationError naming it."""
    return settings.port("THAMOS_EMBEDDED_PORT")


def idle_timeout() -> float:
    return settings.seconds("THAMOS_EMBEDDED_IDLE_TIMEOUT")


def embedded_url(port: int | None = None) -> str:
    return f"http://{EMBEDDED_HOST}:{port or embedded_port()}"


def data_dir() -> Path:
    """Same rule as the server: THAMOS_DATA_DIR, else $XDG_DATA_HOME/thamos, else ~/.local/share/thamos."""
    configured = settings.text("THAMOS_DATA_DIR")
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base).expanduser() / "thamos"


def _get(port: int, path: str, timeout: float) -> http.client.HTTPResponse | None:
    """GET on the embedded port without any proxy; None when nothing listens there."""
    connection = http.client.HTTPConnection(EMBEDDED_HOST, port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Accept": "application/json"})
        response = connection.getresponse()
        response.read()
        return response
    except (ConnectionError, TimeoutError, OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()


def probe(port: int, timeout: float = 2.0) -> str | None:
    """The X-Thoth-Version of what answers on /api/v1 at the port ("" if not a User API), or None."""
    response = _get(port, "/api/v1", timeout)
    if response is None:
        return None
    if response.status != 200:
        return ""
    return response.getheader("X-Thoth-Version") or ""


def _ready(port: int) -> bool:
    response = _get(port, "/readiness", 2.0)
    return response is not None and response.status == 200


def _reuse_or_refuse(port: int, version: str | None) -> bool:
    """True when ours answers; raise when something else holds the port; False when free."""
    if version is None:
        return False
    if version == __version__:
        return True
    raise EmbeddedServerError(port_taken_message(port, version, data_dir() / "embedded-server.pid"))


def port_taken_message(port: int, version: str, pid_file: Path) -> str:
    """Why the embedded server cannot start on a taken port, and the ways out."""
    where = f"port {port} ({embedded_url(port)})"
    ways = "choose another port with THAMOS_EMBEDDED_PORT, or set a host in .thoth.yaml"
    if not version:
        return f"{where} is taken by a program that is not a thamos server; {ways}"
    stop = f"stop it (kill $(cat {pid_file})), " if pid_file.exists() else "stop it, "
    return (f"{where} is taken by the embedded server of thamos {version}, "
            f"and this is thamos {__version__}; {stop}or {ways}")


class _FileLock:
    """An exclusive flock on a file, waited for at most `timeout` seconds."""

    def __init__(self, path: Path, timeout: float):
        self.path = path
        self.timeout = timeout
        self._handle = None

    def __enter__(self) -> _FileLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(self.path, "a+")  # noqa: SIM115 - held until __exit__
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(self._handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    self._handle.close()
                    raise EmbeddedServerError(
                        f"another thamos process has been starting the embedded server for over "
                        f"{self.timeout:.0f} seconds (lock {self.path})"
                    ) from None
                time.sleep(0.1)

    def __exit__(self, *_exc: object) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()


def _check_server_extra() -> None:
    """The server needs the `server` extra; say how to get it instead of failing in the child.

    Only looked up, never imported: importing connexion here would run its import-time warnings
    in the user's terminal, and the client has no use for the modules themselves.
    """
    missing = [name for name in ("connexion", "uvicorn", "userapi") if importlib.util.find_spec(name) is None]
    if missing:
        raise EmbeddedServerError(
            "the embedded backend needs `pip install 'thamos[server]'`, or configure a host in "
            f".thoth.yaml (missing: {', '.join(missing)})"
        )


def _spawn(port: int, directory: Path) -> subprocess.Popen:
    idle = str(idle_timeout())
    command = [
        sys.executable,
        "-m",
        "userapi",
        "--host",
        EMBEDDED_HOST,
        "--port",
        str(port),
        "--idle-timeout",
        idle,
        "--data-dir",
        str(directory),
    ]
    environment = {key: value for key, value in os.environ.items() if key not in _SERVER_ONLY_VARIABLES}
    # It runs on the user's own machine: git dependencies may be local repositories (adviser.vcs).
    environment.setdefault("THAMOS_GIT_ALLOW_LOCAL", "1")
    log_path = directory / "embedded-server.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # survives the client's exit and its Ctrl-C
            close_fds=True,
            env=environment,
        )
    (directory / "embedded-server.pid").write_text(f"{process.pid}\n")
    LOGGER.info(
        "started the embedded server (pid %d) on %s; log in %s", process.pid, embedded_url(port), log_path
    )
    return process


def _log_tail(directory: Path, lines: int = 15) -> str:
    try:
        text = (directory / "embedded-server.log").read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


class _BackgroundStart(threading.Thread):
    """_ensure_started() on a thread; its answer (a URL or the exception) waits for ensure_local_server."""

    def __init__(self, timeout: float) -> None:
        super().__init__(name="thamos-embedded-start", daemon=True)
        self.timeout = timeout
        self.url: str | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.url = _ensure_started(self.timeout)
        except BaseException as exc:  # handed to the caller of ensure_local_server
            self.error = exc


_background: _BackgroundStart | None = None
_background_lock = threading.Lock()


def start_in_background(timeout: float = 30.0) -> None:
    """Begin making sure the local server runs, on a thread: a fresh server then starts (~0.5 s)
    while the caller reads the project and prepares its request, and ensure_local_server() waits
    for that start instead of beginning another."""
    global _background
    start = _BackgroundStart(timeout)
    with _background_lock:
        _background = start  # an earlier start nobody asked for is stale: this one answers
    start.start()


def ensure_local_server(timeout: float = 30.0) -> str:
    """Return the base URL of a running local server, starting one in the background if needed."""
    global _background
    with _background_lock:
        background, _background = _background, None  # each early start answers one caller
    if background is None:
        return _ensure_started(timeout)
    background.join()
    if background.error is not None:
        raise background.error
    assert background.url is not None
    return background.url


def _ensure_started(timeout: float) -> str:
    port = embedded_port()
    idle_timeout()  # a bad value is reported here, not by the server failing to start
    if _reuse_or_refuse(port, probe(port)):
        return embedded_url(port)
    _check_server_extra()
    directory = data_dir()
    deadline = time.monotonic() + timeout
    with _FileLock(directory / "embedded-server.lock", timeout):
        # Whoever held the lock before us may have started it meanwhile.
        if _reuse_or_refuse(port, probe(port)):
            return embedded_url(port)
        process = _spawn(port, directory)
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise EmbeddedServerError(
                    f"the embedded server exited at start (code {process.returncode}); its log says:\n"
                    + _log_tail(directory)
                )
            if _ready(port) and _reuse_or_refuse(port, probe(port)):
                return embedded_url(port)
            time.sleep(0.005)  # a look at a port nobody listens on yet costs a refused connect
        process.send_signal(signal.SIGTERM)
        raise EmbeddedServerError(
            f"the embedded server did not become ready within {timeout:.0f} seconds; its log says:\n"
            + _log_tail(directory)
        )
