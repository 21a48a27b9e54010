"""Done-when of security out of the box: a fresh machine (no configuration, the embedded backend)
avoids flask 2.3.1 and werkzeug 3.0.0 with the shipped advisory snapshot, says why, and warns that
the snapshot is old."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

from tests.support.index_server import Dist
from tests.thamos.conftest import thamos_env

PIPFILE = """[packages]
flask = ">=2.2.5,<2.3.2"
werkzeug = ">=2.3.8,<3.0.1"

[requires]
python_version = "{python}"
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _thamos(*args: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "thamos", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=180, check=False)


def test_fresh_machine_security_avoids_flask_and_werkzeug_advisories(package_index, tmp_path):
    index = package_index([
        Dist("flask", "2.2.5", requires_dist=("werkzeug>=2.2.2",)),
        Dist("flask", "2.3.1", requires_dist=("werkzeug>=2.3.0",)),
        Dist("werkzeug", "2.3.8"),
        Dist("werkzeug", "3.0.0"),
    ])
    home = tmp_path / "home"
    env = {key: value for key, value in thamos_env(tmp_path).items()
           if key not in ("THAMOS_DATA_DIR", "THAMOS_CACHE_DIR")}
    env.update({"HOME": str(home), "XDG_DATA_HOME": str(home / "data"), "XDG_CACHE_HOME": str(home / "cache"),
                "THAMOS_EMBEDDED_PORT": str(_free_port()), "THAMOS_EMBEDDED_IDLE_TIMEOUT": "5",
                "PIP_INDEX_URL": index.url})
    project = tmp_path / "project"
    project.mkdir()
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    (project / "Pipfile").write_text(PIPFILE.format(python=python))
    advised = _thamos("advise", "--recommendation-type", "security", "--short", cwd=project, env=env)
    assert advised.returncode == 0, advised.stderr
    assert "days old (snapshot of 2024-10-10)" in advised.stderr  # the stale snapshot is a warning shown
    lock = json.loads((project / "Pipfile.lock").read_text())["default"]
    assert lock["flask"]["version"] == "==2.2.5" and lock["werkzeug"]["version"] == "==2.3.8"
    results = _thamos("results", "-o", "json", cwd=project, env=env)
    assert results.returncode == 0, results.stderr
    report = json.loads(results.stdout)["result"]["report"]
    messages = [item["message"] for item in report["products"][0]["justification"]]
    assert "werkzeug 3.0.0 skipped: PYSEC-2023-221, fixed in 3.0.1" in messages
    assert "flask 2.3.1 skipped: PYSEC-2023-62, fixed in 2.3.2" in messages
    assert "PyPA advisory database of 2024-10-10" in report["pipeline"]["advisory_snapshot"]
