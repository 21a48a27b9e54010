"""Passwords inside URLs never show: not in CLI errors (a host with credentials), not in analysis
errors or logs (a [[source]] with credentials); the request still uses them (the server's stored
results: tests/userapi/test_stored_credentials.py)."""

from __future__ import annotations

import json
import subprocess
import sys

from adviser import AdviserSettings, advise
from tests.adviser.engine_support import LINUX_311, pipfile
from tests.thamos.conftest import thamos_env

SECRET = "s3cret-pass"
CONFIG = """host: {host}
tls_verify: false
requirements_format: pipenv
runtime_environments:
  - name: test
    operating_system:
      name: debian
      version: '12'
    python_version: '3.11'
"""


def test_an_analysis_never_shows_a_sources_password(tmp_path):
    lines: list[str] = []
    text = pipfile([("private", f"http://reader:{SECRET}@127.0.0.1:1/simple/")], 'six = "*"')
    request_body = {"application_stack": {"requirements": text}, "runtime_environment": LINUX_311}
    document = advise(request_body, AdviserSettings(cache_dir=tmp_path), log=lines.append)
    assert document["error"] is True
    assert document["error_msg"] == "Package index http://***@127.0.0.1:1/simple/ could not be read: connection refused"
    assert SECRET not in json.dumps(document) and not any(SECRET in line for line in lines)


def test_cli_errors_never_show_the_hosts_password(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / ".thoth.yaml").write_text(CONFIG.format(host=f"http://user:{SECRET}@127.0.0.1:1"))
    (project / "Pipfile").write_text('[packages]\nsix = "*"\n')
    env = thamos_env(tmp_path, THAMOS_RETRY_ON_ERROR_COUNT="0")
    for command in (["version"], ["advise"], ["version", "-o", "json"]):
        result = subprocess.run([sys.executable, "-m", "thamos", *command], cwd=project, env=env,
                                capture_output=True, text=True, timeout=60, check=False)
        assert "http://***@127.0.0.1:1" in result.stdout + result.stderr, result.stderr
        assert SECRET not in result.stdout + result.stderr
