"""The server's advisory data: the shipped snapshot by default, a URL source fetched and refreshed
(the last good copy kept when a refresh fails), GET /advisories and ``thamos advisories``."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from packaging.version import Version

from adviser.advisories import load_advisories, snapshot_notes
from adviser.advisory_source import AdvisoryRefresher, local_copy
from tests.thamos.conftest import thamos_env
from tests.userapi.conftest import request

OSV = {
    "id": "PYSEC-2099-1",
    "modified": "2099-01-02T03:04:05Z",
    "summary": "werkzeug 3.0.0 is bad",
    "affected": [
        {
            "package": {"name": "Werkzeug", "ecosystem": "PyPI"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "3.0.0"}, {"fixed": "3.0.1"}]}],
        }
    ],
}


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


class OsvServer:
    """An HTTP server of one OSV zip (as the OSV export is served), or failing with 500 on demand."""

    def __init__(self, archive: Path) -> None:
        self.archive, self.failing, self.requests = archive, False, 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                outer.requests += 1
                if outer.failing:
                    self.send_error(500, "down for maintenance")
                    return
                body = outer.archive.read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", "application/zip")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://reader:s3cret-word@127.0.0.1:{self.httpd.server_address[1]}/PyPI/all.zip"


@pytest.fixture
def osv_server(tmp_path):
    archive = tmp_path / "all.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("PYSEC-2099-1.json", json.dumps(OSV))
    server = OsvServer(archive)
    yield server
    server.httpd.shutdown()


def test_a_url_source_is_fetched_and_its_last_good_copy_kept(osv_server, tmp_path):
    logged: list[str] = []
    refresher = AdvisoryRefresher(osv_server.url, tmp_path / "cache", 3600, log=lambda _level, text: logged.append(text))
    assert refresher.due() == 0.0
    assert refresher.refresh()
    database = load_advisories(osv_server.url, tmp_path / "cache")
    assert database.source.startswith("http://***@127.0.0.1:") and database.date == "2099-01-02"
    assert [a.id for a in database.lookup("werkzeug", Version("3.0.0"))] == ["PYSEC-2099-1"]
    assert 3590 < refresher.due() <= 3600
    osv_server.failing = True
    assert not refresher.refresh()
    assert local_copy(osv_server.url, tmp_path / "cache").is_file()
    kept = load_advisories(osv_server.url, tmp_path / "cache")
    assert kept.lookup("werkzeug", Version("3.0.0"))
    warnings = [message for level, message in snapshot_notes(kept, True) if level == "WARNING"]
    assert any("last refresh of http://***@" in m and "HTTP Error 500" in m for m in warnings), warnings
    assert "failed" in logged[-1] and "last good copy is kept" in logged[-1]
    assert not any("s3cret" in text for text in logged + warnings + [kept.describe()])


def test_a_url_never_fetched_falls_back_to_the_shipped_snapshot_with_a_warning(tmp_path):
    database = load_advisories("http://127.0.0.1:9/all.zip", tmp_path / "cache")
    assert database.date == "2024-10-10"
    assert any("has not been fetched yet" in m for level, m in snapshot_notes(database, False) if level == "WARNING")


def test_the_server_reports_the_shipped_snapshot_with_no_set_up(start_server):
    server = start_server()
    status, _, body = request("GET", server.api_url + "/advisories")
    assert status == 200, body
    assert body["source"] == "PyPA advisory database" and body["date"] == "2024-10-10"
    assert body["stale"] is True and body["advisories"] > 2000 and body["configured"] is None
    assert "advisory snapshot PyPA advisory database of 2024-10-10" in server.log()


def run_thamos(*args: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "thamos", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def test_the_server_fetches_a_url_source_and_thamos_advisories_shows_it(start_server, osv_server, tmp_path):
    server = start_server("--advisory-db", osv_server.url, "--advisory-refresh", "3600")
    body = {}
    for _ in range(100):
        status, _, body = request("GET", server.api_url + "/advisories")
        if body.get("date") == "2099-01-02":
            break
        threading.Event().wait(0.1)
    assert body["date"] == "2099-01-02" and body["refresh_interval"] == 3600 and body["stale"] is False
    assert body["configured"].startswith("http://***@") and "s3cret" not in json.dumps(body)
    assert "(refreshed)" in server.log() and "s3cret" not in server.log()
    project = tmp_path / "project"
    project.mkdir()
    (project / ".thoth.yaml").write_text(CONFIG.format(host=server.base_url))
    result = run_thamos("advisories", "-o", "json", cwd=project, env=thamos_env(tmp_path))
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["date"] == "2099-01-02" and shown["advisories"] == 1


def test_thamos_advisories_warns_about_stale_data(start_server, tmp_path):
    server = start_server()
    project = tmp_path / "project"
    project.mkdir()
    (project / ".thoth.yaml").write_text(CONFIG.format(host=server.base_url))
    result = run_thamos("advisories", cwd=project, env=thamos_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "2024-10-10" in result.stdout and "PyPA advisory database" in result.stdout
    assert "days old" in result.stderr
