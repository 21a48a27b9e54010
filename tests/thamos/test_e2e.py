"""End to end: the real ``thamos`` command against a real ``python -m userapi`` over HTTP, resolving
from the local sample index (the Pipfile's source and the server's default index).

One server serves the whole module. Each test works in its own temporary project with its own
THAMOS_DATA_DIR/THAMOS_CACHE_DIR; virtual environments are real (``python -m venv``) and packages
are installed by pip from the local index with PIP_CONFIG_FILE=/dev/null.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.index_server import Dist, build_index
from tests.thamos.conftest import REPO_ROOT, snapshot, thamos_env
from thamos import exit_codes
from thamos.project_files import parse_pipfile, pipfile_hash

PYTHON_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"
PLATFORM = sysconfig.get_platform()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_ready(port: int, process: subprocess.Popen, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/readiness")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server not ready: {log.read_text()[-2000:]}")


@pytest.fixture(scope="module")
def backend(sample_index, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a real User API server whose default index is the sample index."""
    root = tmp_path_factory.mktemp("userapi")
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("THAMOS_", "PIP_"))}
    env.update({
        "PIP_INDEX_URL": sample_index.url,
        "PIP_CONFIG_FILE": os.devnull,
        "THAMOS_DATA_DIR": str(root / "data"),
        "THAMOS_CACHE_DIR": str(root / "cache"),
        "PYTHONPATH": str(REPO_ROOT),
    })
    log = root / "server.log"
    with log.open("w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "userapi", "--port", str(port), "--data-dir", str(root / "data"),
             "--cache-dir", str(root / "cache")],
            env=env, stdout=log_file, stderr=subprocess.STDOUT,
        )
    try:
        _wait_ready(port, process, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _pipfile(index_url: str, packages: str = 'webapp-framework = "*"') -> str:
    return (
        f'[[source]]\nurl = "{index_url}"\nverify_ssl = true\nname = "sample"\n\n'
        f"[packages]\n{packages}\n\n[dev-packages]\n\n[requires]\npython_version = \"{PYTHON_VERSION}\"\n"
    )


def _environment(name: str, recommendation_type: str = "stable", extra: str = "") -> str:
    return (
        f"  - name: '{name}'\n"
        f"    operating_system:\n      name: debian\n      version: '12'\n"
        f"    python_version: '{PYTHON_VERSION}'\n"
        f"    platform: '{PLATFORM}'\n"
        f"    recommendation_type: {recommendation_type}\n{extra}"
    )


def _config(host: str, *, requirements_format: str = "pipenv", names: tuple[str, ...] = ("local",),
            extra: str = "") -> str:
    environments = "".join(_environment(name) for name in names)
    return (
        f"host: {host}\ntls_verify: false\nrequirements_format: {requirements_format}\n{extra}"
        f"labels:\n  team: thamos-tests\nruntime_environments:\n{environments}"
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    return root


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return thamos_env(tmp_path)


def _ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result


def _lock_matches_pipfile(directory: Path) -> dict:
    lock = json.loads((directory / "Pipfile.lock").read_text())
    pipfile = parse_pipfile((directory / "Pipfile").read_text(), "Pipfile")
    assert lock["_meta"]["hash"]["sha256"] == pipfile_hash(pipfile)
    return lock


def test_config_template_with_env_expansion_then_advise(backend: str, sample_index, project: Path, run_thamos,
                                                        env: dict[str, str], tmp_path: Path) -> None:
    # The seed's template: host from the environment, the rest discovered.
    template = tmp_path / "template.yaml"
    template.write_text(
        "host: {THOTH_HOST}\ntls_verify: false\nrequirements_format: {requirements_format}\n\n"
        "runtime_environments:\n  - name: '{runtime_environment_name}'\n    operating_system:\n"
        "      name: {os_name}\n      version: '{os_version}'\n    labels:\n      foo: bar\n      key: value\n"
        "    hardware:\n      cpu_family: {cpu_family}\n      cpu_model: {cpu_model}\n      gpu_model: {gpu_model}\n"
        "    python_version: '{python_version}'\n    cuda_version: {cuda_version}\n"
        "    recommendation_type: stable\n    platform: '{platform}'\n"
    )
    _ok(run_thamos("config", "--template", str(template), cwd=project, env=env))
    config_text = (project / ".thoth.yaml").read_text()
    assert "host: {THOTH_HOST}" in config_text
    (project / "Pipfile").write_text(_pipfile(sample_index.url))
    # Without expansion the placeholder is an error that says how to enable expansion.
    result = run_thamos("advise", cwd=project, env=env)
    assert result.returncode == exit_codes.CONFIGURATION_ERROR
    assert "THAMOS_CONFIG_EXPAND_ENV" in result.stderr
    _ok(run_thamos("advise", cwd=project, env=env, THAMOS_CONFIG_EXPAND_ENV="1", THOTH_HOST=backend,
                   THAMOS_DISABLE_CUDA="1"))
    lock = _lock_matches_pipfile(project)
    assert lock["default"]["webapp-framework"]["version"].startswith("==")
    assert (project / ".thoth.yaml").read_text() == config_text


@pytest.fixture
def advised_project(backend: str, sample_index, project: Path, run_thamos, env: dict[str, str]) -> Path:
    (project / ".thoth.yaml").write_text(_config(backend, extra="virtualenv: true\n"))
    (project / "Pipfile").write_text(_pipfile(sample_index.url))
    config_before = (project / ".thoth.yaml").read_bytes()
    _ok(run_thamos("advise", "--labels", "requester=e2e", cwd=project, env=env))
    assert (project / ".thoth.yaml").read_bytes() == config_before
    return project


def test_analysis_commands_after_advise(advised_project: Path, run_thamos, env: dict[str, str]) -> None:
    project = advised_project
    analysis_id = (project / ".thoth_last_analysis_id").read_text().strip()
    assert analysis_id.startswith("adviser-")
    status = json.loads(_ok(run_thamos("status", "-o", "json", cwd=project, env=env)).stdout)
    assert status["status"]["state"] == "terminated"
    assert _ok(run_thamos("log", cwd=project, env=env)).stdout.strip()
    document = json.loads(_ok(run_thamos("results", analysis_id, "-o", "json", cwd=project, env=env)).stdout)
    assert document["result"]["error"] is False
    labels_info = json.dumps(document["result"]["parameters"])
    assert "requester" in labels_info and "e2e" in labels_info
    filtered = json.loads(_ok(run_thamos("results", "--filter", "package_name=^webapp", "-o", "json", cwd=project,
                                         env=env)).stdout)
    assert filtered and all(row["package_name"].startswith("webapp") for row in filtered)
    categories = json.loads(_ok(run_thamos("results", "--list-categories", "-o", "json", cwd=project,
                                           env=env)).stdout)
    assert {row["category"] for row in categories} >= {"stack_info", "justification"}
    graph = json.loads(_ok(run_thamos("graph", "-o", "json", cwd=project, env=env)).stdout)
    assert "webapp-framework" in graph["nodes"]
    assert graph["dependencies"]["webapp-framework"]
    assert "webapp-framework" in _ok(run_thamos("graph", cwd=project, env=env)).stdout


def test_diff_really_compares(advised_project: Path, run_thamos, env: dict[str, str]) -> None:
    project = advised_project
    result = _ok(run_thamos("diff", "-o", "json", cwd=project, env=env))
    assert json.loads(result.stdout) == []
    lock = json.loads((project / "Pipfile.lock").read_text())
    original = lock["default"]["signals"]["version"]
    lock["default"]["signals"]["version"] = "==1.0"
    del lock["default"]["templating"]
    lock["default"]["left-over"] = {"version": "==0.1", "hashes": []}
    (project / "Pipfile.lock").write_text(json.dumps(lock))
    rows = json.loads(_ok(run_thamos("diff", "-o", "json", cwd=project, env=env)).stdout)
    by_package = {row["package"]: row for row in rows}
    assert by_package["signals"]["current"] == "1.0" and by_package["signals"]["advised"] == original[2:]
    assert by_package["signals"]["change"] == "upgraded"
    assert by_package["templating"]["change"] == "added"
    assert by_package["left-over"]["change"] == "removed"
    assert run_thamos("diff", "--exit-code", cwd=project, env=env).returncode == 1


def test_install_verify_and_run_in_managed_virtualenv(advised_project: Path, run_thamos,
                                                      env: dict[str, str]) -> None:
    project = advised_project
    (project / ".env").write_text("# variables for thamos run\nAPP_MODE=e2e\n")
    # pip options after `--` reach pip: a dry run installs nothing, so verify then fails.
    _ok(run_thamos("install", "--", "--dry-run", cwd=project, env=env))
    result = run_thamos("verify", cwd=project, env=env)
    assert result.returncode == exit_codes.LOCK_MISMATCH and "not installed" in result.stderr
    _ok(run_thamos("install", cwd=project, env=env))
    venv = project / ".venv" / "local"
    assert (venv / "pyvenv.cfg").is_file()
    _ok(run_thamos("verify", cwd=project, env=env))
    result = run_thamos("run", "--", "python", "-c",
                        "import os, sys, webapp_framework; print(sys.prefix); print(os.environ['APP_MODE']);"
                        " sys.exit(3)", cwd=project, env=env)
    assert result.returncode == 3, result.stderr
    prefix, mode = result.stdout.split()
    assert Path(prefix).resolve() == venv.resolve() and mode == "e2e"
    # Someone changes the environment behind thamos' back: verify notices.
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "uninstall", "-y", "-q", "signals"], check=True,
                   env={**env, "PIP_CONFIG_FILE": os.devnull})
    result = run_thamos("verify", cwd=project, env=env)
    assert result.returncode == exit_codes.LOCK_MISMATCH and "signals" in result.stderr


