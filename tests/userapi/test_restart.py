"""No accepted analysis is lost: a server killed (or stopped) mid-analysis finishes it after a restart."""

from __future__ import annotations

import os
import signal
import sqlite3
import time

from tests.support.index_server import SAMPLE_DISTS
from tests.userapi.conftest import advise_body, request, wait_for_document


def _wait_for_state(server, analysis_id: str, wanted: str, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, _, body = request("GET", f"{server.api_url}/advise/python/{analysis_id}/status")
        assert status == 200, body
        if body["status"]["state"] == wanted:
            return body
        time.sleep(0.05)
    raise AssertionError(f"{analysis_id} never became {wanted}")


def _state_in_store(data_dir, analysis_id: str) -> tuple[str, int]:
    with sqlite3.connect(data_dir / "analyses.db") as db:
        return db.execute("SELECT state, attempts FROM analyses WHERE id = ?", (analysis_id,)).fetchone()


def _process_group_gone(pgid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def test_killed_server_finishes_the_analysis_after_restart(start_server, package_index):
    slow_index = package_index(SAMPLE_DISTS, delay=0.4)
    server = start_server(index_url=slow_index.url)
    _, _, accepted = request("POST", server.api_url + "/advise/python", advise_body(slow_index.url))
    analysis_id = accepted["analysis_id"]
    _wait_for_state(server, analysis_id, "running")
    # While it runs the document answers 202, never 404.
    status, _, pending = request("GET", f"{server.api_url}/advise/python/{analysis_id}")
    assert status == 202 and pending["status"]["status"]["state"] == "running"

    server.kill()
    assert _state_in_store(server.data_dir, analysis_id) == ("running", 1)
    # Its worker processes notice the server is gone and exit instead of running on.
    assert _process_group_gone(server.process.pid)

    slow_index.set_delay(0.0)
    restarted = start_server(index_url=slow_index.url, data_dir=server.data_dir, cache_dir=server.cache_dir)
    document = wait_for_document(restarted.api_url, "/advise/python", analysis_id)
    assert document["result"]["error"] is False, document["result"]["error_msg"]
    assert document["result"]["report"]["products"][0]["project"]["requirements_locked"]["default"]
    state, attempts = _state_in_store(server.data_dir, analysis_id)
    assert (state, attempts) == ("succeeded", 2)
    _, _, log = request("GET", f"{restarted.api_url}/advise/python/{analysis_id}/log")
    assert "restarted (attempt 2)" in log["log"]


def test_stopped_server_keeps_running_and_queued_analyses(start_server, package_index):
    slow_index = package_index(SAMPLE_DISTS, delay=0.4)
    server = start_server("--workers", "1", index_url=slow_index.url)
    ids = []
    for packages in ({"webapp-framework": "*"}, {"legacy-tool": "*"}, {"plain-sdist": "*"}):
        status, _, accepted = request(
            "POST", server.api_url + "/advise/python", advise_body(slow_index.url, packages)
        )
        assert status == 202
        ids.append(accepted["analysis_id"])
    _wait_for_state(server, ids[0], "running")
    # With one worker busy, the others wait: their documents answer 202 "pending", never 404.
    status, _, pending = request("GET", f"{server.api_url}/advise/python/{ids[2]}")
    assert status == 202 and pending["status"]["status"]["state"] == "pending"
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status tells why it ended.
    assert server.stop(signal.SIGTERM) in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in server.log()
    states = [_state_in_store(server.data_dir, analysis_id)[0] for analysis_id in ids]
    assert states[0] == "running" and states[1:] == ["pending", "pending"]

    slow_index.set_delay(0.0)
    restarted = start_server(index_url=slow_index.url, data_dir=server.data_dir, cache_dir=server.cache_dir)
    for analysis_id in ids:
        document = wait_for_document(restarted.api_url, "/advise/python", analysis_id)
        assert document["result"]["error"] is False, document["result"]["error_msg"]


def test_an_analysis_interrupted_too_often_fails_with_a_reason(start_server, package_index):
    slow_index = package_index(SAMPLE_DISTS, delay=0.5)
    server = start_server(index_url=slow_index.url)
    _, _, accepted = request("POST", server.api_url + "/advise/python", advise_body(slow_index.url))
    analysis_id = accepted["analysis_id"]
    data_dir, cache_dir = server.data_dir, server.cache_dir
    for _round in range(3):
        _wait_for_state(server, analysis_id, "running")
        server.kill()
        server = start_server(index_url=slow_index.url, data_dir=data_dir, cache_dir=cache_dir)
    document = wait_for_document(server.api_url, "/advise/python", analysis_id)
    assert document["result"]["error"] is True
    assert "interrupted 3 times" in document["result"]["error_msg"]
    _, _, status = request("GET", f"{server.api_url}/advise/python/{analysis_id}/status")
    assert status["status"]["state"] == "failed" and "interrupted" in status["status"]["reason"]
