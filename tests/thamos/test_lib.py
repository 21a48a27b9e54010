"""thamos.lib stays the library API of thamos 1.x: every name the README documents is there."""

from __future__ import annotations

import re
from pathlib import Path

from thamos import backend, lib

README = Path(__file__).resolve().parents[2] / "README.rst"


def test_every_documented_name_is_in_lib() -> None:
    text = README.read_text(encoding="utf-8")
    section = text.split("Library use", 1)[1].split("What the adviser does", 1)[0]
    documented = set(re.findall(r"lib\.(\w+)", section)) | set(re.findall(r"``(\w+)``", section))
    documented -= {"thamos", "exceptions"}
    assert {"advise_here", "get_analysis_log", "submit_advise", "whatprovides", "get_versions"} <= documented
    missing = sorted(name for name in documented if not callable(getattr(lib, name, None)))
    assert not missing, f"thamos.lib lacks {missing}"
    assert set(lib.__all__) <= set(dir(lib))


def test_lib_reexports_the_backend_calls_unchanged() -> None:
    # One implementation: the library names are the facade's own functions, not wrappers.
    assert lib.wait_for_results is backend.wait_for_results
    assert lib.submit_advise is backend.submit_advise