@pytest.mark.parametrize("requirements_format", ["pip", "pip-tools"])
def test_advise_with_pip_formats(backend: str, sample_index, project: Path, run_thamos, env: dict[str, str],
                                 requirements_format: str) -> None:
    (project / ".thoth.yaml").write_text(_config(backend, requirements_format=requirements_format))
    (project / "requirements.in").write_text("webapp-framework\n")
    _ok(run_thamos("advise", cwd=project, env=env))
    text = (project / "requirements.txt").read_text()
    assert f"--index-url {sample_index.url}" in text
    assert "webapp-framework==" in text and "--hash=sha256:" in text
    assert (project / "requirements.in").read_text() == "webapp-framework\n"
    assert not (project / "Pipfile.lock").exists()
    assert _ok(run_thamos("diff", "-o", "json", cwd=project, env=env)).stdout.strip() == "[]"


def test_advise_install_into_an_activated_virtualenv(backend: str, sample_index, project: Path, run_thamos,
                                                     env: dict[str, str], tmp_path: Path) -> None:
    (project / ".thoth.yaml").write_text(_config(backend, requirements_format="pip-tools"))
    (project / "requirements.in").write_text("webapp-framework\n")
    # A fresh virtualenv activated the usual way (VIRTUAL_ENV); --install follows the advise.
    venv = tmp_path / "fresh-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    activated = {**env, "VIRTUAL_ENV": str(venv)}
    _ok(run_thamos("advise", "--install", "--short", cwd=project, env=activated))
    _ok(run_thamos("verify", cwd=project, env=activated))
    check = subprocess.run([str(venv / "bin" / "python"), "-c", "import webapp_framework"], check=False)
    assert check.returncode == 0


