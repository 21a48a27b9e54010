"""Server settings of sdist builds, and a build seen from the API while it runs.

Settings come from flags, THAMOS_BUILD* variables and the settings file; a value the server
cannot use stops it before it starts, with a message naming the setting.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tests.support.index_server import Dist
from tests.support.source_projects import setuptools_wheels
from tests.userapi.conftest import REPO_ROOT, advise_body, free_port, request, server_environment
from thamos.progress import current_build
from userapi.jobs import build_adviser_settings
from userapi.settings import load_settings

# Long enough for the log to be read while the build runs, whatever the machine's load.
SLOW_SETUP_PY = """\
import time
from setuptools import setup

time.sleep(6)
setup(name="slow", version="1.0", packages=["slow"], install_requires=["signals"])
"""


def test_build_settings_from_file_environment_and_flags(tmp_path, monkeypatch):
    for variable in (
        "THAMOS_SERVER_CONFIG",
        "THAMOS_BUILDS",
        "THAMOS_BUILD_TIMEOUT",
        "THAMOS_BUILD_MEMORY",
        "THAMOS_BUILD_MAX_SOURCE",
        "THAMOS_BUILD_PYTHONS",
    ):
        monkeypatch.delenv(variable, raising=False)
    defaults = load_settings()
    assert (defaults.builds, defaults.build_timeout, defaults.build_memory_mb) == ("always", 120.0, 2048)
    assert defaults.build_max_source_mb == 1024 and defaults.build_pythons == ()

    settings_file = tmp_path / "server.yaml"
    settings_file.write_text("builds: [Psycopg2, cssmin]\nbuild_timeout: 300\nbuild_max_source_mb: 50\n")
    settings = load_settings(settings_file)
    assert settings.builds == ("cssmin", "psycopg2") and settings.build_timeout == 300.0
    monkeypatch.setenv("THAMOS_BUILDS", "never")
    monkeypatch.setenv("THAMOS_BUILD_MEMORY", "512")
    monkeypatch.setenv("THAMOS_BUILD_PYTHONS", os.pathsep.join([sys.executable, sys.executable]))
    settings = load_settings(settings_file, build_timeout="30")
    assert (settings.builds, settings.build_memory_mb, settings.build_timeout) == ("never", 512, 30.0)
    assert settings.build_pythons == (sys.executable, sys.executable)

    # What a worker builds its adviser settings from.
    adviser_settings = build_adviser_settings(settings.adviser_options())
    assert adviser_settings.builds == "never" and adviser_settings.build_memory_mb == 512
    assert (
        adviser_settings.build_max_source_mb == 50
        and adviser_settings.build_pythons == settings.build_pythons
    )
    # Options stored by a server of before the build settings still make settings (the defaults).
    older = {key: value for key, value in settings.adviser_options().items() if not key.startswith("build")}
    assert build_adviser_settings(older).builds == "always"


@pytest.mark.parametrize(
    "args,variables,message",
    [
        (["--builds", "psycopg2,bad name!"], {}, "builds: 'bad name!' is not a package name"),
        (["--builds", ","], {}, "builds is empty"),
        (["--build-timeout", "soon"], {}, "build_timeout must be a number, got 'soon'"),
        (["--build-timeout", "0"], {}, "build_timeout must be a positive number of seconds"),
        (["--build-memory", "10"], {}, "build_memory_mb must be at least 64 (MB)"),
        (
            ["--build-python", "/no/such/python3"],
            {},
            "build python /no/such/python3 is not the absolute path",
        ),
        ([], {"THAMOS_BUILDS": "never,psycopg2"}, "'never' is not a package name"),
        ([], {"THAMOS_BUILD_MEMORY": "lots"}, "build_memory_mb must be a whole number, got 'lots'"),
        ([], {"THAMOS_BUILD_PYTHONS": "python3"}, "build python python3 is not the absolute path"),
        (
            ["--config", "{tmp}/builds.yaml"],
            {},
            "builds must be 'always', 'never' or a list of package names",
        ),
    ],
)
def test_bad_build_settings_stop_the_server_before_it_starts(tmp_path, args, variables, message):
    (tmp_path / "builds.yaml").write_text("builds: 3\n")
    env = server_environment(tmp_path / "data", tmp_path / "cache", None)
    env.update(variables)
    completed = subprocess.run(
        [sys.executable, "-m", "userapi", "--port", str(free_port())]
        + [arg.format(tmp=tmp_path) for arg in args],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 2, completed.stderr
    assert message in completed.stderr and "Traceback" not in completed.stderr
    assert not (tmp_path / "data").exists()  # nothing was started


def test_a_running_build_shows_in_the_log_while_it_runs(package_index, start_server):
    index = package_index([Dist("slow", "1.0", wheel=False, setup_py=SLOW_SETUP_PY), Dist("signals", "1.0")])
    index.add_wheel_files(setuptools_wheels())
    server = start_server("--builds", "slow", "--build-timeout", "90", index_url=index.url)
    status, _, answer = request(
        "POST", f"{server.api_url}/advise/python", advise_body(index.url, {"slow": "*"})
    )
    assert status == 202, answer
    analysis_id = answer["analysis_id"]
    seen_while_running = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status, _, document = request("GET", f"{server.api_url}/advise/python/{analysis_id}")
        if status == 200:
            break
        _, _, log = request("GET", f"{server.api_url}/advise/python/{analysis_id}/log")
        seen_while_running = current_build((log or {}).get("log") or "") or seen_while_running
        time.sleep(0.5)
    assert status == 200, "the analysis did not finish"
    assert seen_while_running is not None and seen_while_running.startswith(
        "building metadata of slow 1.0 (sdist) with CPython 3.11."
    )
    assert "/" not in seen_while_running  # the interpreter's path is left out of the status text
    result = document["result"]
    assert result["error"] is False, result["error_msg"]
    locked = result["report"]["products"][0]["project"]["requirements_locked"]["default"]
    assert set(locked) == {"slow", "signals"}
    _, _, log = request("GET", f"{server.api_url}/advise/python/{analysis_id}/log")
    assert current_build(log["log"]) is None  # finished: no build in progress any more
    assert any(line.startswith("built metadata of slow 1.0 in ") for line in log["log"].splitlines())
