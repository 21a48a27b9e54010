"""An index that sends its answer one byte at a time passes every read timeout: each answer has a
time budget, and the analysis a total deadline, after which it fails with a clear message."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.adviser.engine_support import pipfile, run


@pytest.fixture
def drip_index():
    """An index whose every answer trickles in at one byte per 0.1 s (and never ends in time)."""
    stop = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802
            body = b"<html><body>" + b" " * 10_000 + b"</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            for byte in body:
                if stop.is_set():
                    return
                try:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(0.1)

        def log_message(self, *_args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/simple/"
    stop.set()
    server.shutdown()


def test_an_answer_dripping_in_is_cut_at_its_time_budget(drip_index, tmp_cache_dir):
    started = time.monotonic()
    document = run(pipfile([("drip", drip_index)], 'six = "*"'), tmp_cache_dir,
                   settings={"response_budget": 1.0, "timeout": 5.0, "analysis_deadline": None})
    assert time.monotonic() - started < 4
    assert document["error"] is True
    assert "could not be read" in document["error_msg"] and "time budget ran out" in document["error_msg"]


def test_the_analysis_deadline_stops_it_and_frees_the_worker(drip_index, tmp_cache_dir):
    started = time.monotonic()
    document = run(pipfile([("drip", drip_index)], 'six = "*"'), tmp_cache_dir,
                   settings={"response_budget": None, "timeout": 5.0, "analysis_deadline": 1.5})
    assert time.monotonic() - started < 4
    assert document["error"] is True
    assert document["error_msg"].startswith("The analysis was stopped: the analysis did not finish within its "
                                            "deadline of 1.5 s"), document["error_msg"]


def test_the_servers_analysis_deadline_reaches_the_adviser(monkeypatch):
    from userapi.jobs import build_adviser_settings
    from userapi.settings import load_settings

    monkeypatch.delenv("THAMOS_ANALYSIS_DEADLINE", raising=False)
    assert build_adviser_settings(load_settings().adviser_options()).analysis_deadline == 300.0
    monkeypatch.setenv("THAMOS_ANALYSIS_DEADLINE", "42")
    assert build_adviser_settings(load_settings().adviser_options()).analysis_deadline == 42.0
    assert build_adviser_settings(load_settings(analysis_deadline="none").adviser_options()).analysis_deadline is None
