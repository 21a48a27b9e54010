"""The exit codes are an interface: scripts test the numbers, so the numbers are pinned here, not
compared with the constants that define them."""

from __future__ import annotations

import re
from pathlib import Path

from thamos import exit_codes

DOCUMENTED = {
    "OK": 0,
    "GENERIC_ERROR": 1,
    "BAD_INPUT": 2,
    "CONFIGURATION_ERROR": 3,
    "BACKEND_UNREACHABLE": 4,
    "ANALYSIS_FAILED": 5,
    "TIMEOUT": 6,
    "LOCK_MISMATCH": 7,
    "INTERRUPTED": 130,
}


def test_each_exit_code_keeps_its_documented_number() -> None:
    assert {name: getattr(exit_codes, name) for name in DOCUMENTED} == DOCUMENTED
    assert {name for name in vars(exit_codes) if name.isupper()} == set(DOCUMENTED)


def test_the_readme_table_lists_the_same_numbers() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.rst").read_text(encoding="utf-8")
    table = readme.split("\nExit codes\n", 1)[1].split("\nLibrary use\n", 1)[0]
    assert [int(number) for number in re.findall(r"^(\d+) {2,}\S", table, re.MULTILINE)] == [
        0, 1, 2, 3, 4, 5, 6, 7, 130
    ]
