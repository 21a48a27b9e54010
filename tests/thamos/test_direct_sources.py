"""The client's part of the three Pipfile shapes: ${VAR} index URLs expanded from the environment
(only into the request and into pip's temporary input), local path packages prepared here, and
locks with path and git entries rendered for pip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.index_server import Dist
from thamos import install
from thamos.exceptions import BadInputError
from thamos.lib import stack_extras
from thamos.local_packages import pipfile_path_entries, prepare_local_packages
from thamos.project_files import ProjectFiles, render_requirements_txt
from thamos.source_urls import expand_url, expanded_sources, lock_source_urls, requirements_source_urls

PRIVATE = "https://${PRIV_USER}:$PRIV_PASS@packages.example.com/simple"


def test_variables_expand_like_pipenv_and_unset_ones_are_named() -> None:
    environ = {"PRIV_USER": "robot", "PRIV_PASS": "pa$$"}
    assert expand_url(PRIVATE, "here", environ) == "https://robot:pa$$@packages.example.com/simple"
    assert expand_url("https://host/$/simple", "here", {}) == "https://host/$/simple"  # no name: kept
    with pytest.raises(BadInputError) as error:
        expand_url(PRIVATE, "Pipfile [[source]] private", {"PRIV_USER": "robot"})
    assert str(error.value.message) == (
        f"Pipfile [[source]] private: environment variable PRIV_PASS is not set (the index URL {PRIVATE} uses it); "
        "export it before running thamos"
    )
    sources = [("a", PRIVATE), ("b", "https://plain/simple"), ("c", PRIVATE)]
    assert expanded_sources(sources, environ) == [
        {"url": PRIVATE, "expanded_url": "https://robot:pa$$@packages.example.com/simple"}
    ]


def test_requirements_and_lock_urls() -> None:
    text = f"-i {PRIVATE}\n--extra-index-url=https://other/simple\nsignals==1.1\n"
    assert requirements_source_urls(text, "requirements.in") == [
        ("requirements.in line 1", PRIVATE), ("requirements.in line 2", "https://other/simple"),
    ]
    lock = {"_meta": {"sources": [{"name": "private", "url": PRIVATE, "verify_ssl": True}]}}
    with pytest.raises(BadInputError, match="PRIV_USER is not set"):
        lock_source_urls(lock)


def _lock() -> dict:
    return {
        "_meta": {"hash": {"sha256": "x"}, "pipfile-spec": 6, "requires": {},
                  "sources": [{"name": "private", "url": PRIVATE, "verify_ssl": True}]},
        "default": {
            "mylib": {"editable": True, "path": "./mylib"},
            "gitlib": {"git": "https://host/gitlib.git", "ref": "a" * 40},
            "signals": {"hashes": ["sha256:" + "b" * 64], "index": "private", "version": "==1.1"},
        },
        "develop": {},
    }


def test_written_requirements_keep_placeholders_and_direct_entries() -> None:
    text = render_requirements_txt(_lock())
    assert f"--index-url {PRIVATE}" in text
    assert "--editable ./mylib" in text and f"git+https://host/gitlib.git@{'a' * 40}#egg=gitlib" in text


def test_install_splits_direct_entries_and_expands_urls(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PRIV_USER", "robot")
    monkeypatch.setenv("PRIV_PASS", "pass")
    lock = install._with_expanded_sources(_lock(), "Pipfile.lock")
    assert lock["_meta"]["sources"][0]["url"] == "https://robot:pass@packages.example.com/simple"
    indexed, direct = install._split_direct(lock, tmp_path)
    assert set(indexed["default"]) == {"signals"} and set(direct["default"]) == {"mylib", "gitlib"}
    assert direct["default"]["mylib"]["path"] == str(tmp_path / "mylib")
    assert "--editable " + str(tmp_path / "mylib") in render_requirements_txt(direct)
    monkeypatch.delenv("PRIV_PASS")
    with pytest.raises(BadInputError, match="PRIV_PASS is not set"):
        install._with_expanded_sources(_lock(), "Pipfile.lock")


def test_verify_tells_where_a_direct_package_came_from(tmp_path: Path) -> None:
    git_entry, path_entry = {"git": "u", "ref": "a" * 40}, {"path": "./mylib", "editable": True}
    installed_git = {"url": "u", "vcs_info": {"vcs": "git", "commit_id": "b" * 40}}
    assert "installed commit " + "b" * 40 in install._direct_mismatch("gitlib", git_entry, installed_git, tmp_path)
    assert install._direct_mismatch("gitlib", git_entry, {"vcs_info": {"commit_id": "a" * 40}}, tmp_path) is None
    editable = {"url": (tmp_path / "mylib").as_uri(), "dir_info": {"editable": True}}
    assert install._direct_mismatch("mylib", path_entry, editable, tmp_path) is None
    plain = install._direct_mismatch("mylib", path_entry, {"url": editable["url"]}, tmp_path)
    assert plain == "mylib: the lock installs ./mylib editable, the installation differs"
    assert "from an index" in install._direct_mismatch("mylib", path_entry, None, tmp_path)


def _wheel(package_index, name: str) -> Path:
    index = package_index([Dist(name, "0.3.0", requires_dist=("signals>=1.1",))], name=name)
    return index.files[f"{name}-0.3.0-py3-none-any.whl"].path


def test_local_packages_are_prepared_and_checked(package_index, tmp_path: Path) -> None:
    wheel = _wheel(package_index, "mylib")
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / wheel.name).write_bytes(wheel.read_bytes())
    pipfile = {"packages": {"mylib": {"path": f"./dist/{wheel.name}"}, "signals": "*"}, "dev-packages": {}}
    entries = pipfile_path_entries(pipfile)
    [prepared] = prepare_local_packages(tmp_path, entries, python_version="3.11", index_urls=[])
    assert prepared["name"] == "mylib" and prepared["version"] == "0.3.0" and prepared["editable"] is False
    assert "Requires-Dist: signals>=1.1" in prepared["metadata"]
    renamed = [("packages", "otherlib", {"path": f"./dist/{wheel.name}"})]
    with pytest.raises(BadInputError, match="is the project 'mylib', not 'otherlib'"):
        prepare_local_packages(tmp_path, renamed, python_version="3.11", index_urls=[])
    missing = [("dev-packages", "mylib", {"path": "./nowhere"})]
    with pytest.raises(BadInputError, match=r"Pipfile \[dev-packages\] mylib: ./nowhere does not exist"):
        prepare_local_packages(tmp_path, missing, python_version="3.11", index_urls=[])


def test_request_extras_fail_on_an_unset_variable_before_anything(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("PRIV_USER", raising=False)
    (tmp_path / "Pipfile").write_text(f'[[source]]\nurl = "{PRIVATE}"\nname = "private"\n\n[packages]\nsignals = "*"\n')
    files = ProjectFiles(tmp_path, "pipenv")
    with pytest.raises(BadInputError, match="PRIV_USER is not set"):
        stack_extras(files, files.read_stack(), {"python_version": "3.11"})
    monkeypatch.setenv("PRIV_USER", "robot")
    monkeypatch.setenv("PRIV_PASS", "pass")
    extras = stack_extras(files, files.read_stack(), {})
    assert json.dumps(extras) == json.dumps({
        "expanded_sources": [{"url": PRIVATE, "expanded_url": "https://robot:pass@packages.example.com/simple"}],
        "local_packages": [],
    })


def test_report_table_shows_where_direct_packages_come_from() -> None:
    from thamos.commands.analyses import locked_as as _locked_as

    assert _locked_as({"version": "==1.1", "index": "private"}) == "==1.1"
    assert _locked_as({"editable": True, "path": "./mylib"}) == "path ./mylib"
    assert _locked_as({"git": "https://host/a.git", "ref": "0123456789abcdef" * 2 + "01234567"}) == "git 0123456789ab"
