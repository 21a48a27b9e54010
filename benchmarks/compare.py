"""Benchmark the adviser against `uv pip compile --generate-hashes` on the shared inputs.

Both tools run as whole processes on the same input, in the same run, cold (empty caches) and warm
(caches filled, output removed). The script prints wall seconds, the ratio adviser/uv, peak memory
(max RSS of the process) and whether the two locks pin the same versions.

    python benchmarks/compare.py [--inputs ../shared/bench/inputs] [--warm-runs 3] [--only a-small]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_INPUTS = HERE.parent.parent / "shared" / "bench" / "inputs"
# The same target for both tools: CPython 3.11 at a stated patch level on x86_64 Linux with glibc
# 2.28 (the adviser derives glibc 2.28 from RHEL 8). uv alone would assume 3.11.0 for "3.11".
PYTHON_FULL_VERSION = "3.11.14"
UV_PLATFORM = "x86_64-manylinux_2_28"


@dataclass
class Run:
    seconds: float
    max_rss_mb: float
    returncode: int
    stderr: str
    timed_out: bool = False


def run_timed(
    cmd: list[str],
    env: dict[str, str] | None = None,
    *,
    timeout: float | None = None,
    cwd: Path | None = None,
) -> Run:
    """Run a command, measuring its wall time and its peak resident memory.

    With ``timeout``, the command and everything it started in its process group are killed when
    it runs longer; the run then has ``timed_out`` set and a non-zero return code.
    """
    with tempfile.TemporaryFile(mode="w+") as output:
        start = time.perf_counter()
        proc = subprocess.Popen(
            cmd, env=env, cwd=cwd, stdout=output, stderr=subprocess.STDOUT, text=True, start_new_session=True
        )
        expired = threading.Event()

        def kill() -> None:
            expired.set()
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, kill) if timeout else None
        if timer:
            timer.start()
        try:
            # os.wait4 gives the rusage of exactly this child (ru_maxrss in KiB on Linux).
            _, status, rusage = os.wait4(proc.pid, 0)
        finally:
            if timer:
                timer.cancel()
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        output.seek(0)
        tail = output.read()[-2000:]
    return Run(elapsed, rusage.ru_maxrss / 1024.0, proc.returncode, tail, expired.is_set())


def uv_command(
    uv: str,
    requirements_in: Path,
    out: Path,
    cache_dir: Path,
    *,
    python_version: str = PYTHON_FULL_VERSION,
    platform: str = UV_PLATFORM,
    index_url: str | None = None,
) -> list[str]:
    """`uv pip compile` for one target; ``index_url`` replaces uv's own default index."""
    return [
        uv,
        "pip",
        "compile",
        "--quiet",
        "--generate-hashes",
        # Resolve for the stated target; never fetch an interpreter of that exact patch level.
        "--no-python-downloads",
        "--python-version",
        python_version,
        "--python-platform",
        platform,
        "--cache-dir",
        str(cache_dir),
        "--no-config",
        *(["--default-index", index_url] if index_url else []),
        "-o",
        str(out),
        str(requirements_in),
    ]


def adviser_command(pipfile: Path, out: Path, cache_dir: Path) -> list[str]:
    return [
        sys.executable,
        str(HERE / "advise_once.py"),
        "--pipfile",
        str(pipfile),
        "--out",
        str(out),
        "--cache-dir",
        str(cache_dir),
        "--recommendation-type",
        "latest",
        "--python-version",
        PYTHON_FULL_VERSION,
    ]


def pins_from_requirements(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9._-]+)(\[[^\]]*\])?==([^\s;\\]+)", line)
        if match:
            pins[canonical(match.group(1))] = match.group(3)
    return pins


def pins_from_lock(path: Path) -> dict[str, str]:
    lock = json.loads(path.read_text())
    return {canonical(name): entry["version"].lstrip("=") for name, entry in lock.get("default", {}).items()}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def measure(name: str, cmd: list[str], out: Path, warm_runs: int, env) -> tuple[Run, list[Run]]:
    cold = run_timed(cmd, env)
    if cold.returncode != 0:
        raise SystemExit(f"{name} failed (cold):\n{cold.stderr}")
    warm = []
    for _ in range(warm_runs):
        out.unlink(missing_ok=True)
        run = run_timed(cmd, env)
        if run.returncode != 0:
            raise SystemExit(f"{name} failed (warm):\n{run.stderr}")
        warm.append(run)
    return cold, warm


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--inputs", type=Path, default=DEFAULT_INPUTS)
    parser.add_argument("--warm-runs", type=int, default=3)
    parser.add_argument("--only", action="append", help="input name(s) to run (default: all)")
    args = parser.parse_args()

    uv = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    if not Path(uv).exists():
        raise SystemExit("uv is not installed: pip install -e '.[dev]'")
    inputs = sorted(p for p in args.inputs.iterdir() if p.is_dir())
    if args.only:
        inputs = [p for p in inputs if p.name in args.only]

    env = dict(os.environ)
    rows = []
    with tempfile.TemporaryDirectory(prefix="thamos-bench-") as tmp:
        for project in inputs:
            work = Path(tmp) / project.name
            work.mkdir()
            uv_out, adv_out = work / "requirements.txt", work / "Pipfile.lock"
            uv_cache, adv_cache = work / "uv-cache", work / "adviser-cache"
            uv_cold, uv_warm = measure(
                "uv",
                uv_command(uv, project / "requirements.in", uv_out, uv_cache),
                uv_out,
                args.warm_runs,
                env,
            )
            adv_cold, adv_warm = measure(
                "adviser",
                adviser_command(project / "Pipfile", adv_out, adv_cache),
                adv_out,
                args.warm_runs,
                env,
            )
            uv_pins, adv_pins = pins_from_requirements(uv_out), pins_from_lock(adv_out)
            differ = sorted(
                f"{n}: uv {uv_pins.get(n, '-')} / adviser {adv_pins.get(n, '-')}"
                for n in set(uv_pins) | set(adv_pins)
                if uv_pins.get(n) != adv_pins.get(n)
            )
            uv_w = statistics.median(r.seconds for r in uv_warm)
            adv_w = statistics.median(r.seconds for r in adv_warm)
            rows.append(
                (
                    project.name,
                    len(adv_pins),
                    uv_cold.seconds,
                    adv_cold.seconds,
                    uv_w,
                    adv_w,
                    max(r.max_rss_mb for r in [adv_cold, *adv_warm]),
                    differ,
                )
            )

    print(
        f"{'input':<8} {'pkgs':>4} | {'uv cold':>8} {'adv cold':>8} {'ratio':>6} | "
        f"{'uv warm':>8} {'adv warm':>8} {'ratio':>6} | {'adv MB':>7} | pins"
    )
    for name, count, uvc, advc, uvw, advw, rss, differ in rows:
        verdict = "same" if not differ else f"{len(differ)} differ"
        print(
            f"{name:<8} {count:>4} | {uvc:8.2f} {advc:8.2f} {advc / uvc:6.2f} | "
            f"{uvw:8.2f} {advw:8.2f} {advw / uvw:6.2f} | {rss:7.0f} | {verdict}"
        )
        for line in differ:
            print(f"           {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
