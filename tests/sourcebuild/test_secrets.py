"""Secrets of the caller (tokens, database passwords, the index password) never reach a build's
metadata, reason or log lines, whatever the build reads or prints."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

import sourcebuild
from sourcebuild.confine import bwrap_usable
from tests.sourcebuild.conftest import INDEX_PASSWORD, leftovers
from tests.sourcebuild.projects import requires_dist, write_sdist

SECRETS = {
    "THAMOS_TOKEN": "tok-Zq81secret",
    "PGPASSWORD": "pg-Xy77secret",
    "DATABASE_URL": "postgresql://app:db-Pw55secret@db.internal/thamos",
}
# A hostile setup.py: everything it can find goes into the metadata and its output. It reads its
# own environment and, walking up its parents, theirs (/proc/<pid>/environ).
SNOOPING_SETUP_PY = """
    import os, re, sys
    from setuptools import setup

    found = dict(os.environ)
    pid = os.getppid()
    while pid > 1:
        try:
            with open("/proc/%d/environ" % pid, "rb") as handle:
                found["proc-%d" % pid] = handle.read().decode("utf-8", "replace").replace("\\0", " ")
            with open("/proc/%d/stat" % pid) as handle:
                pid = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    if os.path.exists("peek.txt"):  # a file of the caller's that the test names
        try:
            with open(open("peek.txt").read().strip()) as handle:
                found["peeked"] = handle.read().strip()
        except OSError as error:
            found["peeked"] = "unreadable (%s)" % type(error).__name__
    dump = " ".join("%s=%s" % item for item in sorted(found.items()))
    print("SNOOPED " + dump)
    token = re.sub(r"[^A-Za-z0-9]+", "-", os.environ.get("THAMOS_TOKEN", "none"))
    if NAME.endswith("fail"):
        sys.exit("Error: " + dump)
    setup(name=NAME, version="1.0", py_modules=[], description=dump.replace("\\n", " ")[:60000],
          install_requires=["leak-" + token])
"""


def _snooping_sdist(folder, name, peek=None):
    files = {"setup.py": f"NAME = {name!r}\n" + textwrap.dedent(SNOOPING_SETUP_PY)}
    if peek:
        files["peek.txt"] = str(peek)
    return write_sdist(folder, name, "1.0", files)


def _assert_secret_free(*texts):
    for text in texts:
        for secret in [*SECRETS.values(), "db-Pw55secret", INDEX_PASSWORD]:
            assert secret not in text


@pytest.mark.parametrize("sandbox", ["none", "auto"])
def test_secrets_reach_neither_metadata_nor_reason_nor_log(sandbox, tmp_path, indexes, workdir, monkeypatch):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    interpreter = sourcebuild.find_interpreter(None)
    lines: list[str] = []

    built = sourcebuild.prepare_metadata(_snooping_sdist(tmp_path / "ok", "snoop"), interpreter=interpreter,
                                         indexes=indexes, log=lines.append, workdir=workdir, sandbox=sandbox)
    with pytest.raises(sourcebuild.BuildFailed) as caught:
        sourcebuild.prepare_metadata(_snooping_sdist(tmp_path / "fail", "snoop_fail"), interpreter=interpreter,
                                     indexes=indexes, log=lines.append, workdir=workdir, sandbox=sandbox)

    # The build ran and saw an environment without the token.
    assert requires_dist(built.metadata) == ["leak-none"]
    assert caught.value.reason.startswith("getting the build requirements (get_requires_for_build_wheel) failed: ")
    assert "HOME=" in caught.value.reason  # the dump is there, minus the secrets
    _assert_secret_free(built.metadata.decode(), caught.value.reason, caught.value.output, *lines)
    assert leftovers(workdir) == []


_CHILD_BUILD = """
import sys
from pathlib import Path
import sourcebuild
built = sourcebuild.prepare_metadata(Path(sys.argv[1]), interpreter=sourcebuild.find_interpreter(None),
                                     indexes=sourcebuild.IndexConfig(sys.argv[2]), workdir=Path(sys.argv[3]),
                                     sandbox=sys.argv[4])
sys.stdout.write(built.metadata.decode())
"""


def _metadata_built_by_a_caller_with(environment, sdist, indexes, workdir, sandbox):
    """Build from a fresh process whose initial environment (its /proc entry) holds ``environment``."""
    completed = subprocess.run(
        [sys.executable, "-c", _CHILD_BUILD, str(sdist), indexes.index_url, str(workdir), sandbox],
        env={**os.environ, **environment}, capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    return completed.stdout


def test_bubblewrap_hides_the_callers_processes_and_home(tmp_path, indexes, workdir):
    """Values whose names do not look secret escape redaction: only the sandbox keeps them out."""
    home = tmp_path / "home"
    (home / ".config").mkdir(parents=True)
    (home / ".config" / "settings").write_text("opaque-Hm73value\n")
    setting = {"SOME_SETTING": "opaque-Vq42value", "HOME": str(home)}
    sdist = _snooping_sdist(tmp_path, "snoop", peek=home / ".config" / "settings")
    usable, _why = bwrap_usable()
    if not usable:  # a machine without bubblewrap: asking for it is refused, never silently ignored
        with pytest.raises(sourcebuild.BuildFailed, match="bwrap sandbox was asked for"):
            sourcebuild.prepare_metadata(sdist, interpreter=sourcebuild.find_interpreter(None), indexes=indexes,
                                         workdir=workdir, sandbox="bwrap")
        return

    sandboxed = _metadata_built_by_a_caller_with(setting, sdist, indexes, workdir, "bwrap")
    # Without the sandbox the same build finds it in its ancestors' /proc entries: the test is real.
    unsandboxed = _metadata_built_by_a_caller_with(setting, sdist, indexes, workdir, "none")

    assert "HOME=" in sandboxed and "SNOOPED" not in sandboxed  # the dump, not the printed output
    assert "opaque-Vq42value" not in sandboxed
    assert "peeked=unreadable (FileNotFoundError)" in sandboxed  # the caller's files are masked
    assert "opaque-Vq42value" in unsandboxed
    assert "peeked=opaque-Hm73value" in unsandboxed
    assert leftovers(workdir) == []
