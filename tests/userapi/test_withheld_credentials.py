"""Index credentials a client expanded from its environment (``expanded_sources``) are used for the
run and never stored: not in the stored request, the log, the result or the server's own log; an
analysis holding them is never answered from the result cache; after a restart its rerun fails
asking for a new run (the credentials were only in the stopped server's memory)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from tests.support.index_server import SAMPLE_DISTS
from tests.userapi.conftest import advise_body, request, wait_for_document
from userapi.withheld import LOST, Redactor

USER, PASSWORD = "deploy-robot", "s3cret-Pa55word"


def _body(index) -> dict:
    written = index.url.replace("http://", "http://${PRIV_USER}:${PRIV_PASS}@")
    body = advise_body(written)
    body["expanded_sources"] = [
        {"url": written, "expanded_url": index.url.replace("http://", f"http://{USER}:{PASSWORD}@")}
    ]
    return body


def _leaks(*roots: Path) -> list[str]:
    return [str(path) for root in roots for path in root.rglob("*") if path.is_file()
            and (PASSWORD.encode() in path.read_bytes() or USER.encode() in path.read_bytes())]


def test_credentials_are_used_never_stored_and_never_cached(start_server, package_index) -> None:
    private = package_index(SAMPLE_DISTS, basic_auth=(USER, PASSWORD))
    server = start_server()
    status, _, accepted = request("POST", server.api_url + "/advise/python", _body(private))
    assert status == 202, accepted
    document = wait_for_document(server.api_url, "/advise/python", accepted["analysis_id"])
    assert document["result"]["error"] is False, document["result"]["error_msg"]
    lock = document["result"]["report"]["products"][0]["project"]["requirements_locked"]
    assert lock["_meta"]["sources"][0]["url"].startswith("http://${PRIV_USER}:${PRIV_PASS}@")
    with sqlite3.connect(server.data_dir / "analyses.db") as db:
        (stored,) = db.execute("SELECT request FROM analyses WHERE id = ?", (accepted["analysis_id"],)).fetchone()
    assert '"expanded_sources": [{"url": "http://${PRIV_USER}:${PRIV_PASS}@' in stored
    # The same request again is run again (its credentials may differ), not answered from the cache.
    _, _, again = request("POST", server.api_url + "/advise/python", _body(private))
    assert again["cached"] is False and again["analysis_id"] != accepted["analysis_id"]
    wait_for_document(server.api_url, "/advise/python", again["analysis_id"])
    _, _, log = request("GET", f"{server.api_url}/advise/python/{accepted['analysis_id']}/log")
    assert log["log"] and PASSWORD not in log["log"]
    server.stop()
    assert _leaks(server.data_dir, server.cache_dir) == [] and PASSWORD not in server.log()


def test_rerun_after_a_restart_asks_for_a_new_run(start_server, package_index) -> None:
    private = package_index(SAMPLE_DISTS, basic_auth=(USER, PASSWORD), delay=0.4)
    server = start_server()
    _, _, accepted = request("POST", server.api_url + "/advise/python", _body(private))
    analysis_id = accepted["analysis_id"]
    deadline = time.monotonic() + 30
    while request("GET", f"{server.api_url}/advise/python/{analysis_id}/status")[2]["status"]["state"] != "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    server.kill()
    private.set_delay(0.0)
    restarted = start_server(data_dir=server.data_dir, cache_dir=server.cache_dir)
    document = wait_for_document(restarted.api_url, "/advise/python", analysis_id)
    assert document["result"]["error"] is True and document["result"]["error_msg"] == LOST
    assert "run `thamos advise` again" in LOST
    restarted.stop()
    assert _leaks(server.data_dir, server.cache_dir) == []


def test_redactor_hides_userinfo_and_values_but_keeps_placeholders() -> None:
    redactor = Redactor([{"url": "u", "expanded_url": f"https://{USER}:{PASSWORD}@host/simple"}])
    line = f"pip: Looking in indexes: https://{USER}:****@host/simple; token {PASSWORD}; https://${{U}}:${{P}}@host"
    assert redactor.text(line) == "pip: Looking in indexes: https://***@host/simple; token ***; https://${U}:${P}@host"
    document = {"sources": ["https://${U}:${P}@host/simple"], "message": f"failed with {PASSWORD}"}
    assert redactor.document(document) == {"sources": ["https://${U}:${P}@host/simple"], "message": "failed with ***"}
    assert Redactor(None).document(document) is document
