"""Run the adviser once on a Pipfile, as a whole process, and write the lock it recommends.

This is the command the benchmark times: interpreter start, imports, cache, network, resolution
and lock writing all count, as they do for the peer tools it is compared with.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pipfile", type=Path, required=True)
    parser.add_argument("--cache-dir", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="where to write the Pipfile.lock")
    parser.add_argument("--recommendation-type", default="latest")
    parser.add_argument("--python-version", default="3.11")
    parser.add_argument("--platform", default="linux-x86_64")
    parser.add_argument("--os-name", default="rhel", help="fixes the glibc level (rhel 8: 2.28)")
    parser.add_argument("--os-version", default="8")
    args = parser.parse_args(argv)

    from adviser import AdviserSettings, advise

    request = {
        "application_stack": {
            "requirements": args.pipfile.read_text(encoding="utf-8"),
            "requirements_format": "pipenv",
        },
        "runtime_environment": {
            "python_version": args.python_version,
            "platform": args.platform,
            "operating_system": {"name": args.os_name, "version": args.os_version},
        },
        "recommendation_type": args.recommendation_type,
        "dev": False,
        "labels": {},
    }
    result = advise(request, AdviserSettings(cache_dir=args.cache_dir))
    if result.get("error"):
        print(f"adviser failed: {result.get('error_msg')}", file=sys.stderr)
        return 1
    lock = result["report"]["products"][0]["project"]["requirements_locked"]
    args.out.write_text(json.dumps(lock, indent=2, sort_keys=True), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
