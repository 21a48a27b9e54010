"""Builds that fail: each one a BuildFailed with one clear line (the step, the backend's own error),
the right ``permanent`` flag, nothing left running, the temporary folder gone."""

from __future__ import annotations

import os
import threading
import time
import uuid

import pytest

import sourcebuild
from sourcebuild.confine import bwrap_usable
from tests.sourcebuild.conftest import leftovers
from tests.sourcebuild.projects import write_sdist

PG_CONFIG_SETUP_PY = """
    import sys

    sys.stderr.write("running build_ext\\n")
    print("Error: pg_config executable not found.")
    print("")
    print("pg_config is required to build psycopg2 from source.  Please add the directory")
    print("containing pg_config to the $PATH or specify the full executable path with the option:")
    sys.exit(1)
"""

GREEDY_SETUP_PY = """
    hoard = bytearray(3 * 1024 * 1024 * 1024)
    from setuptools import setup
    setup(name="greedy", version="1.0")
"""


def _build(source, indexes, workdir, **options):
    return sourcebuild.prepare_metadata(source, interpreter=sourcebuild.find_interpreter(None), indexes=indexes,
                                        workdir=workdir, **options)


def test_backend_error_line_becomes_the_reason(tmp_path, indexes, workdir):
    sdist = write_sdist(tmp_path, "psycopg_like", "2.9", {"setup.py": PG_CONFIG_SETUP_PY})
    lines: list[str] = []

    with pytest.raises(sourcebuild.BuildFailed) as caught:
        _build(sdist, indexes, workdir, log=lines.append)

    failure = caught.value
    assert failure.reason.endswith("failed: pg_config executable not found")
    assert failure.reason.startswith("getting the build requirements (get_requires_for_build_wheel)")
    assert "\n" not in failure.reason and "Traceback" not in failure.reason
    assert failure.permanent is True
    assert "pg_config is required" in failure.output
    assert lines[-1].startswith("building metadata of psycopg_like-2.9.tar.gz failed after ")
    assert lines[-1].endswith(": " + failure.reason)
    assert leftovers(workdir) == []


def _marked_processes(marker: str) -> set[int]:
    found = set()
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/cmdline", "rb") as handle:
                    if marker.encode() in handle.read():
                        found.add(int(entry.name))
            except OSError:
                continue
    return found


def test_hanging_build_is_killed_at_the_time_limit(tmp_path, indexes, workdir):
    marker = f"hang-{uuid.uuid4().hex}"
    sdist = write_sdist(tmp_path, "hangs", "1.0", {
        "pyproject.toml": """
            [build-system]
            requires = []
            build-backend = "hang_backend"
            backend-path = ["."]
        """,
        # The hook starts a child (in its own session, as a daemon would) and sleeps forever.
        "hang_backend.py": f"""
            import subprocess, sys, time

            def prepare_metadata_for_build_wheel(directory, config_settings=None):
                subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", "{marker}"],
                                 start_new_session=True)
                time.sleep(600)
        """,
    })
    seen: set[int] = set()
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            seen.update(_marked_processes(marker))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    started = time.monotonic()
    try:
        with pytest.raises(sourcebuild.BuildFailed) as caught:
            _build(sdist, indexes, workdir, limits=sourcebuild.BuildLimits(timeout=3))
    finally:
        stop.set()
        watcher.join()
    elapsed = time.monotonic() - started

    assert caught.value.permanent is False
    assert caught.value.reason == "preparing metadata (prepare_metadata_for_build_wheel) did not finish within 3 s"
    assert elapsed < 8
    assert seen, "the hook's child process never ran"
    assert _marked_processes(marker) == set()
    assert leftovers(workdir) == []


def test_memory_ceiling(tmp_path, indexes, workdir):
    sdist = write_sdist(tmp_path, "greedy", "1.0", {"setup.py": GREEDY_SETUP_PY})

    with pytest.raises(sourcebuild.BuildFailed) as caught:
        _build(sdist, indexes, workdir, limits=sourcebuild.BuildLimits(memory_mb=400))

    assert caught.value.reason.endswith("failed: ran out of memory (the limit is 400 MB)")
    assert leftovers(workdir) == []


def test_missing_build_requirement_is_permanent(tmp_path, indexes, workdir):
    sdist = write_sdist(tmp_path, "needs_missing", "1.0", {
        "pyproject.toml": '[build-system]\nrequires = ["no-such-backend>=1"]\nbuild-backend = "x"\n',
    })

    with pytest.raises(sourcebuild.BuildFailed) as caught:
        _build(sdist, indexes, workdir)

    assert caught.value.reason == (
        "installing the build requirements (no-such-backend>=1) failed: "
        "No matching distribution found for no-such-backend>=1"
    )
    assert caught.value.permanent is True


def test_unreachable_index_is_worth_retrying(tmp_path, workdir):
    sdist = write_sdist(tmp_path, "legacy", "1.0", {"setup.py": "from setuptools import setup\nsetup()\n"})
    closed = sourcebuild.IndexConfig(index_url="http://127.0.0.1:9/simple/")

    with pytest.raises(sourcebuild.BuildFailed) as caught:
        _build(sdist, closed, workdir)

    assert caught.value.reason == (
        "installing the build requirements (setuptools>=40.8.0) failed: "
        "an index could not be reached (Connection refused)"
    )
    assert caught.value.permanent is False


def test_build_requirement_with_a_url_is_refused(tmp_path, indexes, workdir):
    sdist = write_sdist(tmp_path, "url_req", "1.0", {
        "pyproject.toml": '[build-system]\nrequires = ["evil @ file:///etc/passwd"]\nbuild-backend = "x"\n',
    })

    with pytest.raises(sourcebuild.BuildFailed) as caught:
        _build(sdist, indexes, workdir)

    assert "build requirement evil points at a URL" in caught.value.reason


def test_invalid_pyproject(tmp_path, indexes, workdir):
    sdist = write_sdist(tmp_path, "broken", "1.0", {"pyproject.toml": "[build-system\nrequires = \n"})

    with pytest.raises(sourcebuild.BuildFailed) as caught:
        _build(sdist, indexes, workdir)

    assert caught.value.reason.startswith("reading pyproject.toml failed: Failed to parse ")
    assert "sourcebuild-" not in caught.value.reason  # no temporary path
    assert leftovers(workdir) == []


def test_sandbox_setting(tmp_path, indexes, workdir, monkeypatch):
    sdist = write_sdist(tmp_path, "plain", "1.0", {"setup.py": "from setuptools import setup\nsetup()\n"})
    monkeypatch.setenv("THAMOS_BUILD_SANDBOX", "chroot")
    with pytest.raises(sourcebuild.BuildFailed) as caught:
        _build(sdist, indexes, workdir)
    assert caught.value.reason == "THAMOS_BUILD_SANDBOX must be auto, bwrap or none, not 'chroot'"

    # Required bubblewrap: used where it works, a clear refusal where it does not.
    usable, why = bwrap_usable()
    lines: list[str] = []
    if usable:
        _build(sdist, indexes, workdir, sandbox="bwrap", log=lines.append)
        assert lines[0].endswith("sandbox: bwrap")
    else:
        with pytest.raises(sourcebuild.BuildFailed) as caught:
            _build(sdist, indexes, workdir, sandbox="bwrap")
        assert caught.value.reason == f"the bwrap sandbox was asked for (sandbox=bwrap) but {why}"
        assert caught.value.permanent is False
