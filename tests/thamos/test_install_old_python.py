"""thamos install and verify read what is installed in targets older than Python 3.8 (no importlib.metadata)."""

from __future__ import annotations

from pathlib import Path

import pytest

from thamos.install import inspect_environment

PYENV = Path.home() / ".pyenv" / "versions"


@pytest.mark.parametrize("minor", ["3.6", "3.7"])
def test_inspects_an_interpreter_without_importlib_metadata(minor: str) -> None:
    candidates = sorted(PYENV.glob(f"{minor}.*/bin/python"))
    assert candidates, f"this machine kind provides CPython {minor} under {PYENV}; the test needs it"
    info = inspect_environment(candidates[-1])
    assert info["environment"]["python_version"] == minor
    assert "pip" in {name.lower() for name in info["installed"]}
