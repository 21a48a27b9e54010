"""The lock hash: known values computed by pipenv, and a live comparison with the installed pipenv."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from stackfiles.pipfile import pipfile_hash, read_pipfile, same_lock_inputs

# Pipfiles and the _meta.hash.sha256 that pipenv 2026.10.3 computed for each (Pipfile.calculate_hash,
# with pip's configuration isolated by PIP_CONFIG_FILE=/dev/null, as pipenv adds configured extra
# indexes to a Pipfile that has no [[source]]).
WITH_SOURCES = """\
[[source]]
name = "pypi"
url = "https://example.invalid/simple"
verify_ssl = true

[packages]
flask = "==3.0.0"

[dev-packages]
PyTest = "*"

[requires]
python_version = "3.11"
"""
TWO_SOURCES_EMPTY_REQUIRES = """\
[[source]]
name = "main"
url = "https://example.invalid/simple"
verify_ssl = false

[[source]]
name = "extra"
url = "https://extra.invalid/simple"
verify_ssl = true

[packages]
numpy = {version = "*", index = "extra"}
six = {version = "*", markers = "python_version < '3.12'"}

[requires]

[scripts]
hello = "echo"
"""
NO_SOURCE = """\
[packages]
Django = "*"
requests = {version = ">=2", extras = ["socks"]}
"""
NO_SOURCE_DEV_ONLY_CATEGORY = """\
[packages]

[dev-packages]
ruff = "*"

[docs]
Sphinx_RTD_theme = "*"
"""
ONLY_REQUIRES = """\
[requires]
python_full_version = "3.9.13"
"""
VECTORS = [
    (WITH_SOURCES, "199017bb20ac4381623ff1f18a039736bb516ed711a2e04e0c0ccd98ce4c35e5"),
    (TWO_SOURCES_EMPTY_REQUIRES, "63774ac023406c701c4bac4a1976cd285dfb3a268d94bd07649e7c26341619a6"),
    (NO_SOURCE, "c08f0bb6e7db069a396d3e9e254a83197c6a68b4f544d6b4100e42e39919e02e"),
    (NO_SOURCE_DEV_ONLY_CATEGORY, "fd9cf70ca59b07fcd65d182d3c41c796683dbd60a230319e0e5c76a3fd57baff"),
    (ONLY_REQUIRES, "efdfc93150b57abfcaa631a01a9268c35e7f5c5db48730caaf4e1ed959abab4d"),
]
PIPENV_HASH = """
import os, sys
os.environ["PIPENV_PIPFILE"] = sys.argv[1]
from pipenv.project import Project
print(Project(chdir=False).pipfile.calculate_hash())
"""


@pytest.mark.parametrize(("text", "expected"), VECTORS, ids=lambda v: v if len(v) == 64 else None)
def test_known_values(text: str, expected: str) -> None:
    assert pipfile_hash(read_pipfile(text, "Pipfile")) == expected


@pytest.mark.parametrize("text", [text for text, _ in VECTORS])
def test_equal_to_what_the_installed_pipenv_computes(text: str, tmp_path: Path) -> None:
    pipfile = tmp_path / "Pipfile"
    pipfile.write_text(text)
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull, "PIPENV_VERBOSITY": "-1", "HOME": str(tmp_path)}
    answer = subprocess.run(
        [sys.executable, "-c", PIPENV_HASH, str(pipfile)], capture_output=True, text=True, env=env, cwd=tmp_path,
        check=True, timeout=60,
    )
    assert answer.stdout.strip().splitlines()[-1] == pipfile_hash(read_pipfile(text, "Pipfile"))


def test_thoth_section_and_scripts_do_not_change_the_hash() -> None:
    plain = read_pipfile(WITH_SOURCES, "Pipfile")
    edited = read_pipfile(WITH_SOURCES + '\n[thoth]\ndisable_index_adjustment = true\n[scripts]\nx = "y"\n', "Pipfile")
    assert same_lock_inputs(plain, edited)


def test_name_spelling_does_not_change_the_hash_but_a_version_does() -> None:
    base = read_pipfile(WITH_SOURCES, "Pipfile")
    respelled = read_pipfile(WITH_SOURCES.replace("flask", "Flask"), "Pipfile")
    bumped = read_pipfile(WITH_SOURCES.replace("3.0.0", "3.0.1"), "Pipfile")
    assert same_lock_inputs(base, respelled)
    assert not same_lock_inputs(base, bumped)
