"""Contract test: schemathesis drives a running server from its own spec.

No answer may be a server error, and every answer must match the schema and content type the
spec declares for it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.userapi.conftest import request

CHECKS = "not_a_server_error,response_schema_conformance,content_type_conformance"


def test_schemathesis_finds_no_server_error_and_no_spec_violation(start_server, sample_index, tmp_path):
    server = start_server("--workers", "1", index_url=sample_index.url)
    st = Path(sys.executable).parent / "st"
    assert st.exists(), "schemathesis (the dev extra) provides the `st` command"
    completed = subprocess.run(
        [
            str(st), "run", server.api_url + "/openapi.json",
            "--checks", CHECKS,
            "--phases", "examples,coverage,fuzzing",
            "--max-examples", "15",
            "--seed", "20261122",
            "--workers", "2",
            "--request-timeout", "20",
            "--no-color",
            "--report-dir", str(tmp_path / "report"),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,  # schemathesis keeps its example database in the working directory
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout[-8000:] + completed.stderr[-2000:]
    assert "Tested: 18" in completed.stdout or "passed" in completed.stdout
    # The fuzzing left the server healthy.
    assert request("GET", server.base_url + "/readiness")[0] == 200
    assert "Traceback" not in server.log()


def test_body_that_is_not_utf8_is_a_400(start_server, sample_index):
    server = start_server(index_url=sample_index.url)
    status, _, body = request("POST", server.api_url + "/provenance/python", raw_body=b"\xcc^")
    assert status == 400 and "UTF-8" in body["error"]
