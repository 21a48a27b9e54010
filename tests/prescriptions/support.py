"""Helpers for the prescription tests: repositories written on disk, compiled knowledge bases,
and the real sample of the public knowledge base (read from ../shared, never copied)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from adviser.prescriptions.compiled import KnowledgeBase, compile_sources
from adviser.prescriptions.sources import resolve_sources

SAMPLE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "thoth-prescriptions-sample" / "prescriptions"
PUBLIC_INDEX = "https://public-index.invalid/simple"


def write_repository(root: Path, files: dict[str, str], name: str = "team", release: str = "1.0") -> Path:
    """A prescription repository: the metadata file (unless ``name`` is None) and ``files``."""
    root.mkdir(parents=True, exist_ok=True)
    if name is not None:
        (root / "_prescription_metadata.yaml").write_text(f"prescription:\n  name: {name}\n  release: '{release}'\n")
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def compiled(cache_dir: Path, *sources: str | Path) -> Path:
    return compile_sources(resolve_sources([str(s) for s in sources], cache_dir), cache_dir)


def knowledge(cache_dir: Path, *sources: str | Path) -> KnowledgeBase:
    return KnowledgeBase(compiled(cache_dir, *sources))