def test_two_runtime_environments_with_overlays(backend: str, sample_index, project: Path, run_thamos,
                                                env: dict[str, str]) -> None:
    (project / ".thoth.yaml").write_text(_config(backend, names=("fedora-33", "ubi-8"),
                                                 extra="overlays_dir: overlays\nvirtualenv: true\n"))
    for name in ("fedora-33", "ubi-8"):
        overlay = project / "overlays" / name
        overlay.mkdir(parents=True)
        (overlay / "Pipfile").write_text(_pipfile(sample_index.url))
        (overlay / ".env").write_text(f"OVERLAY={name}\n")
    (project / "overlays" / "ubi-8" / "constraints.txt").write_text("signals<1.1\n")
    _ok(run_thamos("advise", "-r", "ubi-8", cwd=project, env=env))
    ubi_lock = _lock_matches_pipfile(project / "overlays" / "ubi-8")
    assert not (project / "overlays" / "fedora-33" / "Pipfile.lock").exists()
    assert ubi_lock["default"]["signals"]["version"] == "==1.0"  # the overlay's constraints were applied
    _ok(run_thamos("advise", cwd=project, env=env, THAMOS_RUNTIME_ENVIRONMENT="fedora-33"))
    fedora_lock = _lock_matches_pipfile(project / "overlays" / "fedora-33")
    assert fedora_lock["default"]["signals"]["version"] != "==1.0"
    # install -r NAME acts on that environment only.
    _ok(run_thamos("install", "-r", "ubi-8", cwd=project, env=env))
    assert (project / ".venv" / "ubi-8").is_dir() and not (project / ".venv" / "fedora-33").exists()
    result = _ok(run_thamos("run", "-r", "ubi-8", "--", "python", "-c",
                            "import os, signals; print(os.environ['OVERLAY'], signals.__name__)",
                            cwd=project, env=env))
    assert result.stdout.split()[0] == "ubi-8"
    # A second managed environment (made by `thamos venv --create`); purge -r removes only it.
    result = _ok(run_thamos("venv", "--create", cwd=project, env=env, THAMOS_RUNTIME_ENVIRONMENT="fedora-33"))
    assert Path(result.stdout.strip()) == (project / ".venv" / "fedora-33").resolve()
    _ok(run_thamos("purge", "-r", "fedora-33", cwd=project, env=env))
    assert (project / ".venv" / "ubi-8").is_dir() and not (project / ".venv" / "fedora-33").exists()
    assert not (project / "overlays" / "fedora-33" / ".thoth_last_analysis_id").exists()
    assert (project / "overlays" / "ubi-8" / ".thoth_last_analysis_id").exists()
    _ok(run_thamos("purge", "--all", cwd=project, env=env))
    assert not (project / ".venv").exists()
    assert not (project / "overlays" / "ubi-8" / ".thoth_last_analysis_id").exists()


