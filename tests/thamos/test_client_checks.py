"""What the client can judge itself is refused before anything is sent (exit 2, naming the file,
line or key): wrong Pipfile value types, invalid specifiers and names, an empty Pipfile, unknown pip
options in requirements.in, a file too big to send; an unwritable Pipfile.lock is named."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.thamos.conftest import thamos_env
from thamos import exit_codes
from thamos.exceptions import ProjectWriteError
from thamos.project_files import atomic_write_many

CONFIG = """host: http://127.0.0.1:1
tls_verify: false
requirements_format: {format}
runtime_environments:
  - name: test
    operating_system:
      name: debian
      version: '12'
    python_version: '3.11'
"""


def advise(project: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "thamos", "advise"], cwd=project, capture_output=True, text=True,
                          env=thamos_env(tmp_path, THAMOS_RETRY_ON_ERROR_COUNT="0"), timeout=60, check=False)


@pytest.mark.parametrize(
    ("pipfile", "message"),
    [
        ("[packages]\nrequests = 5\n", "Pipfile: [packages] requests = 5: a package is a version string"),
        ('[packages]\nrequests = ">=>2"\n', "Pipfile: [packages] requests: '>=>2' is not a valid version specifier"),
        ('[dev-packages]\n"bad name!" = "*"\n', "Pipfile: [dev-packages] bad name!: 'bad name!' is not a valid package name"),
        ('[packages]\nflask = {version = 2}\n', "Pipfile: [packages] flask: version = 2 must be a string"),
        ("", "Pipfile lists no packages"),
    ],
)
def test_pipfile_mistakes_are_named_before_sending(tmp_path, pipfile, message):
    project = tmp_path / "project"
    project.mkdir()
    (project / ".thoth.yaml").write_text(CONFIG.format(format="pipenv"))
    (project / "Pipfile").write_text(pipfile)
    result = advise(project, tmp_path)
    assert result.returncode == exit_codes.BAD_INPUT, result.stderr
    assert message in result.stderr and "Backend" not in result.stderr


def test_an_unknown_pip_option_in_requirements_in_is_named(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / ".thoth.yaml").write_text(CONFIG.format(format="pip-tools"))
    (project / "requirements.in").write_text("flask\n--frobnicate\n")
    result = advise(project, tmp_path)
    assert result.returncode == exit_codes.BAD_INPUT, result.stderr
    assert "requirements.in line 2: --frobnicate is not an option pip accepts in a requirements file" in result.stderr


def test_a_pipfile_too_big_to_send_is_refused_before_it_is_parsed(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / ".thoth.yaml").write_text(CONFIG.format(format="pipenv"))
    (project / "Pipfile").write_text("[packages]\n" + "".join(f'p{i} = "*"\n' for i in range(400_000)))
    started = time.monotonic()
    result = advise(project, tmp_path)
    assert result.returncode == exit_codes.BAD_INPUT, result.stderr
    assert "MB: larger than the 4 MB a request may carry" in result.stderr
    assert time.monotonic() - started < 5


def test_an_unwritable_lock_is_named(tmp_path):
    (tmp_path / "Pipfile.lock").mkdir()  # in the way even for root, as a read-only file is for others
    with pytest.raises(ProjectWriteError) as error:
        atomic_write_many({tmp_path / "Pipfile": "[packages]\n", tmp_path / "Pipfile.lock": "{}\n"})
    assert f"Cannot write {tmp_path / 'Pipfile.lock'}: Is a directory" in error.value.message
    assert "Pipfile already written" in error.value.message
