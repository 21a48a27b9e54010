"""End to end, the real ``thamos`` command against a real ``python -m userapi``: a Pipfile with an
editable local path package, a git dependency pinned to a branch and a private index whose
credentials come from the environment (a local test index behind HTTP basic authentication).

It locks (the lock keeps ``${VAR}``, records the path and the commit as pipenv does), installs
into a fresh managed virtualenv and verifies; no password reaches the server's store, its log
or the files; an unset variable is a clear error that leaves every file as it was.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.index_server import SAMPLE_DISTS, build_index
from tests.support.source_projects import (
    commit_version,
    git_repository,
    setuptools_project,
    setuptools_wheels,
)
from tests.thamos.conftest import REPO_ROOT, snapshot, thamos_env
from tests.thamos.test_e2e import (
    PLATFORM,
    PYTHON_VERSION,
    _free_port,
    _lock_matches_pipfile,
    _ok,
    _wait_ready,
)
from thamos import exit_codes

USER, PASSWORD = "deploy-robot", "s3cret-Pa55word"


@pytest.fixture(scope="module")
def private_index(tmp_path_factory: pytest.TempPathFactory):
    server = build_index(SAMPLE_DISTS, name="private", root=tmp_path_factory.mktemp("private-index"),
                         basic_auth=(USER, PASSWORD))
    server.add_wheel_files(setuptools_wheels())
    yield server
    server.stop()


@pytest.fixture(scope="module")
def server(sample_index, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """(URL, data and cache root) of a real User API server that may read local git repositories."""
    root = tmp_path_factory.mktemp("userapi-direct")
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("THAMOS_", "PIP_"))}
    env.update({"PIP_INDEX_URL": sample_index.url, "PIP_CONFIG_FILE": os.devnull, "PYTHONPATH": str(REPO_ROOT),
                "THAMOS_GIT_ALLOW_LOCAL": "1"})
    log = root / "server.log"
    with log.open("w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "userapi", "--port", str(port), "--data-dir", str(root / "data"),
             "--cache-dir", str(root / "cache")],
            env=env, stdout=log_file, stderr=subprocess.STDOUT,
        )
    try:
        _wait_ready(port, process, log)
        yield f"http://127.0.0.1:{port}", root
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _project(root: Path, host: str, index_url: str, repository: Path) -> None:
    private_url = index_url.replace("http://", "http://${PRIV_USER}:${PRIV_PASS}@")
    (root / "Pipfile").write_text(
        f'[[source]]\nurl = "{private_url}"\nverify_ssl = true\nname = "private"\n\n'
        '[packages]\nmylib = {path = "./mylib", editable = true}\n'
        f'gitlib = {{git = "file://{repository}", ref = "main"}}\nhttp-client = "*"\n\n'
        f'[dev-packages]\n\n[requires]\npython_version = "{PYTHON_VERSION}"\n'
    )
    (root / ".thoth.yaml").write_text(
        f"host: {host}\ntls_verify: false\nrequirements_format: pipenv\nvirtualenv: true\n"
        f"runtime_environments:\n  - name: 'local'\n    operating_system:\n      name: debian\n"
        f"      version: '12'\n    python_version: '{PYTHON_VERSION}'\n    platform: '{PLATFORM}'\n"
        "    recommendation_type: stable\n"
    )


def _leaks(root: Path) -> list[str]:
    """Files under ``root`` (the server's store, cache and log) holding the password or user."""
    return [str(path) for path in root.rglob("*")
            if path.is_file() and (PASSWORD.encode() in path.read_bytes() or USER.encode() in path.read_bytes())]


def test_path_git_and_private_index_lock_install_and_verify(server, private_index, tmp_path: Path,
                                                           run_thamos) -> None:
    host, server_root = server
    project = tmp_path / "project"
    setuptools_project(project / "mylib", "mylib", "0.3.0", ["signals>=1.1"])
    repository, first = git_repository(tmp_path / "gitlib", "gitlib", "1.0", ["templating>=2"])
    _project(project, host, private_index.url, repository)
    env = thamos_env(tmp_path, PRIV_USER=USER, PRIV_PASS=PASSWORD)
    pipfile_before = (project / "Pipfile").read_bytes()

    # An unset variable: a clear error naming it, exit code of bad input, nothing written or sent.
    unset = {key: value for key, value in env.items() if key != "PRIV_PASS"}
    before = snapshot(project)
    result = run_thamos("advise", cwd=project, env=unset, timeout=300)
    assert result.returncode == exit_codes.BAD_INPUT, result.stderr
    assert "PRIV_PASS is not set" in result.stderr and "Traceback" not in result.stderr
    assert snapshot(project) == before

    advised = _ok(run_thamos("advise", cwd=project, env=env, timeout=600))
    assert PASSWORD not in advised.stdout + advised.stderr
    lock = _lock_matches_pipfile(project)
    assert (project / "Pipfile").read_bytes() == pipfile_before
    assert lock["_meta"]["sources"][0]["url"].startswith("http://${PRIV_USER}:${PRIV_PASS}@127.0.0.1:")
    assert lock["default"]["mylib"] == {"editable": True, "path": "./mylib"}
    assert lock["default"]["gitlib"] == {"git": f"file://{repository}", "ref": first}
    assert {"signals", "templating", "http-client", "markup-escape"} <= set(lock["default"])
    assert all(entry.get("index") == "private" and entry["hashes"] for name, entry in lock["default"].items()
               if name not in ("mylib", "gitlib"))
    log = _ok(run_thamos("log", cwd=project, env=env)).stdout
    assert "gitlib" in log and PASSWORD not in log and USER not in log
    assert _leaks(server_root) == []

    _ok(run_thamos("install", cwd=project, env=env, timeout=600))
    _ok(run_thamos("verify", cwd=project, env=env, timeout=300))
    python = project / ".venv" / "local" / "bin" / "python"
    check = "import mylib, gitlib, signals, templating; print(mylib.__file__, gitlib.VERSION)"
    shown = subprocess.run([str(python), "-c", check], capture_output=True, text=True, check=True).stdout
    assert str(project / "mylib") in shown and "1.0" in shown  # editable: the project's own file

    # The branch moves on: verify tells the installed commit from the locked one after a new lock.
    second = commit_version(repository, "gitlib", "1.1", ["templating>=2"])
    _ok(run_thamos("advise", cwd=project, env=env, timeout=600))
    assert json.loads((project / "Pipfile.lock").read_text())["default"]["gitlib"]["ref"] == second
    result = run_thamos("verify", cwd=project, env=env, timeout=300)
    assert result.returncode == exit_codes.LOCK_MISMATCH and first in result.stderr and second in result.stderr
    _ok(run_thamos("install", cwd=project, env=env, timeout=600))
    _ok(run_thamos("verify", cwd=project, env=env, timeout=300))
    assert _leaks(server_root) == []
