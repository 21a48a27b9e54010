"""Locks: the user's lock is kept where still valid (minimal change), the produced Pipfile.lock
carries the right hash, micropipenv converts it and pip installs the rendered requirements.txt."""

import json
import os
import subprocess
import sys
from pathlib import Path

from stackfiles.pipfile import pipfile_hash, render_pipfile
from stackfiles.requirements import render_requirements_txt
from tests.adviser.engine_support import locked_versions, messages, pipfile, product, run

VENV_BIN = Path(sys.executable).parent


def sample_text(sample_index, packages):
    return pipfile([("sample", sample_index.url)], packages)


def test_lock_hash_matches_the_returned_pipfile(sample_index, tmp_cache_dir):
    document = run(sample_text(sample_index, 'webapp-framework = "*"'), tmp_cache_dir)
    project = product(document)["project"]
    assert project["requirements_locked"]["_meta"]["hash"]["sha256"] == pipfile_hash(project["requirements"])


def test_existing_lock_is_kept_when_its_hash_matches(sample_index, tmp_cache_dir):
    text = sample_text(sample_index, 'signals = "*"')
    older = run(text, tmp_cache_dir, constraints="signals<1.1\n")  # constraints do not enter the hash
    lock = product(older)["project"]["requirements_locked"]
    assert locked_versions(older) == {"signals": "1.0"}
    kept = run(text, tmp_cache_dir, requirements_lock=json.dumps(lock))
    assert locked_versions(kept) == {"signals": "1.0"}
    assert any("Existing lock" in m for m in messages(kept, where="stack_info"))
    assert locked_versions(run(text, tmp_cache_dir)) == {"signals": "1.1"}
    # another Pipfile: the lock is not used
    other = run(
        sample_text(sample_index, 'signals = ">=1.0"'), tmp_cache_dir, requirements_lock=json.dumps(lock)
    )
    assert locked_versions(other) == {"signals": "1.1"}
    assert any("hash differs" in m for m in messages(other, where="stack_info"))


def test_changed_pins_are_justified(sample_index, tmp_cache_dir):
    text = sample_text(sample_index, 'webapp-framework = "*"')
    pipfile_dict = product(run(text, tmp_cache_dir))["project"]["requirements"]
    lock = {
        "_meta": {
            "hash": {"sha256": pipfile_hash(pipfile_dict)},
            "pipfile-spec": 6,
            "requires": {},
            "sources": [],
        },
        "default": {
            "webapp-framework": {"version": "==2.1"},
            "signals": {"version": "==1.2"},  # yanked since
            "templating": {"version": "==2.0"},  # still fine: kept
            "markup-escape": {"version": "==1.0"},  # still fine: kept
            "typing-compat": {"version": "==1.0"},  # not needed on 3.11
        },
        "develop": {},
    }
    document = run(text, tmp_cache_dir, requirements_lock=json.dumps(lock))
    versions = locked_versions(document)
    assert versions["templating"] == "2.0" and versions["markup-escape"] == "1.0"
    assert versions["signals"] == "1.1"
    notes = messages(document)
    assert "signals 1.2 -> 1.1: locked version is yanked" in notes
    assert any(m.startswith("typing-compat 1.0 removed") for m in notes)


def test_transitive_pin_that_no_longer_fits_is_explained(sample_index, tmp_cache_dir):
    text = sample_text(sample_index, 'legacy-tool = "*"')
    pipfile_dict = product(run(text, tmp_cache_dir))["project"]["requirements"]
    lock = {
        "_meta": {"hash": {"sha256": pipfile_hash(pipfile_dict)}},
        "default": {"legacy-tool": {"version": "==1.0"}, "signals": {"version": "==1.0"}},
    }
    document = run(text, tmp_cache_dir, requirements_lock=json.dumps(lock))
    assert locked_versions(document) == {"legacy-tool": "1.0", "signals": "1.1"}
    assert "signals 1.0 -> 1.1: locked version no longer satisfies signals>=1.1" in messages(document)


def test_micropipenv_converts_the_lock(sample_index, tmp_cache_dir, tmp_path):
    document = run(
        sample_text(sample_index, 'webapp-framework = {version = "*", extras = ["async"]}'), tmp_cache_dir
    )
    project = product(document)["project"]
    (tmp_path / "Pipfile").write_text(render_pipfile(project["requirements"], None))
    (tmp_path / "Pipfile.lock").write_text(json.dumps(project["requirements_locked"], indent=4))
    converted = subprocess.run(
        [str(VENV_BIN / "micropipenv"), "requirements", "--no-comments"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert converted.returncode == 0, converted.stderr
    assert "webapp-framework[async]==2.1" in converted.stdout.replace(" ", "")
    assert "--hash=sha256:" in converted.stdout


def test_pip_installs_the_rendered_requirements_with_hashes(sample_index, tmp_cache_dir, tmp_path):
    document = run(sample_text(sample_index, 'webapp-framework = "*"\nfast-parser = "*"'), tmp_cache_dir)
    lock = product(document)["project"]["requirements_locked"]
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(render_requirements_txt(lock, dev=False))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    env = dict(os.environ, PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1")
    env.pop("PIP_INDEX_URL", None)
    installed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "--no-cache-dir",
            "--require-hashes",
            "-r",
            str(requirements),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    listed = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import webapp_framework, fast_parser, signals"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
