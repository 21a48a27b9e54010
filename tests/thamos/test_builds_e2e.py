"""End to end: an sdist whose dependencies only a build tells, through ``thamos serve`` settings, a
real server, ``thamos advise`` and ``thamos install`` (which builds and installs it as pip does).

The local index serves the project and setuptools (for the adviser's metadata build and for pip's
own build at install time); nothing reaches the network.
"""

from __future__ import annotations

import json
import sys
import sysconfig
from pathlib import Path

from tests.support.index_server import Dist
from tests.support.source_projects import setuptools_wheels
from tests.thamos.conftest import thamos_env
from tests.userapi.conftest import ServerProcess, free_port, server_environment
from thamos import exit_codes

PYTHON_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"


def _config(host: str) -> str:
    return (
        f"host: {host}\ntls_verify: false\nrequirements_format: pipenv\nvirtualenv: true\n"
        "runtime_environments:\n"
        "  - name: 'local'\n"
        "    operating_system:\n      name: debian\n      version: '12'\n"
        f"    python_version: '{PYTHON_VERSION}'\n"
        f"    platform: '{sysconfig.get_platform()}'\n"
        "    recommendation_type: latest\n"
    )


def _ok(result):
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result


def test_serve_refuses_bad_build_options_before_starting(run_thamos, tmp_path: Path) -> None:
    port = str(free_port())
    result = run_thamos("serve", "--port", port, "--builds", "psycopg2,bad name!", cwd=tmp_path)
    assert result.returncode == exit_codes.BAD_INPUT
    assert "Cannot start the server: builds: 'bad name!' is not a package name" in result.stderr
    result = run_thamos("serve", "--port", port, "--build-python", "/no/such/python3", cwd=tmp_path)
    assert result.returncode == exit_codes.BAD_INPUT and "/no/such/python3" in result.stderr
    result = run_thamos("serve", "--port", port, "--build-memory", "10", cwd=tmp_path)
    assert result.returncode == exit_codes.BAD_INPUT and "--build-memory" in result.stderr
    result = run_thamos("serve", "--port", port, cwd=tmp_path, THAMOS_BUILD_TIMEOUT="never")
    assert result.returncode == exit_codes.BAD_INPUT and "build_timeout must be a number" in result.stderr
    assert "Traceback" not in result.stderr


def test_advise_builds_the_sdist_metadata_and_install_installs_it(package_index, run_thamos, tmp_path: Path) -> None:
    index = package_index(
        [
            Dist("dyn", "1.0", requires_dist=("signals>=1.0",), wheel=False, dynamic_deps=True),
            Dist("signals", "1.0"),
        ]
    )
    index.add_wheel_files(setuptools_wheels())
    data_dir, cache_dir = tmp_path / "server-data", tmp_path / "server-cache"
    server = ServerProcess(
        port=free_port(),
        data_dir=data_dir,
        cache_dir=cache_dir,
        args=["--default-index", f"main={index.url}", "--builds", "dyn", "--build-timeout", "90"],
        env=server_environment(data_dir, cache_dir, index.url),
    )
    server.start()
    try:
        project = tmp_path / "project"
        project.mkdir()
        (project / ".thoth.yaml").write_text(_config(server.base_url))
        (project / "Pipfile").write_text(
            f'[[source]]\nurl = "{index.url}"\nverify_ssl = false\nname = "main"\n\n'
            f'[packages]\ndyn = "*"\n\n[dev-packages]\n\n[requires]\npython_version = "{PYTHON_VERSION}"\n'
        )
        env = thamos_env(tmp_path)
        _ok(run_thamos("advise", cwd=project, env=env))
        lock = json.loads((project / "Pipfile.lock").read_text())
        assert lock["default"]["dyn"]["version"] == "==1.0" and lock["default"]["signals"]["version"] == "==1.0"
        # The lock names the sdist by its hash: pip checks it when it installs.
        assert lock["default"]["dyn"]["hashes"] == [f"sha256:{index.files['dyn-1.0.tar.gz'].sha256}"]
        log = _ok(run_thamos("log", cwd=project, env=env)).stdout
        assert f"building metadata of dyn 1.0 (sdist) with CPython {PYTHON_VERSION}." in log
        document = json.loads(_ok(run_thamos("results", "-o", "json", cwd=project, env=env)).stdout)
        messages = [item["message"] for item in document["result"]["report"]["products"][0]["justification"]]
        assert any(m.startswith("dyn 1.0: dependencies read by building its sdist's metadata") for m in messages)

        _ok(run_thamos("install", cwd=project, env=env, timeout=300))
        _ok(run_thamos("verify", cwd=project, env=env))
        result = _ok(run_thamos("run", "--", "python", "-c", "import dyn, signals; print(dyn.__version__)",
                                cwd=project, env=env))
        assert result.stdout.strip() == "1.0"
    finally:
        server.stop()
