"""The adviser: resolves an application stack for a target runtime environment.

``advise`` and ``check_provenance`` take the request dictionaries of the User API and return
the ``result`` part of the analysis document. Heavy modules are imported on first call so that
importing this package stays cheap for the server and the CLI.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from adviser.settings import AdviserSettings

__all__ = ["AdviserSettings", "__version__", "advise", "check_provenance"]


def __getattr__(name: str) -> Any:
    # The adviser ships inside the thamos distribution and shares its version; looked up on demand.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("thamos")
        except PackageNotFoundError:
            return "0+unknown"
    raise AttributeError(f"module 'adviser' has no attribute {name!r}")


def advise(
    request: dict[str, Any], settings: AdviserSettings, log: Callable[[str], None] | None = None
) -> dict:
    """Resolve and lock the application stack of ``request`` (see adviser.engine)."""
    from adviser.engine import advise as _advise

    return _advise(request, settings, log=log)


def check_provenance(
    request: dict[str, Any], settings: AdviserSettings, log: Callable[[str], None] | None = None
) -> dict:
    """Check where the locked artifacts of ``request`` come from (see adviser.provenance)."""
    from adviser.provenance import check_provenance as _check

    return _check(request, settings, log=log)
