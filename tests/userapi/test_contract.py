"""Contract test: schemathesis drives a running server from its own spec, with all its checks.

No answer may be a server error, every answer must match a status code, schema and content type
the spec declares for its operation, and no request the spec allows may be rejected (the analysis
ids have a declared format, a provenance check's lock is required).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.userapi.conftest import request

CHECKS = "all"


def run_schemathesis(api_url: str, report_dir: Path, *options: str) -> subprocess.CompletedProcess:
    st = Path(sys.executable).parent / "st"
    assert st.exists(), "schemathesis (the dev extra) provides the `st` command"
    return subprocess.run(
        [
            str(st), "run", api_url + "/openapi.json",
            "--checks", CHECKS,
            "--phases", "examples,coverage,fuzzing",
            "--max-examples", "15",
            "--seed", "20261122",
            "--workers", "1",  # 2 races CPython 3.11.7's ast.parse in hypothesis (SystemError)
            "--request-timeout", "20",
            "--no-color",
            "--report-dir", str(report_dir),
            *options,
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=report_dir.parent,  # schemathesis keeps its example database in the working directory
    )  # fmt: skip


def test_schemathesis_finds_no_server_error_and_no_spec_violation(start_server, sample_index, tmp_path):
    server = start_server("--workers", "1", index_url=sample_index.url)
    completed = run_schemathesis(server.api_url, tmp_path / "report")
    assert completed.returncode == 0, completed.stdout[-8000:] + completed.stderr[-2000:]
    selected = re.search(r"Selected: (\d+)/(\d+)", completed.stdout)
    assert selected and selected.group(1) == selected.group(2)  # every operation of the spec
    assert f"Tested: {selected.group(2)}" in completed.stdout
    # The fuzzing left the server healthy.
    assert request("GET", server.base_url + "/readiness")[0] == 200
    assert "Traceback" not in server.log()


def test_token_refusals_are_declared_by_the_spec(start_server, sample_index, tmp_path):
    """With a token configured and none sent, the analysis operations answer 401: the spec says so."""
    server = start_server("--token", "contract-token", index_url=sample_index.url)
    completed = run_schemathesis(
        server.api_url, tmp_path / "report", "--include-path-regex", "^/(advise|provenance)/python"
    )
    assert completed.returncode == 0, completed.stdout[-8000:] + completed.stderr[-2000:]
    assert "Tested: 8" in completed.stdout
    assert "Traceback" not in server.log()


def test_body_that_is_not_utf8_is_a_400(start_server, sample_index):
    server = start_server(index_url=sample_index.url)
    status, _, body = request("POST", server.api_url + "/provenance/python", raw_body=b"\xcc^")
    assert status == 400 and "UTF-8" in body["error"]


def test_body_that_is_not_json_is_a_415(start_server, sample_index):
    server = start_server(index_url=sample_index.url)
    status, _, body = request(
        "POST",
        server.api_url + "/advise/python",
        raw_body=b"requests",
        headers={"Content-Type": "text/plain"},
    )
    assert status == 415 and "text/plain" in body["error"]
