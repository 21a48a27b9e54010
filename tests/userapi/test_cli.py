"""`python -m userapi` with bad input: a clear message and a non-zero exit, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.userapi.conftest import REPO_ROOT, free_port, request, server_environment


def run_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = server_environment(tmp_path / "data", tmp_path / "cache", None)
    return subprocess.run(
        [sys.executable, "-m", "userapi", "--port", str(free_port()), *args],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "args,message",
    [
        (["--certfile", "{tmp}/cert.pem"], "both a certificate file and a key file"),
        (["--certfile", "{tmp}/none.pem", "--keyfile", "{tmp}/none.key"], "does not exist"),
        (["--workers", "0"], "workers must be at least 1"),
        (["--config", "{tmp}/missing.yaml"], "cannot read the settings file"),
        (["--config", "{tmp}/bad.yaml"], "unknown settings: colour"),
        (["--container-images", "{tmp}/images.yaml"], "must be a list of images"),
        (["--data-dir", "{tmp}/a-file"], "a-file"),
        (["--token-file", "{tmp}/no-token"], "cannot read the token file"),
        (["--idle-timeout", "-5"], "idle_timeout must be positive"),
        (["--config", "{tmp}/environments.yaml"], "environment 1 of the settings lacks os_version"),
    ],
)
def test_bad_settings_are_reported_plainly(tmp_path, args, message):
    (tmp_path / "cert.pem").write_text("not really a certificate")
    (tmp_path / "bad.yaml").write_text("colour: blue\n")
    (tmp_path / "images.yaml").write_text("os_name: debian\n")
    (tmp_path / "environments.yaml").write_text(
        "environments:\n- {os_name: fedora, python_version: '3.12'}\n"
    )
    (tmp_path / "a-file").write_text("a file where the data directory should be")
    completed = run_cli(tmp_path, *[arg.format(tmp=tmp_path) for arg in args])
    assert completed.returncode == 2, completed.stderr
    assert message in completed.stderr
    assert "Traceback" not in completed.stderr


def test_port_in_use_is_a_clear_error(tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = server_environment(tmp_path / "data", tmp_path / "cache", None)
        completed = subprocess.run(
            [sys.executable, "-m", "userapi", "--port", str(port)],
            env=env,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert completed.returncode != 0
    assert "address already in use" in completed.stderr.lower()
    assert "Traceback" not in completed.stderr


def test_settings_file_changes_what_the_server_lists(start_server, tmp_path):
    images = tmp_path / "images.json"
    images.write_text(
        '[{"os_name": "fedora", "os_version": "41", "python_version": "3.13", "image_name": "f41"}]'
    )
    settings = tmp_path / "server.yaml"
    settings.write_text(
        "environments:\n"
        "- {os_name: fedora, os_version: '41', python_version: '3.13', platform: linux-aarch64}\n"
        f"container_images: {images}\n"
        "known_indexes:\n"
        "- {name: internal, url: 'http://127.0.0.1:9/simple/', verify_ssl: false}\n"
        "default_index: 'main=http://127.0.0.1:8/simple/'\n"
    )
    server = start_server("--config", str(settings))
    _, _, environments = request("GET", server.api_url + "/python/environment")
    assert environments["environment"] == [
        {
            "os_name": "fedora",
            "os_version": "41",
            "python_version": "3.13",
            "platform": "linux-aarch64",
            "cuda_version": None,
            "image": None,
        }
    ]
    _, _, platforms = request("GET", server.api_url + "/python/platform")
    assert platforms["platform"] == ["linux-aarch64"]
    _, _, images_page = request("GET", server.api_url + "/container-images")
    assert [image["image_name"] for image in images_page["container_images"]] == ["f41"]
    _, _, indexes = request("GET", server.api_url + "/python-package-index")
    assert [(index["name"], index["verify_ssl"]) for index in indexes["indexes"]] == [
        ("main", True),
        ("internal", False),
    ]


def test_two_servers_on_one_store_is_refused(start_server, tmp_path):
    first = start_server()
    completed = subprocess.run(
        [sys.executable, "-m", "userapi", "--port", str(free_port())],
        env=first.env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 2
    assert f"another server (pid {first.process.pid}) already uses the analyses database" in completed.stderr
    assert "Traceback" not in completed.stderr