def test_provenance_check_of_an_advised_lock(advised_project: Path, run_thamos, env: dict[str, str]) -> None:
    result = _ok(run_thamos("provenance-check", cwd=advised_project, env=env))
    assert "no errors" in result.stderr
    lock = json.loads((advised_project / "Pipfile.lock").read_text())
    lock["default"]["signals"]["hashes"] = ["sha256:" + "0" * 64]
    (advised_project / "Pipfile.lock").write_text(json.dumps(lock))
    result = run_thamos("provenance-check", "-o", "json", cwd=advised_project, env=env)
    assert result.returncode == exit_codes.ANALYSIS_FAILED, result.stderr
    assert "signals" in result.stdout


def test_unresolvable_stack_fails_and_leaves_files(backend: str, sample_index, project: Path, run_thamos,
                                                   env: dict[str, str]) -> None:
    (project / ".thoth.yaml").write_text(_config(backend))
    (project / "Pipfile").write_text(_pipfile(sample_index.url, 'webapp-framework = ">=99"'))
    before = snapshot(project)
    result = run_thamos("advise", cwd=project, env=env)
    assert result.returncode == exit_codes.ANALYSIS_FAILED, result.stderr
    assert "webapp-framework" in result.stderr and "Traceback" not in result.stderr
    assert snapshot(project) == before


@pytest.fixture
def slow_index(tmp_path: Path):
    server = build_index([Dist("sluggish", "1.0")], name="slow", root=tmp_path / "slow-index", delay=5.0)
    yield server
    server.stop()


