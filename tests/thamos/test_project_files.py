"""Project files: atomic writes, the advised write-back per format, requirement editing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from thamos import manifest
from thamos.exceptions import BadInputError, ProjectWriteError, ThamosError
from thamos.install import check_lock
from thamos.project_files import (
    ProjectFiles,
    atomic_write,
    atomic_write_many,
    check_writable,
    parse_pipfile,
    pipfile_hash,
    render_requirements_txt,
)

PIPFILE = """\
# my project
[[source]]
url = "http://127.0.0.1:1/simple/"
verify_ssl = false
name = "local"

[packages]
flask = "*"   # the web framework

[dev-packages]

[requires]
python_version = "3.11"

[thoth]
allow_prereleases = {black = true}
"""

SHA_A = "a" * 64
SHA_B = "b" * 64


def _lock_for(pipfile_text: str, packages: dict | None = None) -> dict:
    pipfile = parse_pipfile(pipfile_text, "Pipfile")
    return {
        "_meta": {
            "hash": {"sha256": pipfile_hash(pipfile)},
            "pipfile-spec": 6,
            "requires": pipfile.get("requires", {}),
            "sources": pipfile.get("source", []),
        },
        "default": packages if packages is not None else {
            "flask": {"version": "==2.3.0", "hashes": [f"sha256:{SHA_A}"], "index": "local"},
            "colorama": {"version": "==0.4.6", "hashes": [f"sha256:{SHA_B}"], "index": "local",
                         "markers": "platform_system == 'Windows'"},
        },
        "develop": {},
    }


def test_atomic_write_replaces_and_keeps_mode(tmp_path: Path) -> None:
    target = tmp_path / "Pipfile"
    target.write_text("old")
    target.chmod(0o640)
    atomic_write(target, "new")
    assert target.read_text() == "new"
    assert (target.stat().st_mode & 0o777) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Pipfile"]


def test_atomic_write_many_leaves_everything_unchanged_on_failure(tmp_path: Path) -> None:
    first = tmp_path / "Pipfile"
    first.write_text("pipfile")
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a directory is expected")
    with pytest.raises(ProjectWriteError, match="Cannot write .*blocker/Pipfile.lock"):
        atomic_write_many({first: "changed", blocker / "Pipfile.lock": "lock"})
    assert first.read_text() == "pipfile"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Pipfile", "blocker"]


def test_check_writable_says_how_to_see_the_advice_anyway(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a directory is expected")
    with pytest.raises(ProjectWriteError, match=r"^Cannot write to .*blocker/below: .*; the lock could not be "
                                                r"saved \(use --no-write to only see the advice\)$"):
        check_writable(blocker / "below")


def test_pipenv_write_back_keeps_identical_pipfile_bytes(tmp_path: Path) -> None:
    (tmp_path / "Pipfile").write_text(PIPFILE)
    lock = _lock_for(PIPFILE)
    files = ProjectFiles(tmp_path, "pipenv")
    written = files.write_advised(parse_pipfile(PIPFILE, "Pipfile"), lock, dev=False)
    assert written == [tmp_path / "Pipfile.lock"]
    assert (tmp_path / "Pipfile").read_text() == PIPFILE
    assert json.loads((tmp_path / "Pipfile.lock").read_text()) == lock


def test_pipenv_write_back_with_a_changed_pipfile_keeps_the_lock_hash_valid(tmp_path: Path) -> None:
    (tmp_path / "Pipfile").write_text(PIPFILE)
    advised = parse_pipfile(PIPFILE, "Pipfile")
    advised["source"] = [{"url": "http://127.0.0.1:2/simple/", "verify_ssl": False, "name": "other"}]
    advised.pop("thoth")
    lock = _lock_for(PIPFILE)
    lock["_meta"]["hash"]["sha256"] = pipfile_hash(advised)
    files = ProjectFiles(tmp_path, "pipenv")
    files.write_advised(advised, lock, dev=False)
    new_pipfile = parse_pipfile((tmp_path / "Pipfile").read_text(), "Pipfile")
    assert pipfile_hash(new_pipfile) == lock["_meta"]["hash"]["sha256"]
    # Sections that do not enter the hash are kept from the user's file.
    assert new_pipfile["thoth"] == {"allow_prereleases": {"black": True}}
    assert "# my project" in (tmp_path / "Pipfile").read_text()


@pytest.mark.parametrize("requirements_format", ["pip", "pip-tools"])
def test_pip_formats_write_requirements_txt_with_hashes(tmp_path: Path, requirements_format: str) -> None:
    (tmp_path / "requirements.in").write_text("flask\n")
    files = ProjectFiles(tmp_path, requirements_format)
    files.write_advised({}, _lock_for(PIPFILE), dev=False)
    text = (tmp_path / "requirements.txt").read_text()
    assert "--index-url http://127.0.0.1:1/simple/" in text
    assert "flask==2.3.0" in text and f"--hash=sha256:{SHA_A}" in text
    assert "platform_system == 'Windows'" in text
    assert (tmp_path / "requirements.in").read_text() == "flask\n"
    assert not (tmp_path / "Pipfile.lock").exists()


def test_requirements_txt_rendering_honours_dev() -> None:
    lock = _lock_for(PIPFILE)
    lock["develop"] = {"pytest": {"version": "==8.0.0", "hashes": [f"sha256:{SHA_B}"], "index": "local"}}
    assert "pytest==8.0.0" not in render_requirements_txt(lock, dev=False)
    assert "pytest==8.0.0" in render_requirements_txt(lock, dev=True)


def test_read_stack_pipenv_sends_lock_and_constraints(tmp_path: Path) -> None:
    (tmp_path / "Pipfile").write_text(PIPFILE)
    (tmp_path / "Pipfile.lock").write_text(json.dumps(_lock_for(PIPFILE)))
    (tmp_path / "constraints.txt").write_text("flask<3\n")
    stack = ProjectFiles(tmp_path, "pipenv").read_stack()
    assert stack.requirements == PIPFILE
    assert json.loads(stack.requirements_lock)["default"]["flask"]["version"] == "==2.3.0"
    assert stack.constraints == "flask<3\n"
    assert ProjectFiles(tmp_path, "pipenv").read_stack(with_lock=False).requirements_lock is None


def test_read_stack_pip_tools_uses_in_file_and_txt_lock(tmp_path: Path) -> None:
    (tmp_path / "requirements.in").write_text("flask\n")
    (tmp_path / "requirements.txt").write_text("flask==2.3.0\n")
    stack = ProjectFiles(tmp_path, "pip-tools").read_stack()
    assert stack.requirements == "flask\n" and stack.requirements_lock == "flask==2.3.0\n"
    assert stack.requirements_format == "pip-tools"


def test_malformed_pipfile_is_bad_input_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "Pipfile").write_text("[packages\nflask = '*'\n")
    with pytest.raises(BadInputError, match="Pipfile"):
        ProjectFiles(tmp_path, "pipenv").read_stack()


def test_malformed_lock_is_bad_input(tmp_path: Path) -> None:
    (tmp_path / "Pipfile").write_text(PIPFILE)
    (tmp_path / "Pipfile.lock").write_text("{not json")
    with pytest.raises(BadInputError, match="Pipfile.lock"):
        ProjectFiles(tmp_path, "pipenv").read_stack()


def test_missing_input_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="No Pipfile"):
        ProjectFiles(tmp_path, "pipenv").read_stack()


def test_last_analysis_id_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = ProjectFiles(tmp_path / "overlays" / "env", "pipenv")
    monkeypatch.delenv("THAMOS_DISABLE_LAST_ANALYSIS_ID_FILE", raising=False)
    files.remember_analysis_id("adviser-240101120000-0123456789abcdef")
    assert files.recall_analysis_id() == "adviser-240101120000-0123456789abcdef"
    assert (tmp_path / "overlays" / "env" / ".thoth_last_analysis_id").is_file()
    monkeypatch.setenv("THAMOS_DISABLE_LAST_ANALYSIS_ID_FILE", "1")
    files.remember_analysis_id("adviser-240101120000-ffffffffffffffff")
    assert files.recall_analysis_id() == "adviser-240101120000-0123456789abcdef"


def test_a_bad_word_for_the_last_analysis_id_file_is_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    # The analysis is submitted by then: remembering its id stays a convenience, never a failure.
    files = ProjectFiles(tmp_path, "pipenv")
    monkeypatch.setenv("THAMOS_DISABLE_LAST_ANALYSIS_ID_FILE", "sometimes")
    files.remember_analysis_id("adviser-240101120000-0123456789abcdef")
    assert files.recall_analysis_id() is None
    assert "THAMOS_DISABLE_LAST_ANALYSIS_ID_FILE must be one of" in caplog.text
    monkeypatch.setenv("THAMOS_DISABLE_LAST_ANALYSIS_ID_FILE", "no")
    files.remember_analysis_id("adviser-240101120000-0123456789abcdef")
    assert files.recall_analysis_id() == "adviser-240101120000-0123456789abcdef"


def test_add_and_remove_keep_pipfile_formatting(tmp_path: Path) -> None:
    (tmp_path / "Pipfile").write_text(PIPFILE)
    files = ProjectFiles(tmp_path, "pipenv")
    manifest.add(files, ["requests>=2.30", "Flask[async]<4; python_version >= '3.8'"])
    manifest.add(files, ["pytest"], dev=True)
    text = (tmp_path / "Pipfile").read_text()
    data = parse_pipfile(text, "Pipfile")
    assert data["packages"]["requests"] == ">=2.30"
    assert data["packages"]["flask"] == {"version": "<4", "extras": ["async"], "markers": 'python_version >= "3.8"'}
    assert data["dev-packages"] == {"pytest": "*"}
    assert "# my project" in text
    manifest.remove(files, ["Requests", "pytest"])
    data = parse_pipfile((tmp_path / "Pipfile").read_text(), "Pipfile")
    assert "requests" not in data["packages"] and data["dev-packages"] == {}
    with pytest.raises(BadInputError, match="numpy"):
        manifest.remove(files, ["numpy"])
    with pytest.raises(BadInputError):
        manifest.add(files, ["not a requirement!!"])


def test_add_and_remove_in_requirements_in(tmp_path: Path) -> None:
    (tmp_path / "requirements.in").write_text("# deps\nflask>=2\n")
    files = ProjectFiles(tmp_path, "pip-tools")
    manifest.add(files, ["flask>=3", "requests"])
    assert (tmp_path / "requirements.in").read_text() == "# deps\nflask>=3\nrequests\n"
    manifest.remove(files, ["flask"])
    assert (tmp_path / "requirements.in").read_text() == "# deps\nrequests\n"
    assert not any(name.endswith(".tmp") for name in os.listdir(tmp_path))


LOCAL_SOURCE = {"url": "http://127.0.0.1:1/simple/", "verify_ssl": True, "name": "local"}
NO_SOURCE_PIPFILE = """\
# deployed with thamos
[packages]
flask = "*"   # the web framework

