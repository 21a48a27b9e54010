"""generate.sh: reproducible output equal to the committed tree, loud failure on a bad spec.

The generator is slow (a JVM start per call), so the good generations happen once per
session in the `generated_twice` fixture and the failure cases stop before generating.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.spec.conftest import (
    GENERATED_TREES,
    REPO_ROOT,
    GeneratorRun,
    copy_spec,
    run_generate,
    tree_bytes,
)

# Links the generator's own templates put into the output; nothing else may appear.
ALLOWED_URL_PREFIXES = (
    "https://openapi-generator.tech",
    "https://github.com/GIT_USER_ID/GIT_REPO_ID.git",
    "https://github.com/shazow/urllib3/",
    "http://urllib3.readthedocs.io/",
)


def test_generate_sh_is_executable_in_git() -> None:
    mode = subprocess.run(
        ["git", "ls-files", "-s", "generate.sh"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.split()[0]
    assert mode == "100755"


def test_generation_succeeds(generated_twice: tuple[GeneratorRun, GeneratorRun]) -> None:
    for run in generated_twice:
        assert run.returncode == 0, run.stderr
        assert sorted(p.name for p in run.out_dir.iterdir()) == ["Documentation", "swagger_client"]


def test_two_runs_are_byte_identical(generated_twice: tuple[GeneratorRun, GeneratorRun]) -> None:
    first, second = generated_twice
    for tree in GENERATED_TREES:
        assert tree_bytes(first.out_dir / tree) == tree_bytes(second.out_dir / tree), tree


def test_output_equals_the_committed_tree(generated_twice: tuple[GeneratorRun, GeneratorRun]) -> None:
    """Fails when the spec changed without regenerating, or generated files were edited."""
    generated = generated_twice[0]
    for tree in GENERATED_TREES:
        fresh = tree_bytes(generated.out_dir / tree)
        committed = tree_bytes(REPO_ROOT / tree)
        assert sorted(fresh) == sorted(committed), f"{tree}: files differ; run ./generate.sh"
        changed = [name for name in fresh if fresh[name] != committed[name]]
        assert changed == [], f"{tree}: contents differ; run ./generate.sh"
    tracked = subprocess.run(
        ["git", "ls-files", "--", *GENERATED_TREES], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    expected = sorted(
        f"{tree}/{name}" for tree in GENERATED_TREES for name in tree_bytes(generated.out_dir / tree)
    )
    assert sorted(tracked) == expected


def test_output_carries_no_generator_metadata_or_foreign_links(
    generated_twice: tuple[GeneratorRun, GeneratorRun],
) -> None:
    out_dir = generated_twice[0].out_dir
    names = [p.name for p in out_dir.rglob("*")]
    assert not [n for n in names if n.startswith(".openapi-generator") or n in ("FILES", "VERSION")]
    urls = set()
    for tree in GENERATED_TREES:
        for content in tree_bytes(out_dir / tree).values():
            urls.update(re.findall(r"https?://[^\s)\"'>`]+", content.decode("utf-8")))
    assert urls, "expected the generator's own links"
    assert [u for u in urls if not u.startswith(ALLOWED_URL_PREFIXES)] == []


def test_documentation_links_resolve(generated_twice: tuple[GeneratorRun, GeneratorRun]) -> None:
    docs = generated_twice[0].out_dir / "Documentation"
    for page in docs.glob("*.md"):
        for target in re.findall(r"\]\(([^)#\s]+\.md)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            assert (docs / target).is_file(), f"{page.name} links {target}"


def test_yaml_syntax_error_fails_with_the_validator_message(tmp_path: Path) -> None:
    spec = copy_spec(tmp_path)
    text = spec.read_text(encoding="utf-8")
    spec.write_text(text.replace("paths:\n", "paths:\n  /broken: [unclosed\n", 1), encoding="utf-8")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    run = run_generate(spec, out_dir)
    assert run.returncode != 0
    assert "while parsing a flow sequence" in run.stderr.lower()
    assert "openapi-spec-validator rejected" in run.stderr
    assert list(out_dir.iterdir()) == []


def test_generator_warning_fails_although_its_cli_exits_zero(tmp_path: Path) -> None:
    """openapi-spec-validator accepts an unused schema; the generator only warns, with exit 0."""
    spec = copy_spec(tmp_path)
    text = spec.read_text(encoding="utf-8")
    spec.write_text(
        text.replace("  schemas:\n", "  schemas:\n    Orphan:\n      type: object\n", 1), encoding="utf-8"
    )
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    run = run_generate(spec, out_dir)
    assert run.returncode != 0
    assert "Unused model: Orphan" in run.stderr
    assert "openapi-generator validate rejected" in run.stderr
    assert list(out_dir.iterdir()) == []


def test_missing_generator_is_named_with_the_install_command(tmp_path: Path) -> None:
    # The test interpreter, linked from a directory of its own, runs outside its virtualenv:
    # its environment lacks the generator, and so does the PATH given.
    bare_bin = tmp_path / "bin"
    bare_bin.mkdir()
    os.symlink(sys.executable, bare_bin / "python3")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    run = run_generate(
        copy_spec(tmp_path),
        out_dir,
        env_overrides={
            "PATH": f"{bare_bin}{os.pathsep}/usr/bin{os.pathsep}/bin",
            "PYTHON": str(bare_bin / "python3"),
        },
    )
    assert run.returncode != 0
    assert "pip install -e '.[dev]'" in run.stderr
    assert list(out_dir.iterdir()) == []