def test_timeout_against_a_slow_index(backend: str, slow_index, project: Path, run_thamos,
                                      env: dict[str, str]) -> None:
    (project / ".thoth.yaml").write_text(_config(backend))
    (project / "Pipfile").write_text(_pipfile(slow_index.url, 'sluggish = "*"'))
    before = snapshot(project)
    result = run_thamos("advise", "--force", cwd=project, env=env, THAMOS_TIMEOUT="1")
    assert result.returncode == exit_codes.TIMEOUT, result.stderr
    assert "THAMOS_TIMEOUT" in result.stderr and "Traceback" not in result.stderr
    assert snapshot(project) == before


def test_ctrl_c_during_advise(backend: str, slow_index, project: Path, env: dict[str, str]) -> None:
    (project / ".thoth.yaml").write_text(_config(backend))
    (project / "Pipfile").write_text(_pipfile(slow_index.url, 'sluggish = ">=0.1"'))
    before = snapshot(project)
    process = subprocess.Popen([sys.executable, "-m", "thamos", "advise", "--force"], cwd=project, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Wait until the analysis was submitted (its id is remembered), then interrupt the polling.
    deadline = time.monotonic() + 30
    while not (project / ".thoth_last_analysis_id").exists():
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.05)
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == exit_codes.INTERRUPTED, stderr
    assert "Traceback" not in stderr
    assert snapshot(project) == before


def test_listings_and_version(backend: str, project: Path, run_thamos, env: dict[str, str]) -> None:
    (project / ".thoth.yaml").write_text(_config(backend))
    versions = json.loads(_ok(run_thamos("version", "-o", "json", cwd=project, env=env)).stdout)
    assert versions["client_version"] and versions["server_version"]
    assert isinstance(json.loads(_ok(run_thamos("environments", "-o", "json", cwd=project, env=env)).stdout), list)
    assert isinstance(json.loads(_ok(run_thamos("images", "-o", "json", cwd=project, env=env)).stdout), list)
    indexes = json.loads(_ok(run_thamos("indexes", "-o", "json", cwd=project, env=env)).stdout)
    assert indexes and all("url" in index for index in indexes)


def test_fresh_machine_advise_starts_and_reuses_the_embedded_backend(sample_index, project: Path, run_thamos,
                                                                     env: dict[str, str], tmp_path: Path) -> None:
    # A fresh machine: no .thoth.yaml, no host, empty HOME and XDG directories (no THAMOS_DATA_DIR),
    # and a Pipfile without [[source]]: the default index comes from pip's configuration.
    home = tmp_path / "home"
    fresh_env = {key: value for key, value in env.items() if key not in ("THAMOS_DATA_DIR", "THAMOS_CACHE_DIR")}
    fresh_env.update({"HOME": str(home), "XDG_DATA_HOME": str(home / "data"), "XDG_CACHE_HOME": str(home / "cache"),
                      "THAMOS_EMBEDDED_PORT": str(_free_port()), "THAMOS_EMBEDDED_IDLE_TIMEOUT": "5",
                      "PIP_INDEX_URL": sample_index.url})
    pipfile = f'[packages]\nwebapp-framework = "*"   # the app\n\n[requires]\npython_version = "{PYTHON_VERSION}"\n'
    (project / "Pipfile").write_text(pipfile)
    (project / "app.py").write_text("import webapp_framework\nimport json\n")
    result = _ok(run_thamos("advise", "-o", "yaml", cwd=project, env=fresh_env))
    assert "requirements_locked" in result.stdout
    # The server's own output (import-time warnings included) goes to its log, not to the user.
    assert "Warning" not in result.stderr, result.stderr
    assert f"(http://127.0.0.1:{fresh_env['THAMOS_EMBEDDED_PORT']}/api/v1)" in result.stderr
    pid_file = home / "data" / "thamos" / "embedded-server.pid"
    server_pid = pid_file.read_text()
    # The source is added on top; the user's lines stay as written; the pair verifies everywhere.
    source_block, rest = (project / "Pipfile").read_text().split("\n\n", 1)
    assert source_block.startswith(f'[[source]]\nurl = "{sample_index.url}"\nverify_ssl = true\nname = ')
    assert rest == pipfile
    _lock_matches_pipfile(project)
    _ok(run_thamos("verify", "--lock-only", cwd=project, env=fresh_env))
    micropipenv = subprocess.run([sys.executable, "-m", "micropipenv", "verify"], cwd=project, capture_output=True,
                                 text=True, check=False)
    assert micropipenv.returncode == 0, micropipenv.stderr
    # A second (submit-only) advise and the analysis commands reuse the same server.
    analysis_id = _ok(run_thamos("advise", "--no-wait", "--force", cwd=project, env=fresh_env)).stdout.strip()
    assert analysis_id.startswith("adviser-")
    assert (project / ".thoth_last_analysis_id").read_text().strip() == analysis_id
    status = json.loads(_ok(run_thamos("status", "-o", "json", cwd=project, env=fresh_env)).stdout)
    assert status["status"]["state"] in ("pending", "running", "terminated")
    assert _ok(run_thamos("log", cwd=project, env=fresh_env)).stdout.strip()
    document = json.loads(_ok(run_thamos("results", "-o", "json", cwd=project, env=fresh_env, timeout=60)).stdout)
    assert document["result"]["error"] is False
    assert pid_file.read_text() == server_pid
    rows = json.loads(_ok(run_thamos("discover", "-o", "json", cwd=project, env=fresh_env)).stdout)
    assert [row["module"] for row in rows] == ["webapp_framework"]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-keyout", str(key),
         "-out", str(cert), "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )
    return cert, key


