"""What the shipped advisory snapshot costs an analysis: opening it, reading a package's advisories
the first time, and the same work for a later analysis in the same process.

    python benchmarks/advisory_lookup.py [PACKAGE ...]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from packaging.version import Version  # noqa: E402

from adviser.advisories import load_advisories  # noqa: E402

PACKAGES = ["flask", "werkzeug", "jinja2", "requests", "urllib3", "django", "numpy", "pillow", "cryptography",
            "six", "pyyaml", "setuptools", "certifi", "idna", "click", "markupsafe", "itsdangerous", "lxml",
            "sqlalchemy", "tornado"]


def one_analysis(names: list[str]) -> tuple[float, float]:
    """(ms to get the database, ms to look every package up at one version)."""
    started = time.perf_counter()
    database = load_advisories(None, None)
    opened = time.perf_counter()
    for name in names:
        database.lookup(name, Version("1.0"))
    return 1000 * (opened - started), 1000 * (time.perf_counter() - opened)


def main() -> int:
    names = sys.argv[1:] or PACKAGES
    Version("1.0")  # packaging's import is the resolver's cost, not the snapshot's
    first = one_analysis(names)
    later = [one_analysis(names) for _ in range(20)]
    best = min(later, key=sum)
    print(f"{len(names)} packages; first analysis of the process: open {first[0]:.2f} ms, lookups {first[1]:.2f} ms; "
          f"a later analysis: open {best[0]:.3f} ms, lookups {best[1]:.3f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
