"""The atomic writer: a file is either fully old or fully new, and a failed write changes nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stackfiles.atomic import check_writable, write_file_atomically, write_files_atomically
from stackfiles.errors import StackFileWriteError


def test_replaces_a_single_file_whole_and_keeps_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "Pipfile.lock"
    target.write_text("old content that is longer than the new one\n")
    target.chmod(0o640)
    write_file_atomically(target, "new\n")
    assert target.read_text() == "new\n"
    assert target.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Pipfile.lock"]


def test_a_failure_while_writing_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    target = tmp_path / "Pipfile"
    target.write_text("[packages]\nflask = '*'\n")
    with pytest.raises(UnicodeEncodeError):
        write_file_atomically(target, "[packages]\n" + "\udc80")  # not encodable: fails mid-write
    assert target.read_text() == "[packages]\nflask = '*'\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Pipfile"]


def test_several_files_none_replaced_when_one_cannot_be_prepared(tmp_path: Path) -> None:
    first = tmp_path / "Pipfile"
    first.write_text("old Pipfile\n")
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a directory is needed\n")
    with pytest.raises(StackFileWriteError, match="blocker"):
        write_files_atomically({first: "new Pipfile\n", blocker / "Pipfile.lock": "new lock\n"})
    assert first.read_text() == "old Pipfile\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Pipfile", "blocker"]


def test_new_file_gets_the_umask_mode(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        write_file_atomically(tmp_path / "new.txt", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "new.txt").stat().st_mode & 0o777 == 0o644


def test_check_writable_names_the_directory(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StackFileWriteError, match="Cannot write to .*file"):
        check_writable(blocker / "below")