def _wait_tls_ready(port: int, process: subprocess.Popen, log: Path, cafile: Path) -> None:
    import ssl

    context = ssl.create_default_context(cafile=str(cafile))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()[-2000:]
        try:
            connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=2, context=context)
            connection.request("GET", "/readiness")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(log.read_text()[-2000:])


def test_serve_with_tls_and_token(sample_index, certificate, project: Path, run_thamos, tmp_path: Path,
                                  env: dict[str, str]) -> None:
    cert, key = certificate
    port = _free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "thamos", "serve", "--port", str(port), "--data-dir", str(tmp_path / "d"),
             "--cache-dir", str(tmp_path / "c"), "--workers", "1", "--token", "team-token",
             "--certfile", str(cert), "--keyfile", str(key)],
            env={**env, "PIP_INDEX_URL": sample_index.url}, stdout=log_file, stderr=subprocess.STDOUT,
        )
    try:
        _wait_tls_ready(port, process, log, cert)
        (project / "Pipfile").write_text(_pipfile(sample_index.url))
        config = _config(f"https://127.0.0.1:{port}").replace("tls_verify: false", f"tls_ca_bundle: {cert}")
        (project / ".thoth.yaml").write_text(config)
        _ok(run_thamos("advise", cwd=project, env=env, THAMOS_TOKEN="team-token"))
        _lock_matches_pipfile(project)
        # Without the token the backend refuses; the token is never echoed.
        result = run_thamos("advise", cwd=project, env=env, THAMOS_TOKEN="wrong-token")
        assert result.returncode == exit_codes.GENERIC_ERROR and "HTTP 401" in result.stderr
        assert "wrong-token" not in result.stderr
        # A certificate nobody vouches for is refused (no retries, a clear message).
        (project / ".thoth.yaml").write_text(config.replace(f"tls_ca_bundle: {cert}", "tls_verify: true"))
        result = run_thamos("version", "-o", "json", cwd=project, env=env)
        assert result.returncode == exit_codes.BACKEND_UNREACHABLE
        error = json.loads(result.stdout)["error"]
        assert f"TLS certificate of 127.0.0.1:{port} cannot be verified (self-signed certificate)" in error
        assert "tls_ca_bundle" in error and "tls_verify" in error
        result = run_thamos("advise", cwd=project, env=env, THAMOS_TOKEN="team-token")
        assert result.returncode == exit_codes.BACKEND_UNREACHABLE, result.stderr
        assert f"TLS certificate of 127.0.0.1:{port} cannot be verified" in result.stderr
        assert "Traceback" not in result.stderr and "retrying" not in result.stderr
        # A CA bundle that is not there is a configuration error, found before connecting.
        (project / ".thoth.yaml").write_text(config.replace(f"tls_ca_bundle: {cert}", "tls_ca_bundle: no-such.pem"))
        result = run_thamos("images", cwd=project, env=env)
        assert result.returncode == exit_codes.CONFIGURATION_ERROR and "no-such.pem is not a file" in result.stderr
        # https:// to a plain http server: a TLS failure naming the host, not a traceback or a retry loop.
        plain = sample_index.url.split("/")[2]
        (project / ".thoth.yaml").write_text(config.replace(f"https://127.0.0.1:{port}", f"https://{plain}"))
        result = run_thamos("images", cwd=project, env=env)
        assert result.returncode == exit_codes.BACKEND_UNREACHABLE
        assert f"TLS connection to {plain} failed" in result.stderr and "Traceback" not in result.stderr
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0, log.read_text()


