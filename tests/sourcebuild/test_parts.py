"""The pieces on their own: reasons out of output, redaction, safe unpacking, finding interpreters."""

from __future__ import annotations

import io
import os
import platform
import sys
import tarfile
import zipfile

import pytest

import sourcebuild
from sourcebuild import interpreters
from sourcebuild.reasons import error_detail, network_trouble
from sourcebuild.redaction import Redactor, environment_secrets, url_secrets
from sourcebuild.unpack import SourceError, place_source
from tests.sourcebuild.conftest import leftovers
from tests.sourcebuild.projects import write_sdist

PSYCOPG_OUTPUT = """\
running egg_info
writing psycopg2.egg-info/PKG-INFO

Error: pg_config executable not found.

pg_config is required to build psycopg2 from source.  Please add the directory
containing pg_config to the $PATH or specify the full executable path with the
option:

    python setup.py build_ext --pg-config /path/to/pg_config build ...

If you prefer to avoid building psycopg2 from source, please install the PyPI
'psycopg2-binary' package instead.
"""

TRACEBACK_OUTPUT = """\
Traceback (most recent call last):
  File "setup.py", line 3, in <module>
    import numpy
ModuleNotFoundError: No module named 'numpy'
"""

PIP_OUTPUT = """\
  error: subprocess-exited-with-error
  × Getting requirements to build wheel did not run successfully.
  │ exit code: 1
  ╰─> [1 lines of output]
      error: Microsoft Visual C++ 14.0 or greater is required.
      [end of output]
  note: This error originates from a subprocess, and is likely not a problem with pip.
ERROR: No matching distribution found for cython<3
"""


@pytest.mark.parametrize(
    ("output", "detail"),
    [
        (PSYCOPG_OUTPUT, "pg_config executable not found"),
        (TRACEBACK_OUTPUT, "ModuleNotFoundError: No module named 'numpy'"),
        (PIP_OUTPUT, "No matching distribution found for cython<3"),
        ("compiling\nsrc/x.c:3:10: fatal error: Python.h: No such file or directory\n", "Python.h: No such file or directory"),
        ("just a line\n\n", "just a line"),
        ("", ""),
    ],
)
def test_error_detail(output, detail):
    assert error_detail(output) == detail


def test_network_trouble():
    assert network_trouble("NewConnectionError('x: Failed to establish a new connection: [Errno 111] "
                           "Connection refused')") == "Connection refused"
    assert network_trouble("HTTP error 503 while getting http://x") == "HTTP 503"
    assert network_trouble("ERROR: No matching distribution found for x") is None


def test_redaction():
    secrets = url_secrets("https://alice:p%40ss-Word9@index.example/simple/")
    assert secrets == {"p%40ss-Word9", "p@ss-Word9"}
    assert url_secrets("https://tok-AbCd123@index.example/simple/") == {"tok-AbCd123"}
    environment = {"MY_TOKEN": "tok-123456", "AUTH_ENABLED": "true", "PGPORT": "5432",
                   "DATABASE_URL": "postgres://u:db-secret9@h/d"}
    redactor = Redactor(secrets | environment_secrets(environment))
    text = redactor.text("see https://bob:other@host/x; token tok-123456, db-secret9, p@ss-Word9, port 5432, "
                         "alice says true")
    assert text == "see https://***@host/x; token ***, ***, ***, port 5432, alice says true"
    assert redactor.data(b"Summary: p%40ss-Word9 tok-123456") == b"Summary: *** ***"


def _tar_with(folder, member: tarfile.TarInfo, data: bytes = b"") -> object:
    path = folder / "evil-1.0.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        setup = tarfile.TarInfo("evil-1.0/setup.py")
        setup.size = 0
        archive.addfile(setup, io.BytesIO(b""))
        archive.addfile(member, io.BytesIO(data))
    return path


@pytest.mark.parametrize(
    "member",
    [
        ("evil-1.0/../../escaped.txt", tarfile.REGTYPE, ""),
        ("/tmp/absolute.txt", tarfile.REGTYPE, ""),
        ("evil-1.0/link", tarfile.SYMTYPE, "../../../etc/passwd"),
        ("evil-1.0/hard", tarfile.LNKTYPE, "/etc/passwd"),
    ],
)
def test_unsafe_tar_members_are_refused(member, tmp_path):
    name, kind, target = member
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, target, 0
    archive = _tar_with(tmp_path, info)

    with pytest.raises(SourceError, match=r"^evil-1\.0\.tar\.gz has an unsafe member: "):
        place_source(archive, tmp_path / "out", 16)
    assert not (tmp_path / "escaped.txt").exists()


def test_unsafe_zip_names_are_refused(tmp_path):
    archive = tmp_path / "evil-1.0.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("evil-1.0/setup.py", "")
        handle.writestr("../outside.txt", "x")
    with pytest.raises(SourceError, match="'../outside.txt' points outside the archive"):
        place_source(archive, tmp_path / "out", 16)


