"""`thamos serve --token-file`: the token is read from a file, so it never shows in the process list,
and the server requires it."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from tests.userapi.conftest import free_port, request, server_environment

TOKEN = "file-token-4f8a"


def test_thamos_serve_reads_its_token_from_a_file(tmp_path: Path):
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    port = free_port()
    env = server_environment(tmp_path / "data", tmp_path / "cache", None)
    command = [sys.executable, "-m", "thamos", "serve", "--host", "127.0.0.1", "--port", str(port),
               "--token-file", str(token_file)]
    assert TOKEN not in " ".join(command)  # what ps would show
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}/api/v1"
        for _ in range(200):
            try:
                if request("GET", base + "/version")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        status, _, _ = request("GET", base + "/advise/python/adviser-240101120000-0123456789abcdef")
        assert status == 401
        status, _, _ = request("GET", base + "/advise/python/adviser-240101120000-0123456789abcdef",
                               headers={"Authorization": f"Bearer {TOKEN}"})
        assert status == 404
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()
