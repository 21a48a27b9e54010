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
import time
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


def stop_embedded(root: Path, wait: float = 15.0) -> None:
    """Stop the embedded server a `thamos` run under ``root`` started, if it is still running.

    Waits up to ``wait`` seconds for it and the processes it started (its workers) to exit, then
    kills those left, so that none competes for the CPU with whatever is timed next.
    """
    pid_file = root / "data" / "thamos" / "embedded-server.pid"
    if not pid_file.exists():
        return
    try:
        pid = int(pid_file.read_text().strip())
        family = process_tree(pid) if alive(pid) else []
        os.kill(pid, signal.SIGTERM)
    except (ValueError, ProcessLookupError, PermissionError):
        return
    wait_gone(family, wait)


def wait_gone(pids: list[int], wait: float) -> None:
    """Wait up to ``wait`` seconds for the processes to exit; kill those still there then."""
    deadline = time.monotonic() + wait
    while any(alive(pid) for pid in pids):
        if time.monotonic() > deadline:
            for pid in filter(alive, pids):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            return
        time.sleep(0.05)


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def process_tree(pid: int) -> list[int]:
    """pid and every process below it (from /proc; no psutil)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def rss_bytes(pid: int) -> int:
    """Resident memory of one process now (0 when it has gone)."""
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_BYTES
    except (OSError, IndexError, ValueError):
        return 0


def pss_bytes(pid: int) -> int:
    """Proportional set size of one process now: its shared pages divided among their sharers."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0