def test_archive_bomb_stops_at_the_ceiling(tmp_path):
    archive = tmp_path / "bomb-1.0.tar.gz"
    with tarfile.open(archive, "w:gz") as handle:
        info = tarfile.TarInfo("bomb-1.0/zeros.bin")
        info.size = 5 * 1024 * 1024
        handle.addfile(info, io.BytesIO(bytes(info.size)))
    with pytest.raises(SourceError, match="bomb-1.0.tar.gz unpacks to more than 4 MB"):
        place_source(archive, tmp_path / "out", 1)


def test_archive_over_the_ceiling_is_refused_before_any_work(tmp_path, indexes, workdir):
    big = tmp_path / "big-1.0.tar.gz"
    big.write_bytes(os.urandom(2 * 1024 * 1024))
    with pytest.raises(sourcebuild.BuildFailed) as caught:
        sourcebuild.prepare_metadata(big, interpreter=sourcebuild.find_interpreter(None), indexes=indexes,
                                     limits=sourcebuild.BuildLimits(max_source_mb=1), workdir=workdir)
    assert caught.value.reason == "big-1.0.tar.gz is 2 MB, over the 1 MB ceiling for a source archive"
    assert leftovers(workdir) == []


def test_unsafe_sdist_fails_the_build_with_its_reason(tmp_path, indexes, workdir):
    info = tarfile.TarInfo("evil-1.0/../../escaped.txt")
    archive = _tar_with(tmp_path, info)
    with pytest.raises(sourcebuild.BuildFailed) as caught:
        sourcebuild.prepare_metadata(archive, interpreter=sourcebuild.find_interpreter(None), indexes=indexes,
                                     workdir=workdir)
    assert caught.value.reason.startswith("unpacking the source failed: evil-1.0.tar.gz has an unsafe member: ")
    assert caught.value.permanent is True


def test_not_a_source(tmp_path, indexes):
    wheel = tmp_path / "thing-1.0-py3-none-any.whl"
    wheel.write_bytes(b"")
    with pytest.raises(sourcebuild.BuildFailed, match=r"^thing-1.0-py3-none-any.whl is neither a source folder"):
        sourcebuild.prepare_metadata(wheel, interpreter=sourcebuild.find_interpreter(None), indexes=indexes)
    with pytest.raises(sourcebuild.BuildFailed, match="^missing.tar.gz does not exist$"):
        sourcebuild.prepare_metadata(tmp_path / "missing.tar.gz", interpreter=sourcebuild.find_interpreter(None),
                                     indexes=indexes)
    sdist = write_sdist(tmp_path, "fine", "1.0", {"setup.py": ""})
    old = sourcebuild.Interpreter(path=sys.executable, version="3.6.15", matched=True)
    with pytest.raises(sourcebuild.BuildFailed, match=r"^CPython 3.6.15 cannot run build backends"):
        sourcebuild.prepare_metadata(sdist, interpreter=old, indexes=indexes)


# ---------------------------------------------------------------- interpreters


def test_no_version_is_the_running_interpreter():
    found = sourcebuild.find_interpreter(None)
    assert found == sourcebuild.Interpreter(os.path.abspath(sys.executable), platform.python_version(), True,
                                            platform.python_implementation())


@pytest.mark.parametrize("wanted", ["2.7", "3.6", "3.99", "three"])
def test_unusable_versions_fall_back_to_the_running_interpreter(wanted):
    found = sourcebuild.find_interpreter(wanted)
    assert (found.path, found.matched, found.wanted) == (os.path.abspath(sys.executable), False, wanted)
    assert found.describe().endswith(f", used because no usable Python {wanted} was found")


def test_operator_listed_interpreter_wins_and_probes_are_cached(tmp_path, monkeypatch):
    listed = tmp_path / "bin" / "my-python"
    listed.parent.mkdir()
    listed.symlink_to(sys.executable)
    monkeypatch.setenv("THAMOS_BUILD_PYTHONS", os.pathsep.join(["/nonexistent/python", str(listed)]))
    version = platform.python_version()

    found = sourcebuild.find_interpreter(version)  # exact patch: every candidate of it ties; the list wins

    assert (found.path, found.version, found.matched) == (str(listed), version, True)
    assert interpreters._probe_cache[str(listed)][:2] == (platform.python_implementation(), version)
    listed.unlink()  # a cached probe is not run again, but a vanished file is no candidate
    assert sourcebuild.find_interpreter(version).path != str(listed)


def test_a_launcher_script_such_as_a_pyenv_shim_resolves_to_the_interpreter_it_starts(tmp_path, monkeypatch):
    launcher = tmp_path / "shims" / "python-launcher"
    launcher.parent.mkdir()
    launcher.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    launcher.chmod(0o755)
    monkeypatch.setenv("THAMOS_BUILD_PYTHONS", str(launcher))
    found = sourcebuild.find_interpreter(platform.python_version())
    assert found.path == sys.executable and found.path != str(launcher)


def test_newest_patch_of_the_minor_and_consistency_with_the_candidates():
    minor = f"{sys.version_info[0]}.{sys.version_info[1]}"
    found = sourcebuild.find_interpreter(minor)
    versions = [interpreters._probe(path) for path in interpreters.candidates((sys.version_info[0],
                                                                                 sys.version_info[1]))]
    same_minor = [v for _, v, _real in filter(None, versions) if v.startswith(minor + ".")]
    assert found.matched and found.version == max(same_minor, key=lambda v: tuple(map(int, v.split("."))))
