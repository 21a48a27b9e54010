"""thamos prints the analysis' page in the server's web view after advise and in `status`."""

from __future__ import annotations

import re
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.thamos.conftest import thamos_env
from tests.userapi.conftest import ServerProcess, free_port, request, server_environment

PYTHON_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"


@pytest.fixture
def server(sample_index, tmp_path: Path) -> Iterator[ServerProcess]:
    data_dir, cache_dir = tmp_path / "server-data", tmp_path / "server-cache"
    process = ServerProcess(
        port=free_port(), data_dir=data_dir, cache_dir=cache_dir,
        args=["--default-index", f"main={sample_index.url}"],
        env=server_environment(data_dir, cache_dir, sample_index.url),
    )
    process.start()
    yield process
    process.stop()


def thamos(*args: str, project: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "thamos", *args], cwd=project, env=env, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, (result.stdout, result.stderr)
    return result


def test_advise_and_status_print_the_analysis_page(server, sample_index, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / ".thoth.yaml").write_text(
        f"host: {server.base_url}\ntls_verify: false\nrequirements_format: pipenv\nruntime_environments:\n"
        f"  - name: local\n    operating_system:\n      name: debian\n      version: '12'\n"
        f"    python_version: '{PYTHON_VERSION}'\n    platform: '{sysconfig.get_platform()}'\n"
    )
    (project / "Pipfile").write_text(
        f'[[source]]\nurl = "{sample_index.url}"\nverify_ssl = true\nname = "sample"\n\n'
        f'[packages]\nwebapp-framework = "*"\n\n[requires]\npython_version = "{PYTHON_VERSION}"\n'
    )
    env = thamos_env(tmp_path, THAMOS_NO_COLOR="1", COLUMNS="300")
    advised = thamos("advise", project=project, env=env)
    analysis_id = (project / ".thoth_last_analysis_id").read_text().strip()
    link = f"{server.base_url}/web/advise/{analysis_id}"
    assert f"Analysis page: {link}" in advised.stdout + advised.stderr
    status, _, page = request("GET", link, headers={"Accept": "text/html"})
    assert status == 200 and analysis_id in page and ">finished<" in page
    shown = thamos("status", project=project, env=env).stdout
    assert re.search(rf"page\s.*{re.escape(link)}", shown), shown