@pytest.mark.parametrize(("stop_signal", "address_from"), [(signal.SIGTERM, "environment"),
                                                          (signal.SIGINT, "settings file")],
                         ids=["SIGTERM-environment", "SIGINT-settings-file"])
def test_serve_takes_address_from_environment_or_settings_and_stops_cleanly(
        tmp_path: Path, env: dict[str, str], stop_signal: signal.Signals, address_from: str) -> None:
    # No --host/--port: THAMOS_SERVER_HOST/PORT, or the --config file, decide where it listens.
    port = _free_port()
    command = [sys.executable, "-m", "thamos", "serve", "--data-dir", str(tmp_path / "d"),
               "--cache-dir", str(tmp_path / "c")]
    if address_from == "environment":
        env = {**env, "THAMOS_SERVER_HOST": "127.0.0.1", "THAMOS_SERVER_PORT": str(port)}
    else:
        settings = tmp_path / "server.yaml"
        settings.write_text(f"host: 127.0.0.1\nport: {port}\n")
        command += ["--config", str(settings)]
    log = tmp_path / "serve.log"
    with log.open("w") as log_file:
        process = subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        _wait_ready(port, process, log)
        process.send_signal(stop_signal)
        assert process.wait(timeout=20) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = log.read_text()
    assert f"Server stopped ({stop_signal.name})" in output
    assert "Traceback" not in output


def _without_write_privilege() -> list[str]:
    """A command prefix under which the permission bits apply (root ignores them unless it drops
    the capabilities that override them)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: a read-only directory cannot be simulated")
    capabilities = "-dac_override,-dac_read_search,-fowner"
    return [setpriv, f"--bounding-set={capabilities}", f"--inh-caps={capabilities}"]


def test_advise_in_a_read_only_project_fails_cleanly(backend: str, sample_index, project: Path,
                                                     env: dict[str, str]) -> None:
    (project / ".thoth.yaml").write_text(_config(backend))
    (project / "Pipfile").write_text(_pipfile(sample_index.url))
    before = snapshot(project)
    project.chmod(0o555)
    try:
        result = subprocess.run([*_without_write_privilege(), sys.executable, "-m", "thamos", "advise"], cwd=project,
                                env=env, capture_output=True, text=True, timeout=120, check=False)
    finally:
        project.chmod(0o755)
    assert result.returncode == exit_codes.GENERIC_ERROR, result.stderr
    assert f"Cannot write to {project}" in result.stderr and "--no-write" in result.stderr
    assert "Traceback" not in result.stderr and "Analysis" not in result.stderr  # refused before submitting
    assert snapshot(project) == before
    assert sorted(path.name for path in project.iterdir()) == [".thoth.yaml", "Pipfile"]


def test_serve_on_a_taken_port_fails_with_a_message(tmp_path: Path, env: dict[str, str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "thamos", "serve", "--port", str(port), "--data-dir", str(tmp_path / "d"),
             "--cache-dir", str(tmp_path / "c")],
            env=env, capture_output=True, text=True, timeout=60, check=False,
        )
    assert result.returncode == exit_codes.GENERIC_ERROR, result.stderr
    assert "The server stopped with an error" in result.stderr and "Traceback" not in result.stderr
