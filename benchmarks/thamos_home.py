"""Running the `thamos` command as on a fresh machine: a throwaway home, its own embedded server.

Shared by the benchmarks that time `thamos advise` end to end. Everything thamos and its embedded
server keep (configuration, data, caches, the server's pid file) lives under one root directory, so
a new root is a cold start and reusing a root is a warm one.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sys
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tool(name: str) -> str:
    """An executable on PATH, else the one installed beside the running interpreter."""
    return shutil.which(name) or str(Path(sys.executable).parent / name)


def thamos_env(root: Path, port: int, base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for `thamos` with every directory it writes under ``root``.

    The server keeps no cached results (THAMOS_RESULT_TTL=0), so a warm run is a real resolution
    with filled caches, never a replay of the previous answer.
    """
    env = dict(os.environ if base is None else base)
    env.update(
        HOME=str(root / "home"),
        XDG_DATA_HOME=str(root / "data"),
        XDG_CACHE_HOME=str(root / "cache"),
        XDG_CONFIG_HOME=str(root / "config"),
        THAMOS_EMBEDDED_PORT=str(port),
        THAMOS_RESULT_TTL="0",
        THAMOS_NO_PROGRESSBAR="1",
        THAMOS_NO_INTERACTIVE="1",
        THAMOS_DISABLE_LAST_ANALYSIS_ID_FILE="1",
    )
    env.pop("THAMOS_DATA_DIR", None)
    env.pop("THAMOS_CACHE_DIR", None)
    return env


def stop_embedded(root: Path) -> None:
    """Stop the embedded server a `thamos` run under ``root`` started, if it is still running."""
    pid_file = root / "data" / "thamos" / "embedded-server.pid"
    if not pid_file.exists():
        return
    try:
        os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
    except (ValueError, ProcessLookupError, PermissionError):
        pass
