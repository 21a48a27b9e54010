"""Build the advisory bundle shipped in adviser/data/ from a directory or archive of OSV documents.

    python tools/build_advisory_bundle.py ../shared/data/pypa-advisory-db [--date YYYY-MM-DD]

The source's LICENSE and NOTICE are copied next to the bundle (the PyPA database is CC-BY-4.0:
its attribution travels with every copy). Without --date the snapshot's date is the newest
``modified`` among its documents.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adviser.advisories import parse_snapshot  # noqa: E402
from adviser.advisory_bundle import SHIPPED, build_bundle  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="directory (or .zip/.tar.gz) of OSV documents")
    parser.add_argument("--out", type=Path, default=SHIPPED)
    parser.add_argument("--date", help="the snapshot's date, YYYY-MM-DD")
    parser.add_argument("--name", default="PyPA advisory database", help="the source named in reports")
    args = parser.parse_args()
    documents = args.source / "vulns" if (args.source / "vulns").is_dir() else args.source
    records, newest = parse_snapshot(documents)
    index = build_bundle(records, newest, args.out, source=args.name, date=args.date, license_name="CC-BY-4.0")
    stem = args.out.name.removesuffix(".zip")
    for extra in ("LICENSE", "NOTICE"):
        if (args.source / extra).is_file():
            shutil.copyfile(args.source / extra, args.out.with_name(f"{stem}.{extra}"))
    print(f"{args.out}: {index['advisories']} advisories for {index['packages']} packages, "
          f"snapshot of {index['date']}, {args.out.stat().st_size // 1024} KiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