[requires]
python_version = "3.11"
"""


def _advised_with(pipfile_text: str, **changes: object) -> dict:
    advised = parse_pipfile(pipfile_text, "Pipfile")
    advised.update(changes)
    return advised


def _micropipenv_verifies(directory: Path) -> None:
    # micropipenv reads both files itself, as an s2i build would; it also checks the lock's Python.
    lock_path = directory / "Pipfile.lock"
    lock = json.loads(lock_path.read_text())
    lock["_meta"]["requires"] = {}
    lock_path.write_text(json.dumps(lock))
    result = subprocess.run([sys.executable, "-m", "micropipenv", "verify"], cwd=directory, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_source_added_to_a_pipfile_without_one_goes_on_top_cleanly(tmp_path: Path) -> None:
    (tmp_path / "Pipfile").write_text(NO_SOURCE_PIPFILE)
    advised = _advised_with(NO_SOURCE_PIPFILE, source=[LOCAL_SOURCE], **{"dev-packages": {}})
    lock = _lock_for(NO_SOURCE_PIPFILE)
    lock["_meta"]["hash"]["sha256"] = pipfile_hash(advised)
    written = ProjectFiles(tmp_path, "pipenv").write_advised(advised, lock, dev=False)
    assert written == [tmp_path / "Pipfile", tmp_path / "Pipfile.lock"]
    text = (tmp_path / "Pipfile").read_text()
    assert text == (
        '[[source]]\nurl = "http://127.0.0.1:1/simple/"\nverify_ssl = true\nname = "local"\n\n' + NO_SOURCE_PIPFILE
    )
    assert check_lock(ProjectFiles(tmp_path, "pipenv")) is not None
    _micropipenv_verifies(tmp_path)


def test_changed_entries_are_edited_in_place(tmp_path: Path) -> None:
    (tmp_path / "Pipfile").write_text(PIPFILE)
    other_source = {"url": "http://127.0.0.1:2/simple/", "verify_ssl": True, "name": "other"}
    advised = _advised_with(
        PIPFILE,
        source=[{**LOCAL_SOURCE, "verify_ssl": False}, other_source],
        packages={"flask": ">=2", "click": {"version": "*", "markers": "python_version >= '3.8'"}},
        requires={"python_version": "3.12"},
    )
    lock = _lock_for(PIPFILE)
    lock["_meta"]["hash"]["sha256"] = pipfile_hash(advised)
    ProjectFiles(tmp_path, "pipenv").write_advised(advised, lock, dev=False)
    text = (tmp_path / "Pipfile").read_text()
    assert text == PIPFILE.replace(
        'name = "local"\n', 'name = "local"\n\n[[source]]\nurl = "http://127.0.0.1:2/simple/"\n'
        'verify_ssl = true\nname = "other"\n'
    ).replace(
        'flask = "*"   # the web framework\n',
        'flask = ">=2"   # the web framework\nclick = {version = "*", markers = "python_version >= \'3.8\'"}\n',
    ).replace('python_version = "3.11"', 'python_version = "3.12"')
    assert pipfile_hash(parse_pipfile(text, "Pipfile")) == lock["_meta"]["hash"]["sha256"]


def test_a_lock_that_does_not_belong_to_its_pipfile_is_not_written(tmp_path: Path) -> None:
    (tmp_path / "Pipfile").write_text(NO_SOURCE_PIPFILE)
    advised = _advised_with(NO_SOURCE_PIPFILE, source=[LOCAL_SOURCE])
    lock = _lock_for(NO_SOURCE_PIPFILE)  # hashed without the source the advised Pipfile adds
    with pytest.raises(ThamosError, match="does not belong to the Pipfile"):
        ProjectFiles(tmp_path, "pipenv").write_advised(advised, lock, dev=False)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["Pipfile"]
    assert (tmp_path / "Pipfile").read_text() == NO_SOURCE_PIPFILE
