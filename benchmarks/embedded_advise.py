"""Time `thamos advise` end to end through the embedded backend, against `uv pip compile`.

Everything a user waits for counts: the `thamos` process start, talking to the local server over
HTTP, the analysis in the server's worker, and writing the lock. The embedded server is started by
the first (cold) advise, as on a fresh machine; the warm runs reuse it with its caches filled. Each
warm run removes the lock first and the server keeps no cached results (THAMOS_RESULT_TTL=0), so
every run is a real resolution.

    python benchmarks/embedded_advise.py [--input ../shared/bench/inputs/a-small] [--warm-runs 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare import DEFAULT_INPUTS, run_timed, uv_command  # noqa: E402
from thamos_home import free_port, stop_embedded, thamos_env, tool  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--input", type=Path, default=DEFAULT_INPUTS / "a-small")
    parser.add_argument("--warm-runs", type=int, default=5)
    args = parser.parse_args()

    thamos, uv = tool("thamos"), tool("uv")
    with tempfile.TemporaryDirectory(prefix="thamos-e2e-bench-") as tmp:
        root = Path(tmp)
        project = root / "project"
        project.mkdir()
        shutil.copy(args.input / "Pipfile", project / "Pipfile")
        env = thamos_env(root, free_port())
        advise = [thamos, "advise", "--short", "--recommendation-type", "latest"]
        lock = project / "Pipfile.lock"
        original_pipfile = (project / "Pipfile").read_bytes()

        def run_advise():
            lock.unlink(missing_ok=True)
            (project / "Pipfile").write_bytes(original_pipfile)
            cwd = os.getcwd()
            os.chdir(project)
            try:
                run = run_timed(advise, env)
            finally:
                os.chdir(cwd)
            if run.returncode != 0 or not lock.exists():
                raise SystemExit(f"thamos advise failed:\n{run.stderr}")
            return run

        try:
            cold = run_advise()
            warm = [run_advise() for _ in range(args.warm_runs)]
        finally:
            stop_embedded(root)

        uv_out, uv_cache = root / "requirements.txt", root / "uv-cache"
        uv_cmd = uv_command(uv, args.input / "requirements.in", uv_out, uv_cache)
        uv_cold = run_timed(uv_cmd, env)
        uv_warm = [run_timed(uv_cmd, env) for _ in range(args.warm_runs)]
        if any(r.returncode for r in [uv_cold, *uv_warm]):
            raise SystemExit(f"uv failed:\n{uv_cold.stderr}")

    thamos_w = statistics.median(r.seconds for r in warm)
    uv_w = statistics.median(r.seconds for r in uv_warm)
    print(f"input: {args.input.name}")
    print(
        f"thamos advise (embedded): cold {cold.seconds:.2f} s (includes starting the server), "
        f"warm median {thamos_w:.2f} s over {len(warm)} runs"
    )
    print(f"uv pip compile:           cold {uv_cold.seconds:.2f} s, warm median {uv_w:.2f} s")
    print(f"warm ratio thamos/uv: {thamos_w / uv_w:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
