"""What the web view's benchmark and screenshot scripts share: a real User API server on a free
local port, an analysis of a benchmark input advised through it against the configured index
(pip's configuration, as `thamos advise` uses it), and Debian's headless Chromium.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
INPUTS = REPO_ROOT.parent / "shared" / "bench" / "inputs"
sys.path.insert(0, str(REPO_ROOT))

from tests.support.browser import chromium  # noqa: E402,F401  (re-exported for the scripts)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _call(method: str, url: str, body: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # local server: no proxy
    with opener.open(request, timeout=30) as answer:
        return answer.status, json.loads(answer.read() or b"{}")


@contextmanager
def server(cache_dir: Path | None = None) -> Iterator[str]:
    """A `python -m userapi` on 127.0.0.1 (its own data directory); yields its base URL."""
    with tempfile.TemporaryDirectory(prefix="thamos-web-bench-") as tmp:
        port = _free_port()
        cache = cache_dir or Path(tmp) / "cache"
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "NO_PROXY": "127.0.0.1,localhost"}
        command = [sys.executable, "-m", "userapi", "--host", "127.0.0.1", "--port", str(port),
                   "--data-dir", str(Path(tmp) / "data"), "--cache-dir", str(cache)]
        log = Path(tmp) / "server.log"
        with log.open("wb") as out:
            process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(base, process, log)
            yield base
        finally:
            process.terminate()
            process.wait(30)


def _wait_ready(base: str, process: subprocess.Popen, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited: {log.read_text()[-2000:]}")
        try:
            if _call("GET", base + "/readiness")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the server did not get ready in {timeout:.0f} s")


def advise(base: str, pipfile: Path, timeout: float = 900.0) -> str:
    """Advise `pipfile` through the server (CPython 3.11 on linux-x86_64); the finished analysis' id."""
    if not pipfile.is_file():
        raise SystemExit(f"no Pipfile at {pipfile}: pass --input with a benchmark input directory")
    body = {
        "application_stack": {"requirements": pipfile.read_text(encoding="utf-8"), "requirements_format": "pipenv"},
        "runtime_environment": {
            "name": "bench", "python_version": "3.11", "platform": "linux-x86_64",
            "operating_system": {"name": "rhel", "version": "8"},
        },
    }
    _, answer = _call("POST", base + "/api/v1/advise/python?recommendation_type=latest", body)
    analysis_id = answer["analysis_id"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _, state = _call("GET", f"{base}/api/v1/advise/python/{analysis_id}/status")
        if state["status"]["state"] in ("terminated", "failed"):
            if state["status"]["state"] == "failed":
                raise SystemExit(f"the analysis {analysis_id} failed: {state['status'].get('reason')}")
            return analysis_id
        time.sleep(0.5)
    raise SystemExit(f"the analysis {analysis_id} did not finish in {timeout:.0f} s")


def open_analysis(driver, url: str, timeout: float = 30.0) -> dict[str, int]:
    """Load the analysis page; when its graph is drawn, how long it took (ms, see graph.js)."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    WebDriverWait(driver, timeout).until(
        lambda d: d.execute_script("const g = document.getElementById('graph'); return g && g.dataset.ready;")
        == "yes"
    )
    return driver.execute_script(
        "const g = document.getElementById('graph');"
        "return {rendered_ms: +g.dataset.renderedMs, draw_ms: +g.dataset.drawMs,"
        " nodes: window.thamosGraph.nodes().length, edges: window.thamosGraph.edges().length};"
    )
