"""The flag reader, the requirements reader and the Pipfile.lock shape check."""

from __future__ import annotations

import pytest

from stackfiles.errors import StackFileError
from stackfiles.flags import parse_flag
from stackfiles.pipfile import read_pipfile
from stackfiles.pipfile_lock import build_pipfile_lock, lock_hash, read_pipfile_lock, render_pipfile_lock
from stackfiles.requirements import read_requirements


@pytest.mark.parametrize("word", ["1", "true", "True", "YES", "on", " yes ", True])
def test_yes_words(word: object) -> None:
    assert parse_flag(word) is True


@pytest.mark.parametrize("word", ["0", "false", "No", "off", "None", "", None, False])
def test_no_words(word: object) -> None:
    assert parse_flag(word) is False


@pytest.mark.parametrize("word", ["y", "n", "enabled", "2"])
def test_other_words_are_refused_by_name(word: str) -> None:
    with pytest.raises(ValueError, match=r"THAMOS_X must be one of"):
        parse_flag(word, name="THAMOS_X")


def test_requirements_lines_keep_options_hashes_and_line_numbers() -> None:
    lines = read_requirements(
        "-i https://index.invalid/simple\n# comment\nflask==3.0 \\\n  --hash=sha256:aa --hash sha256:bb\n--pre\n",
        "requirements.txt",
    )
    assert [(line.number, line.is_option) for line in lines] == [(1, True), (3, False), (5, True)]
    assert lines[0].option == ("-i", "https://index.invalid/simple")
    assert lines[1].hashes == ("sha256:aa", "sha256:bb") and lines[1].pinned_version == "3.0"
    assert lines[2].option == ("--pre", None)


def test_a_bad_requirement_is_named_with_its_line() -> None:
    with pytest.raises(StackFileError, match=r"requirements.in line 2: 'flask=3' is not a valid requirement"):
        read_requirements("six\nflask=3\n", "requirements.in")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[", "not a valid Pipfile.lock"),
        ('{"_meta": {"hash": []}}', "_meta.hash must be an object"),
        ('{"_meta": {"hash": {"sha256": 1}}}', "_meta.hash.sha256 must be a string"),
        ('{"default": {"six": "1.0"}}', "default.six must be an object"),
        ('{"default": {"six": {"hashes": "x"}}}', "default.six.hashes must be a list"),
        ('{"develop": {"x": {"editable": "yes"}}}', "develop.x.editable must be a boolean"),
    ],
)
def test_lock_shapes_are_checked(text: str, message: str) -> None:
    with pytest.raises(StackFileError, match=message):
        read_pipfile_lock(text, "Pipfile.lock")


def test_a_built_lock_reads_back_with_the_pipfile_hash() -> None:
    pipfile = read_pipfile('[[source]]\nname = "a"\nurl = "https://index.invalid/simple"\n[packages]\nsix = "*"\n', "P")
    entry = {"hashes": ["sha256:aa"], "index": "a", "version": "==1.0"}
    lock = build_pipfile_lock(pipfile, {"six": entry}, {"mylib": {"path": "./mylib", "editable": True}})
    again = read_pipfile_lock(render_pipfile_lock(lock), "Pipfile.lock")
    assert again == lock and lock_hash(again) == lock["_meta"]["hash"]["sha256"]
    with pytest.raises(ValueError, match="names index 'b' missing"):
        build_pipfile_lock(pipfile, {"six": {**entry, "index": "b"}}, {})


def test_pipfile_sections_of_the_wrong_kind() -> None:
    with pytest.raises(StackFileError, match=r"Pipfile: \[packages\] must be a table"):
        read_pipfile('packages = 3\n', "Pipfile")
    with pytest.raises(StackFileError, match="Pipfile: not valid TOML"):
        read_pipfile('[packages\n', "Pipfile")
    for section in ("pipenv", "thoth"):  # read as tables later: a value of another kind is named here
        with pytest.raises(StackFileError, match=rf"Pipfile: \[{section}\] must be a table"):
            read_pipfile(f'{section} = 1\n', "Pipfile")
