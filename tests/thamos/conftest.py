"""Fixtures of the thamos client tests: a clean environment, a runner for the real command and
tiny stand-in HTTP servers (a backend answering 500, one that never finishes, one that records)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.thamos.fake_backend import FakeBackend

REPO_ROOT = Path(__file__).resolve().parents[2]


def thamos_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment for a thamos subprocess: no THAMOS_* leaking in, everything under tmp_path."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("THAMOS_", "PIP_", "VIRTUAL_ENV"))}
    env.update(
        {
            "THAMOS_NO_PROGRESSBAR": "1",
            "THAMOS_NO_INTERACTIVE": "1",
            "THAMOS_NO_EMOJI": "1",
            "THAMOS_DATA_DIR": str(tmp_path / "thamos-data"),
            "THAMOS_CACHE_DIR": str(tmp_path / "thamos-cache"),
            "THAMOS_RETRY_ON_ERROR_SLEEP": "0",
            "PIP_CONFIG_FILE": os.devnull,
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PYTHONPATH": str(REPO_ROOT),
        }
    )
    env.update(extra)
    return env


Runner = Callable[..., subprocess.CompletedProcess]


@pytest.fixture
def run_thamos(tmp_path: Path) -> Runner:
    """Run ``python -m thamos ARGS`` in ``cwd`` and return the completed process (text output)."""

    def run(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120,
            **extra_env: str) -> subprocess.CompletedProcess:
        environment = env if env is not None else thamos_env(tmp_path)
        environment = {**environment, **extra_env}
        return subprocess.run(
            [sys.executable, "-m", "thamos", *args],
            cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout, check=False,
        )

    return run


@pytest.fixture
def fake_backend() -> Iterator[FakeBackend]:
    backend = FakeBackend()
    yield backend
    backend.stop()


def snapshot(directory: Path) -> dict[str, bytes]:
    """Bytes of every file under ``directory`` (to prove a command left user files unchanged)."""
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file() and ".venv" not in path.parts and not path.name.startswith(".thoth_last_analysis_id")
    }
