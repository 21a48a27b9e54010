"""Fixtures for the contract and client-generation tests."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
SPEC_PATH = REPO_ROOT / "openapi" / "openapi.yaml"
GENERATE_SH = REPO_ROOT / "generate.sh"
GENERATED_TREES = ("swagger_client", "Documentation")


@dataclass
class GeneratorRun:
    """Outcome of one generate.sh run."""

    returncode: int
    stdout: str
    stderr: str
    out_dir: Path


def run_generate(spec: Path, out_dir: Path, *, env_overrides: dict[str, str] | None = None) -> GeneratorRun:
    """Run generate.sh with the tools of the interpreter running the tests."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHON"] = sys.executable
    env["SPEC"] = str(spec)
    env["OUT_DIR"] = str(out_dir)
    env.update(env_overrides or {})
    proc = subprocess.run(
        ["bash", str(GENERATE_SH)], env=env, capture_output=True, text=True, timeout=240, check=False
    )
    return GeneratorRun(proc.returncode, proc.stdout, proc.stderr, out_dir)


@pytest.fixture(scope="session")
def spec() -> dict:
    """The contract, parsed."""
    return yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def schemas(spec: dict) -> dict:
    """The spec's component schemas with every $ref resolved, as the server's validators see them."""
    from connexion.json_schema import resolve_refs

    return resolve_refs(copy.deepcopy(spec))["components"]["schemas"]


def check_response(schemas: dict, name: str, document: object) -> None:
    """Validate an answer as the server does before sending it (raises ValidationError)."""
    from connexion.json_schema import Draft4ResponseValidator

    Draft4ResponseValidator(schemas[name]).validate(document)


@pytest.fixture(scope="session")
def generated_twice(tmp_path_factory: pytest.TempPathFactory) -> tuple[GeneratorRun, GeneratorRun]:
    """Two independent generations from the committed spec (the slow part, done once)."""
    runs = []
    for name in ("first", "second"):
        out_dir = tmp_path_factory.mktemp(f"generated-{name}")
        runs.append(run_generate(SPEC_PATH, out_dir))
    return runs[0], runs[1]


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file below root (bytecode caches aside), by relative path."""
    files = {}
    for path in sorted(root.rglob("*")):
        if "__pycache__" in path.parts or not path.is_file():
            continue
        files[path.relative_to(root).as_posix()] = path.read_bytes()
    return files


def copy_spec(tmp_path: Path) -> Path:
    """A private copy of the spec that a test may break."""
    target = tmp_path / "openapi.yaml"
    shutil.copyfile(SPEC_PATH, target)
    return target
